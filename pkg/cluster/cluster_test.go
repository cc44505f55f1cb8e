package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
	"github.com/redis/go-redis/v9"
)

// testRedis starts a redis-server of the test's own on a free loopback port.
func testRedis(t testing.TB) (url string, start func(), stop func()) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed (make deps-redis)")
		}
		t.Skip("redis-server is not installed (make deps-redis)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	var cmd *exec.Cmd
	var gone chan struct{}
	start = func() {
		cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "yes", "--daemonize", "no", "--logfile", "")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		gone = make(chan struct{})
		go func(c *exec.Cmd, g chan struct{}) { _ = c.Wait(); close(g) }(cmd, gone)
		for i := 0; ; i++ {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				_, _ = c.Write([]byte("PING\r\n"))
				line, _ := bufio.NewReader(c).ReadString('\n')
				c.Close()
				if strings.HasPrefix(line, "+PONG") {
					return
				}
			}
			if i > 500 {
				t.Fatal("redis-server did not start")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	stop = func() {
		if cmd != nil {
			_ = cmd.Process.Kill()
			<-gone
			cmd = nil
		}
	}
	start()
	t.Cleanup(stop)
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port), start, stop
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

type answer struct {
	seq          int64
	dup, pending bool
	err          error
}

func appendWait(t *testing.T, l *Log, ev *event.Event) answer {
	t.Helper()
	c := make(chan answer, 1)
	l.Append(ev, func(seq int64, dup, pending bool, err error) { c <- answer{seq, dup, pending, err} })
	select {
	case a := <-c:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no answer from Append")
		return answer{}
	}
}

func newEvent(id string) *event.Event {
	return &event.Event{ID: id, Namespace: "/memory", Name: "created", Time: time.UnixMilli(1700000000123).UTC(),
		SessionID: "s1", Data: map[string]any{"n": 1.5, "s": "x"}}
}

// consume runs l's consumer and collects what it applies.
type consumer struct {
	mu  sync.Mutex
	evs []*event.Event
}

func (c *consumer) apply(_ context.Context, evs []*event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, evs...)
	return nil
}

func (c *consumer) got() []*event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*event.Event(nil), c.evs...)
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Append gives rising seqs and drops a repeated event_id with the first
// one's seq; the consumer reads back the same events in order; an entry
// the consumer cannot read is skipped, not fatal.
func TestAppendAndConsume(t *testing.T) {
	url, _, _ := testRedis(t)
	l, err := Open(context.Background(), Config{URL: url, NodeID: "n1"}, openStore(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a1 := appendWait(t, l, newEvent("e1"))
	a2 := appendWait(t, l, newEvent("e2"))
	a3 := appendWait(t, l, newEvent("e1"))
	if a1 != (answer{seq: 1}) || a2 != (answer{seq: 2}) || a3 != (answer{seq: 1, dup: true}) {
		t.Fatalf("answers %+v %+v %+v", a1, a2, a3)
	}
	// a hostile entry between them
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")})
	defer rdb.Close()
	if err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: DefaultPrefix + "log", ID: "3-0", Values: map[string]any{"junk": "1"}}).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Set(context.Background(), DefaultPrefix+"seq", 3, 0)
	a4 := appendWait(t, l, newEvent("e4"))
	if a4.seq != 4 {
		t.Fatalf("after the junk entry, seq %d", a4.seq)
	}
	var c consumer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, 0, c.apply) }()
	waitFor(t, "three events consumed", func() bool { return len(c.got()) == 3 })
	got := c.got()
	want := newEvent("e1")
	if got[0].Seq != 1 || got[1].Seq != 2 || got[2].Seq != 4 || got[0].ID != "e1" || got[0].SessionID != "s1" ||
		!got[0].Time.Equal(want.Time) || got[0].Data["n"] != 1.5 || got[0].Namespace != "/memory" || got[0].Name != "created" {
		t.Fatalf("consumed %+v %+v %+v", got[0], got[1], got[2])
	}
	if s := l.Status(); s.AppliedSeq != 4 || s.Lag != 0 || !s.RedisReachable || s.NodeID != "n1" {
		t.Fatalf("status %+v", s)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v", err)
	}
}

// If Redis lost its counter (no AOF) the floor keeps seqs above what the
// node has applied; if the stream is ahead of the counter, an event goes
// after the stream's last entry.
func TestSeqNeverGoesBack(t *testing.T) {
	url, _, _ := testRedis(t)
	l, err := Open(context.Background(), Config{URL: url, NodeID: "n1"}, openStore(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 3; i++ {
		appendWait(t, l, newEvent(fmt.Sprint("a", i)))
	}
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")})
	defer rdb.Close()
	rdb.Del(context.Background(), DefaultPrefix+"seq") // the counter is gone, the stream is not
	if a := appendWait(t, l, newEvent("b")); a.seq != 4 || a.err != nil {
		t.Fatalf("after losing the counter: %+v, want seq 4", a)
	}
	rdb.FlushAll(context.Background()) // everything is gone
	l.applied.Store(10)                // this node has stored up to 10
	if a := appendWait(t, l, newEvent("c")); a.seq != 11 {
		t.Fatalf("after losing everything: %+v, want seq 11 (above the node's floor)", a)
	}
}

// With Redis away, events go to the outbox (pending) in order, a repeat is
// told apart, and when Redis comes back they are forwarded once, in order.
// An outbox survives a restart of the node.
func TestOutboxWhileRedisIsAway(t *testing.T) {
	url, start, stop := testRedis(t)
	stop()
	st := openStore(t)
	l, err := Open(context.Background(), Config{URL: url, NodeID: "n1"}, st)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if a := appendWait(t, l, newEvent(fmt.Sprint("o", i))); !a.pending || a.err != nil || a.seq != 0 {
			t.Fatalf("with Redis away: %+v, want pending", a)
		}
	}
	if a := appendWait(t, l, newEvent("o1")); !a.dup || !a.pending {
		t.Fatalf("a repeat in the outbox: %+v", a)
	}
	if s := l.Status(); s.Outbox != 5 || s.RedisReachable {
		t.Fatalf("status %+v", s)
	}
	l.Close() // the node stops; the outbox is in its store
	l, err = Open(context.Background(), Config{URL: url, NodeID: "n1"}, st)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if a := appendWait(t, l, newEvent("o5")); !a.pending {
		t.Fatalf("%+v", a)
	}
	start()
	var c consumer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = l.Run(ctx, 0, c.apply) }()
	waitFor(t, "the outbox forwarded", func() bool { return len(c.got()) == 6 && l.Status().Outbox == 0 })
	for i, ev := range c.got() {
		if ev.ID != fmt.Sprint("o", i) || ev.Seq != int64(i+1) {
			t.Fatalf("forwarded #%d: %s seq %d", i, ev.ID, ev.Seq)
		}
	}
	if a := appendWait(t, l, newEvent("o2")); !a.dup || a.seq != 3 {
		t.Fatalf("after forwarding, a repeat: %+v", a)
	}
	if a := appendWait(t, l, newEvent("live")); a.pending || a.seq != 7 {
		t.Fatalf("after forwarding, a new event: %+v", a)
	}
	if s := l.Status(); s.Forwarded != 6 || !s.RedisReachable {
		t.Fatalf("status %+v", s)
	}
}

// A store with a history of its own cannot join a cluster (its seqs would
// clash); a bad URL is a clear error.
func TestOpenRefuses(t *testing.T) {
	st := openStore(t)
	tx, _ := st.Begin(context.Background())
	if _, err := tx.Append(context.Background(), newEvent("local")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), Config{URL: "redis://127.0.0.1:1/0"}, st)
	if err == nil || !strings.Contains(err.Error(), "history of this node alone") {
		t.Fatalf("got %v", err)
	}
	_, err = Open(context.Background(), Config{URL: "http://x:y@host/"}, openStore(t))
	if err == nil || !strings.Contains(err.Error(), "redis://host:port/db") || strings.Contains(err.Error(), ":y@") {
		t.Fatalf("got %v", err)
	}
}
