package e2e_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/client"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// received is one event a test client got.
type received struct {
	Name string
	Data map[string]any
}

// sub is a Socket.IO client connected to one namespace that records every
// event it receives: over websocket pkg/client (the Go client library, with
// its connect races worked around), over long-polling pollClient.
type sub struct {
	t    testing.TB
	conn *client.Conn
	poll *pollClient
	mu   sync.Mutex
	evs  []received
	cond chan struct{} // signalled on every event
}

// add records one received event.
func (s *sub) add(name string, data map[string]any) {
	s.mu.Lock()
	s.evs = append(s.evs, received{name, data})
	s.mu.Unlock()
	select {
	case s.cond <- struct{}{}:
	default:
	}
}

// close disconnects the client.
func (s *sub) close() {
	if s.poll != nil {
		s.poll.close()
		return
	}
	s.conn.Close()
}

type dialOpts struct {
	auth      map[string]any // token, since_seq, session_id, producer
	polling   bool
	expectErr bool
}

// dial connects to ns and waits for the connection (or, with expectErr, for
// the refusal, whose message it returns).
func dial(tb testing.TB, d *mpmdtest.Daemon, ns string, o dialOpts) (*sub, string) {
	tb.Helper()
	if o.polling {
		return dialPolling(tb, d, ns, o)
	}
	s := &sub{t: tb, cond: make(chan struct{}, 1)}
	do := client.DialOptions{
		Token:          d.Token,
		ConnectTimeout: 4 * time.Second,
		Retries:        3,
		OnEvent:        s.add,
	}
	if tok, ok := o.auth["token"].(string); ok {
		do.Token = tok
	}
	if v, ok := o.auth["since_seq"]; ok {
		switch n := v.(type) {
		case int:
			i := int64(n)
			do.SinceSeq = &i
		case int64:
			do.SinceSeq = &n
		default:
			tb.Fatalf("since_seq %v: use an int (TestBadSinceSeq sends bad ones raw)", v)
		}
	}
	if sid, ok := o.auth["session_id"].(string); ok {
		do.SessionID = sid
	}
	if p, ok := o.auth["producer"].(bool); ok {
		do.Producer = p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conn *client.Conn
	var err error
	// The Go client library's connect races (see pkg/client) are retried
	// inside Dial; on a loaded CI machine even that can run out, so the
	// harness tries the whole Dial again before it gives up.
	for try := 0; try < 3; try++ {
		var ce *client.ConnectError
		if conn, err = client.Dial(ctx, d.URL, ns, do); err == nil || errors.As(err, &ce) || ctx.Err() != nil {
			break
		}
		tb.Logf("connect %s: %v; trying again", ns, err)
	}
	var ce *client.ConnectError
	switch {
	case o.expectErr && errors.As(err, &ce):
		return s, ce.Msg
	case o.expectErr && err == nil:
		conn.Close()
		tb.Fatalf("connect %s: connected, want a refusal", ns)
	case err != nil:
		tb.Fatalf("connect %s: %v", ns, err)
	}
	s.conn = conn
	tb.Cleanup(conn.Close)
	return s, ""
}

// events returns a copy of what was received so far.
func (s *sub) events() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.evs...)
}

// named returns the received events called name.
func (s *sub) named(name string) []received { return named(s.events(), name) }

// waitFor waits until pred holds for the events received, or fails.
func (s *sub) waitFor(what string, timeout time.Duration, pred func([]received) bool) []received {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		evs := s.events()
		if pred(evs) {
			return evs
		}
		select {
		case <-s.cond:
		case <-deadline:
			s.t.Fatalf("timed out waiting for %s; got %d events: %v", what, len(evs), names(evs))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitNamed waits for n events called name.
func (s *sub) waitNamed(name string, n int) []received {
	s.t.Helper()
	s.waitFor(name, 5*time.Second, func(evs []received) bool { return len(named(evs, name)) >= n })
	return s.named(name)
}

func names(evs []received) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Name
	}
	return out
}

// seqOf reads the seq field (numbers arrive as float64).
func seqOf(tb testing.TB, data map[string]any) int64 {
	tb.Helper()
	f, ok := data["seq"].(float64)
	if !ok {
		tb.Fatalf("event without a numeric seq: %v", data)
	}
	return int64(f)
}

// emitAck emits with an ack and returns the ack's first argument.
func (s *sub) emitAck(name string, data any) map[string]any {
	s.t.Helper()
	var args []any
	var err error
	if s.poll != nil {
		args, err = s.poll.request(name, data)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		args, err = s.conn.Request(ctx, name, data)
	}
	if err != nil {
		s.t.Errorf("emit %s: %v", name, err)
		return nil
	}
	if len(args) == 0 {
		return nil
	}
	m, _ := args[0].(map[string]any)
	return m
}
