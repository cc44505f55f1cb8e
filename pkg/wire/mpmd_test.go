package wire_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// These run against the real mpmd (bin/, or MPM_BIN_DIR).

// dial retries a failed handshake a few times: mpmd on a loaded machine can
// be slow, and these tests are about what happens once connected.
func dial(t *testing.T, url, ns string, o wire.DialOptions) *wire.Conn {
	t.Helper()
	o.ConnectTimeout, o.Retries = 5*time.Second, 2
	c, err := wire.Dial(context.Background(), url, ns, o)
	if err != nil {
		t.Fatalf("dial %s%s: %v", url, ns, err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestMpmdEmitAckDuplicate(t *testing.T) {
	d := mpmdtest.Start(t)
	u, h, err := wire.DiscoverHealth(context.Background(), wire.Options{DiscoveryFile: d.Discovery(), Port: 1})
	if err != nil || u != d.URL || h.PID != d.PID {
		t.Fatalf("DiscoverHealth = %q %+v %v; want %s pid %d", u, h, err, d.URL, d.PID)
	}
	c := dial(t, u, "/hook", wire.DialOptions{Producer: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data := map[string]any{"event_id": event.NewID(), "session_id": "w", "hook_event_name": "Stop"}
	a1, err := c.Emit(ctx, "stop", data)
	if err != nil || a1.Seq <= 0 || a1.EventID != data["event_id"] || a1.Duplicate {
		t.Fatalf("first ack %+v, %v", a1, err)
	}
	a2, err := c.Emit(ctx, "stop", data)
	if err != nil || !a2.Duplicate {
		t.Errorf("second ack %+v, %v; want a duplicate", a2, err)
	}
	_, err = c.Emit(ctx, "Bad Name!", map[string]any{"event_id": event.NewID()})
	var ae *wire.AckError
	if !errors.As(err, &ae) || ae.Transient() {
		t.Errorf("bad event name: %v, want a permanent AckError", err)
	}
	// Over mpmd's message limit (1 MiB): refused before sending, and the
	// connection stays usable.
	_, err = c.Emit(ctx, "stop", map[string]any{"event_id": event.NewID(), "x": strings.Repeat("a", 1100<<10)})
	if !errors.As(err, &ae) || ae.Transient() {
		t.Errorf("oversize event: %v, want a permanent AckError", err)
	}
	if _, err := c.Emit(ctx, "stop", map[string]any{"event_id": event.NewID()}); err != nil {
		t.Errorf("emit after the oversize refusal: %v", err)
	}
	// mpmd goes away while a connection is open: the next emit fails
	// as a lost connection, not as a refusal.
	d.Stop(t)
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the connection outlived mpmd")
	}
	if _, err := c.Emit(ctx, "stop", map[string]any{"event_id": event.NewID()}); err == nil || errors.As(err, &ae) {
		t.Errorf("emit after mpmd stopped: %v", err)
	}
	if _, err := wire.Dial(ctx, u, "/hook", wire.DialOptions{}); !errors.Is(err, wire.ErrNoDaemon) {
		t.Errorf("dial with mpmd down: %v, want ErrNoDaemon", err)
	}
}

func TestMpmdReplayAndSessionFilter(t *testing.T) {
	d := mpmdtest.Start(t)
	for _, s := range []string{"a", "b", "a"} {
		d.Emit(t, "/hook", "stop", map[string]any{"session_id": s, "event_id": event.NewID()})
	}
	var mu sync.Mutex
	var got []int64
	var sessions []string
	arrived := make(chan struct{}, 100)
	since := int64(0)
	dial(t, d.URL, "/hook", wire.DialOptions{SinceSeq: &since, SessionID: "a", OnEvent: func(name string, data map[string]any) {
		seq, ok := wire.Int64(data["seq"])
		if !ok {
			t.Errorf("event %s without an integer seq: %v", name, data["seq"])
		}
		mu.Lock()
		got = append(got, seq)
		sessions = append(sessions, data["session_id"].(string))
		mu.Unlock()
		arrived <- struct{}{}
	}})
	wait := func(n int) {
		t.Helper()
		for range n {
			select {
			case <-arrived:
			case <-time.After(30 * time.Second):
				t.Fatalf("events so far %v", got)
			}
		}
	}
	wait(2) // replayed
	p := dial(t, d.URL, "/hook", wire.DialOptions{Producer: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []string{"b", "a"} {
		if _, err := p.Emit(ctx, "stop", map[string]any{"session_id": s, "event_id": event.NewID()}); err != nil {
			t.Fatal(err)
		}
	}
	wait(1) // live
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] >= got[1] || got[1] >= got[2] {
		t.Errorf("seqs %v, want three increasing", got)
	}
	for _, s := range sessions {
		if s != "a" {
			t.Errorf("sessions %v, want only a", sessions)
			break
		}
	}
}

func TestMpmdToken(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithToken("s3cret"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for tok, code := range map[string]string{"": "token_required", "wrong": "invalid_token"} {
		_, err := wire.Dial(ctx, d.URL, "/system", wire.DialOptions{Token: tok, ConnectTimeout: 5 * time.Second, Retries: 2})
		var ce *wire.ConnectError
		if !errors.As(err, &ce) || ce.Code != code || ce.Msg == "" {
			t.Errorf("token %q: %v, want a ConnectError %s", tok, err, code)
		}
	}
	dial(t, d.URL, "/system", wire.DialOptions{Token: "s3cret", Producer: true})
	if _, err := wire.CheckHealth(ctx, d.URL, wire.Options{Token: "s3cret"}); err != nil {
		t.Errorf("CheckHealth: %v", err)
	}
}
