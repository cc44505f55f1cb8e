package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/client"
	"github.com/mpm-dev/mpm/pkg/paths"
	server "github.com/zishang520/socket.io/servers/socket/v3"
)

// fakeMPMD is the smallest stand-in for mpmd's /health and /hook: it acks
// every event with a growing seq, refuses events named "refused", and
// requires a token when one is set.
type fakeMPMD struct {
	URL   string
	seq   atomic.Int64
	mu    sync.Mutex
	names []string
}

func startFake(tb testing.TB, token string) *fakeMPMD {
	tb.Helper()
	f := &fakeMPMD{}
	io := server.NewServer(nil, nil)
	hook := io.Of("/hook", nil)
	hook.Use(func(s *server.Socket, next func(*server.ExtendedError)) {
		if token != "" {
			auth := s.Handshake().Auth
			if got, _ := auth["token"].(string); got != token {
				next(server.NewExtendedError("invalid authentication token", nil))
				return
			}
		}
		next(nil)
	})
	hook.On("connection", func(args ...any) {
		s := args[0].(*server.Socket)
		s.OnAny(func(args ...any) {
			name, _ := args[0].(string)
			ack, ok := args[len(args)-1].(server.Ack)
			if !ok {
				return
			}
			if name == "refused" {
				ack([]any{map[string]any{"error": "refused on purpose"}}, nil)
				return
			}
			data, _ := args[1].(map[string]any)
			f.mu.Lock()
			f.names = append(f.names, name)
			f.mu.Unlock()
			ack([]any{map[string]any{"seq": f.seq.Add(1), "event_id": data["event_id"], "duplicate": false}}, nil)
		})
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"healthy","server":"claude-mpm-socketio","version":"test","pid":1,"port":1}`))
	})
	mux.Handle("/socket.io/", io.ServeHandler(nil))
	ts := httptest.NewServer(mux)
	tb.Cleanup(func() {
		io.Close(nil)
		ts.Close()
	})
	f.URL = ts.URL
	return f
}

func port(tb testing.TB, rawURL string) int {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}

func TestDiscoverFallbackPort(t *testing.T) {
	f := startFake(t, "")
	o := client.Options{Port: port(t, f.URL), DiscoveryFile: filepath.Join(t.TempDir(), "none.json")}
	u, err := client.Discover(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if u != f.URL {
		t.Errorf("Discover = %q, want %q", u, f.URL)
	}
}

func TestDiscoverDiscoveryFile(t *testing.T) {
	f := startFake(t, "")
	file := filepath.Join(t.TempDir(), "mpmd.json")
	// Our own pid is alive, which is all ReadDiscovery checks.
	if err := paths.WriteDiscovery(file, paths.Discovery{PID: pidSelf(), Host: "127.0.0.1", Port: port(t, f.URL)}); err != nil {
		t.Fatal(err)
	}
	o := client.Options{Port: 1, DiscoveryFile: file}
	u, h, err := client.DiscoverHealth(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if u != f.URL || h.Version != "test" {
		t.Errorf("DiscoverHealth = %q, %+v; want %q, version test", u, h, f.URL)
	}
	if got := client.Candidate(o); got != f.URL {
		t.Errorf("Candidate = %q, want %q", got, f.URL)
	}
}

func TestDiscoverNoDaemon(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler()) // something else on the port
	defer ts.Close()
	o := client.Options{Port: port(t, ts.URL), DiscoveryFile: filepath.Join(t.TempDir(), "none.json")}
	_, err := client.Discover(context.Background(), o)
	if !errors.Is(err, client.ErrNoDaemon) {
		t.Fatalf("Discover error = %v, want ErrNoDaemon", err)
	}
}

func TestDialEmitAck(t *testing.T) {
	f := startFake(t, "s3cret")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, f.URL, "/hook", client.DialOptions{Token: "s3cret", Producer: true, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		ack, err := c.Emit(ctx, "pre_tool", map[string]any{"event_id": "e" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ack, (client.Ack{Seq: int64(i + 1), EventID: "e" + strconv.Itoa(i)}); got != want {
			t.Errorf("ack = %+v, want %+v", got, want)
		}
	}
	_, err = c.Emit(ctx, "refused", map[string]any{})
	var ae *client.AckError
	if !errors.As(err, &ae) || ae.Msg != "refused on purpose" {
		t.Errorf("Emit refused = %v, want AckError", err)
	}
}

func TestDialBadToken(t *testing.T) {
	f := startFake(t, "s3cret")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, f.URL, "/hook", client.DialOptions{Token: "wrong", Retries: 3})
	var ce *client.ConnectError
	if !errors.As(err, &ce) || ce.Msg != "invalid authentication token" {
		t.Fatalf("Dial = %v, want ConnectError invalid authentication token", err)
	}
}

func TestDialRefused(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	u := ts.URL
	ts.Close() // nothing listens now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := client.Dial(ctx, u, "/hook", client.DialOptions{ConnectTimeout: 250 * time.Millisecond, Retries: 1})
	if err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Dial took %s to fail", d)
	}
}

// TestDialRepeatedly runs enough connects to hit the library's lost-open
// race (about one in a hundred) and checks that Dial's retry hides it.
// The library dials and starts the transport's reader before it listens for
// the transport's open event, and the server's open packet comes with the
// 101 response: about one dial in a thousand lost the open and hung until the
// timeout. Without retries, every dial must still connect.
func TestDialNeverLosesTheOpen(t *testing.T) {
	f := startFake(t, "")
	// Constant garbage collection stalls the dialing goroutine at its
	// allocations while the reader runs on: the race is lost far more
	// often than on a quiet machine.
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	stop := make(chan struct{})
	defer close(stop)
	for range 2 {
		go func() {
			var keep [][]byte
			for {
				select {
				case <-stop:
					return
				default:
				}
				keep = append(keep, make([]byte, 4096))
				if len(keep) > 256 {
					keep = keep[:0]
				}
			}
		}()
	}
	const dials, parallel = 1500, 8
	var failed atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := client.Dial(context.Background(), f.URL, "/hook", client.DialOptions{Retries: -1, ConnectTimeout: 3 * time.Second})
				if err != nil {
					if failed.Add(1) <= 3 {
						t.Errorf("dial %d: %v", i, err)
					}
					continue
				}
				c.Close()
			}
		}()
	}
	for i := range dials {
		next <- i
	}
	close(next)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d dials failed", n, dials)
	}
}

func TestAckErrorTransient(t *testing.T) {
	for _, tt := range []struct {
		e    client.AckError
		want bool
	}{
		{client.AckError{Msg: "event not stored: database or disk is full"}, true},
		{client.AckError{Msg: "whatever", Code: "store_failed"}, true},
		{client.AckError{Msg: `invalid event name: "a b" may only hold letters`}, false},
		{client.AckError{Msg: "event data must be one JSON object, got an array"}, false},
		{client.AckError{Msg: "event data must be one JSON object, got an array", Code: "invalid"}, false},
		{client.AckError{Msg: "mpmd is shutting down", Code: "shutting_down"}, true},
		{client.AckError{Msg: "mpmd is overloaded", Code: "overloaded"}, true},
	} {
		if got := tt.e.Transient(); got != tt.want {
			t.Errorf("%+v.Transient() = %v, want %v", tt.e, got, tt.want)
		}
	}
}
