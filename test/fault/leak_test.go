package fault_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// soak reports whether the long versions were asked for (make soak).
func soak() bool { return os.Getenv("MPM_SOAK") != "" }

// Tolerances for "back to baseline": a leak of one goroutine per connection
// or per event shows up as thousands, and a leaked buffer per connection or
// event as tens of megabytes; the slack covers the runtime's own
// housekeeping and garbage the GC has not collected yet.
const (
	goroutineSlack = 10
	heapSlack      = 32 << 20
)

type usage struct{ goroutines, heap, clients float64 }

func usageOf(tb testing.TB, d *mpmdtest.Daemon) usage {
	m := metrics(tb, d)
	return usage{m["go_goroutines"], m["go_memstats_heap_alloc_bytes"], m["mpmd_clients"]}
}

// settle waits until mpmd's goroutine count is the same for five readings in
// a row (no connection still winding down) and returns the usage then.
func settle(tb testing.TB, d *mpmdtest.Daemon) usage {
	tb.Helper()
	var last usage
	same := 0
	deadline := time.Now().Add(30 * time.Second)
	for same < 5 && time.Now().Before(deadline) {
		u := usageOf(tb, d)
		if u.goroutines == last.goroutines {
			same++
		} else {
			same = 0
		}
		last = u
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// backToBaseline waits (bounded) for goroutines and heap to come back near
// base, and fails with the numbers if they do not; then it checks that the
// client count is back too (reported separately: a wrong count is a
// bookkeeping bug, not a leak).
func backToBaseline(tb testing.TB, d *mpmdtest.Daemon, base usage, what string) usage {
	tb.Helper()
	var u usage
	deadline := time.Now().Add(45 * time.Second)
	for {
		u = usageOf(tb, d)
		if u.goroutines <= base.goroutines+goroutineSlack && u.heap <= base.heap+heapSlack {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not back to baseline after 45s: goroutines %v (baseline %v), heap %.1f MiB (baseline %.1f)",
				what, u.goroutines, base.goroutines, u.heap/(1<<20), base.heap/(1<<20))
		}
		// Small requests keep allocating, so the GC keeps running and the
		// heap reading reflects live memory rather than old garbage.
		d.Health(tb)
		time.Sleep(200 * time.Millisecond)
	}
	tb.Logf("%s: goroutines %v → %v, heap %.1f → %.1f MiB",
		what, base.goroutines, u.goroutines, base.heap/(1<<20), u.heap/(1<<20))
	checkClients(tb, d, base.clients, what)
	return u
}

// checkClients waits up to 5 s for mpmd_clients (and /health's clients) to
// equal want.
func checkClients(tb testing.TB, d *mpmdtest.Daemon, want float64, what string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := usageOf(tb, d).clients
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Errorf("%s: mpmd_clients = %v with no client connected, want %v (the connect/disconnect count drifted)", what, got, want)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Every way a client can leave — dropping the TCP connection, a Socket.IO
// namespace disconnect, an Engine.IO close packet, both — brings the client
// count back to zero, and so leaves no socket behind in a namespace. Two
// library races make this hard: "disconnect" can fire twice for one socket,
// or before mpmd listens for it (which made a counter drift); and a transport
// that closes between the library adding a socket to its namespace and to
// its client never closes that socket, which then stays in the namespace and
// its rooms for good (mpmd_clients stuck above zero; it shows on a loaded
// machine, e.g. under -race, a few times in a few thousand connects).
func TestNoLeakClientCountExact(t *testing.T) {
	d := mpmdtest.Start(t)
	for _, mode := range []string{"drop", "namespace disconnect", "engine close", "namespace disconnect and engine close"} {
		for i := 0; i < 150; i++ {
			w := mpmdtest.MustWS(t, d)
			if msg, err := w.Connect("/hook", map[string]any{}); err != nil || msg != "" {
				t.Fatal(msg, err)
			}
			switch mode {
			case "namespace disconnect":
				_ = w.Send("41/hook,")
			case "engine close":
				_ = w.Send("1")
			case "namespace disconnect and engine close":
				_ = w.Send("41/hook,")
				_ = w.Send("1")
			}
			w.C.Close()
		}
		checkClients(t, d, 0, "150 clients that left by "+mode)
	}
}

// 10,000 connect/disconnect cycles: raw Engine.IO websocket handshakes, every
// fifth also a Socket.IO namespace connect (some with replay, some producers,
// some refused), closed abruptly or politely. Afterwards mpmd has no client,
// and its goroutines and heap are back at their baseline.
func TestNoLeakConnectChurn(t *testing.T) {
	d := mpmdtest.Start(t)
	for i := 0; i < 50; i++ { // something to replay
		d.Emit(t, "hook", "seed", map[string]any{"i": i, "session_id": "fault-leak"})
	}
	for i := 0; i < 20; i++ { // warm up: the first connections allocate pools
		w := mpmdtest.MustWS(t, d)
		_, _ = w.Connect("/hook", map[string]any{})
		w.C.Close()
	}
	base := settle(t, d)

	const cycles = 10000
	const workers = 4
	var done, nsConnects, refused atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(90 * time.Second)
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < cycles; i += workers {
				if time.Now().After(deadline) {
					errs <- fmt.Errorf("worker %d: out of time at cycle %d", w, i)
					return
				}
				ws, _, err := mpmdtest.DialWS(t, d, "", nil)
				if err != nil {
					errs <- fmt.Errorf("cycle %d: %v", i, err)
					return
				}
				if i%5 == 0 {
					ns := event.Namespaces[(i/5)%len(event.Namespaces)]
					auth := map[string]any{}
					switch (i / 5) % 4 {
					case 1:
						auth["since_seq"] = 0
					case 2:
						auth["producer"] = true
					case 3:
						ns = "/nope"
					}
					msg, err := ws.Connect(ns, auth)
					switch {
					case err != nil:
						errs <- fmt.Errorf("cycle %d connect %s: %v", i, ns, err)
						return
					case ns == "/nope" && strings.Contains(msg, "Invalid namespace"):
						refused.Add(1)
					case msg != "":
						errs <- fmt.Errorf("cycle %d connect %s: %s", i, ns, msg)
						return
					default:
						nsConnects.Add(1)
					}
					if i%2 == 0 {
						_ = ws.Disconnect(ns) // polite namespace disconnect
						_ = ws.Send("1")      // and Engine.IO close
					}
				}
				ws.C.Close()
				done.Add(1)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d connect/disconnect cycles (%d namespace connects, %d refused) in %s",
		done.Load(), nsConnects.Load(), refused.Load(), time.Since(start).Round(time.Millisecond))
	if done.Load() != cycles {
		t.Fatalf("%d cycles done, want %d", done.Load(), cycles)
	}
	backToBaseline(t, d, base, "after 10,000 connection cycles")
	if h := d.Health(t); h["status"] != "healthy" {
		t.Errorf("health: %v", h)
	}
}

// A flood of events in through pipelined Socket.IO producers (acks counted)
// and out to two reading consumers: every event is acked and delivered to
// both, and when it is over mpmd's goroutines and heap are back at their
// baseline. `make test` runs as many events as fit in about 40 s (at most
// 200,000); `make soak` (MPM_SOAK=1) runs 1,000,000.
func TestNoLeakEventFlood(t *testing.T) {
	d := mpmdtest.Start(t)
	total, budget := 200000, 40*time.Second
	if soak() {
		total, budget = 1000000, 30*time.Minute
	}
	if v, err := strconv.Atoi(os.Getenv("MPM_FLOOD_EVENTS")); err == nil && v > 0 {
		total = v
	}
	for i := 0; i < 20; i++ {
		w := mpmdtest.MustWS(t, d)
		_, _ = w.Connect("/hook", map[string]any{})
		w.C.Close()
	}
	base := settle(t, d)

	// Two consumers that read everything.
	type consumer struct {
		ws  *mpmdtest.WS
		got atomic.Int64
		err atomic.Value
	}
	var consumers []*consumer
	for i := 0; i < 2; i++ {
		c := &consumer{ws: mpmdtest.MustWS(t, d)}
		if msg, err := c.ws.Connect("/hook", map[string]any{}); err != nil || msg != "" {
			t.Fatalf("consumer: %q %v", msg, err)
		}
		go func() {
			for {
				msg, err := c.ws.Read(time.Hour)
				if err != nil {
					c.err.Store(err)
					return
				}
				if strings.HasPrefix(msg, `42/hook,["flood"`) {
					c.got.Add(1)
				}
			}
		}()
		consumers = append(consumers, c)
	}

	// Two producers, each with up to 256 emits awaiting their ack, and both
	// at most 2,048 events ahead of the slower consumer: a consumer further
	// behind than --max-backlog (4,096) is dropped by design
	// (TestSlowClientIsDroppedOthersUnaffected), and this test is about
	// leaks, not about this machine's share of CPU for the test's own reader.
	const window = 256
	const ahead = 2048
	minGot := func() int64 {
		m := consumers[0].got.Load()
		if g := consumers[1].got.Load(); g < m {
			m = g
		}
		return m
	}
	var sent, ackedN atomic.Int64
	stopAt := time.Now().Add(budget)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for p := 0; p < 2; p++ {
		ws := mpmdtest.MustWS(t, d)
		if msg, err := ws.Connect("/hook", map[string]any{"producer": true}); err != nil || msg != "" {
			t.Fatalf("producer: %q %v", msg, err)
		}
		slots := make(chan struct{}, window)
		ackDone := make(chan struct{})
		go func() { // read acks
			defer close(ackDone)
			for {
				msg, err := ws.Read(30 * time.Second)
				if err != nil {
					return
				}
				if strings.HasPrefix(msg, "43/hook,") {
					if strings.Contains(msg, `"error"`) {
						errs <- fmt.Errorf("error ack: %s", msg)
						return
					}
					ackedN.Add(1)
					<-slots
				}
			}
		}()
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			pad := strings.Repeat("x", 200)
			for i := 0; ; i++ {
				if time.Now().After(stopAt) {
					break
				}
				n := sent.Add(1)
				if n > int64(total) {
					sent.Add(-1)
					break
				}
				for n-minGot() > ahead && time.Now().Before(stopAt.Add(30*time.Second)) {
					time.Sleep(time.Millisecond)
				}
				select {
				case slots <- struct{}{}:
				case <-ackDone: // the ack reader stopped: an error ack or a closed connection
					errs <- fmt.Errorf("producer %d: acks stopped after %d events", p, i)
					return
				}
				pkt := `42/hook,` + strconv.Itoa(i) + `["flood",{"event_id":"fault-flood-` + strconv.Itoa(p) + `-` + strconv.Itoa(i) +
					`","session_id":"fault-flood","i":` + strconv.Itoa(i) + `,"pad":"` + pad + `"}]`
				if err := ws.Send(pkt); err != nil {
					errs <- err
					return
				}
			}
			for len(slots) > 0 { // every ack in
				select {
				case <-ackDone:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			ws.C.Close()
		}(p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := sent.Load()
	if ackedN.Load() != n {
		t.Fatalf("%d events sent, %d acked", n, ackedN.Load())
	}
	for i, c := range consumers {
		eventually(t, 60*time.Second, fmt.Sprintf("consumer %d to receive all %d events", i, n), func() bool {
			if err, _ := c.err.Load().(error); err != nil {
				t.Fatalf("consumer %d: %v after %d events", i, err, c.got.Load())
			}
			return c.got.Load() >= n
		})
		if got := c.got.Load(); got != n {
			t.Errorf("consumer %d received %d events, want %d", i, got, n)
		}
		c.ws.C.Close()
	}
	t.Logf("%d events acked and delivered to 2 consumers", n)
	if !soak() && n < 20000 {
		t.Errorf("only %d events in %s: too few to say anything about leaks", n, budget)
	}
	if got := stored(t, d); got < n {
		t.Errorf("%d events stored, want at least %d", got, n)
	}
	backToBaseline(t, d, base, fmt.Sprintf("after %d events", n))
}
