package server_test

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/server"
	"github.com/mpm-dev/mpm/pkg/store"
)

// memLog is a cluster log in memory, shared by several servers: what
// pkg/cluster does on Redis (de-dup by event_id, one seq, one order),
// without Redis, so the pipeline's cluster mode runs under the race
// detector.
type memLog struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every append
	evs     []*event.Event
	ids     map[string]int64
}

func newMemLog() *memLog { return &memLog{changed: make(chan struct{}), ids: map[string]int64{}} }

// node is one server's handle on the shared log.
type node struct{ l *memLog }

func (n node) Append(ev *event.Event, done func(int64, bool, bool, error)) {
	l := n.l
	l.mu.Lock()
	if seq, ok := l.ids[ev.ID]; ok {
		l.mu.Unlock()
		done(seq, true, false, nil)
		return
	}
	c := *ev
	c.Data = map[string]any{}
	for k, v := range ev.Data {
		c.Data[k] = v
	}
	c.Seq = int64(len(l.evs) + 1)
	l.evs = append(l.evs, &c)
	l.ids[ev.ID] = c.Seq
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	done(c.Seq, false, false, nil)
}

func (n node) Run(ctx context.Context, after int64, apply func(context.Context, []*event.Event) error) error {
	for {
		n.l.mu.Lock()
		var batch []*event.Event
		for _, ev := range n.l.evs[after:] {
			c := *ev
			batch = append(batch, &c)
		}
		wait := n.l.changed
		n.l.mu.Unlock()
		if len(batch) > 0 {
			if err := apply(ctx, batch); err != nil {
				return err
			}
			after = batch[len(batch)-1].Seq
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
		}
	}
}

func (n node) Health() map[string]any { return map[string]any{"node_id": "mem"} }

func startNode(t *testing.T, l *memLog) (*server.Server, *store.Store) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Heartbeat: time.Hour, Log: node{l}}, st, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		st.Close()
	})
	return srv, st
}

// Two nodes on one log: a recorded session's hooks ingested at the first
// are stored by both under the log's seqs, with the events the session
// model derives stored once although both nodes derive them, and both
// session models agree.
func TestClusterModeTwoNodesOneHistory(t *testing.T) {
	l := newMemLog()
	a, sta := startNode(t, l)
	b, stb := startNode(t, l)
	inputs := hookInputs(t)
	ingestHooks(t, a, inputs)
	// a repeat at the other node is a duplicate with the first one's seq
	l.mu.Lock()
	first := l.evs[0]
	l.mu.Unlock()
	res, err := b.Ingest(context.Background(), &event.Event{Namespace: first.Namespace, Name: first.Name, Data: map[string]any{"event_id": first.ID}})
	if err != nil || !res.Duplicate || res.Seq != first.Seq {
		t.Fatalf("a repeated event_id at the other node: %+v, %v", res, err)
	}
	settled := func() bool {
		l.mu.Lock()
		n := int64(len(l.evs))
		l.mu.Unlock()
		return sta.LastSeq() == n && stb.LastSeq() == n
	}
	eventually(t, 10*time.Second, "both nodes to store the whole log", settled)
	time.Sleep(200 * time.Millisecond) // derivations still on their way
	eventually(t, 10*time.Second, "both nodes to store the whole log", settled)

	all := func(st *store.Store) []*event.Event {
		evs, err := st.Query(context.Background(), store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	ea, eb := all(sta), all(stb)
	if len(ea) != len(eb) {
		t.Fatalf("node a stores %d events, node b %d", len(ea), len(eb))
	}
	derived := 0
	for i := range ea {
		if ea[i].Seq != int64(i+1) || ea[i].Seq != eb[i].Seq || ea[i].ID != eb[i].ID {
			t.Fatalf("event %d: a has %d %s, b has %d %s", i, ea[i].Seq, ea[i].ID, eb[i].Seq, eb[i].ID)
		}
		if ea[i].Namespace != "/hook" && ea[i].Namespace != "/log" {
			derived++
		}
	}
	if derived == 0 {
		t.Fatal("no derived event in the log")
	}
	if got := storedCount(t, sta, store.Filter{Namespace: "/hook"}); got != len(inputs) {
		t.Fatalf("%d hook events stored, want %d", got, len(inputs))
	}
	sa, ok1 := a.Sessions().Get(recordedSession)
	sb, ok2 := b.Sessions().Get(recordedSession)
	if !ok1 || !ok2 || sa.Status != sb.Status || len(sa.Agents) != len(sb.Agents) || len(sa.Agents) == 0 {
		t.Fatalf("the session models differ: %v %v", sa, sb)
	}
}
