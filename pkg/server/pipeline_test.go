package server

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

// pipelineServer is a server on a store file (returned, for a second
// connection of the test's own), stopped at the end.
func pipelineServer(t *testing.T) (*Server, *store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Heartbeat: time.Hour}, st, nil)
	t.Cleanup(func() {
		s.closing.Store(true)
		close(s.stopped)
		<-s.pipelineDone
		st.Close()
	})
	return s, st, path
}

// storedSeq is the seq of the stored event with id, read through the
// store's readers (so only what is committed), or 0.
func storedSeq(t *testing.T, st *store.Store, id string) int64 {
	t.Helper()
	var seq int64
	err := st.Each(context.Background(), store.Filter{}, func(e *event.Event) error {
		if e.ID == id {
			seq = e.Seq
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// idAt is the event_id of the committed event with seq, or "".
func idAt(t *testing.T, st *store.Store, seq int64) string {
	t.Helper()
	evs, err := st.Query(context.Background(), store.Filter{SinceSeq: seq - 1, UntilSeq: seq})
	if err != nil {
		t.Error(err)
		return ""
	}
	if len(evs) != 1 {
		return ""
	}
	return evs[0].ID
}

// lockStore takes SQLite's write lock on path from a connection of its own,
// so the pipeline's next batch waits in Begin while producers queue more;
// the returned func lets go.
func lockStore(t *testing.T, path string) func() {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return func() {
		_, _ = c.ExecContext(context.Background(), "ROLLBACK")
		c.Close()
		db.Close()
	}
}

func hookEvent(id string) *event.Event {
	return &event.Event{Namespace: "/hook", Name: "pre_tool", Data: map[string]any{"event_id": id, "tool_name": "Bash"}}
}

// An ack (callback or Ingest's return) comes only once its event is
// committed: at the moment of every ack, the event is visible to a reader,
// and while the store's write lock is held elsewhere no ack comes at all.
func TestAckOnlyAfterCommit(t *testing.T) {
	s, st, path := pipelineServer(t)
	unlock := lockStore(t, path)
	const n = 200
	type acked struct {
		id     string
		res    Result
		err    error
		stored int64 // seq a reader saw when the ack came
	}
	out := make(chan acked, n)
	for i := range n {
		id := fmt.Sprintf("ack-%d", i)
		s.ingestAsync(hookEvent(id), func(res Result, err error) {
			a := acked{id: id, res: res, err: err}
			if err == nil && idAt(t, st, res.Seq) == id {
				a.stored = res.Seq
			}
			out <- a
		})
	}
	select {
	case a := <-out:
		t.Fatalf("ack for %s while the store was locked: %+v", a.id, a)
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	seen := map[int64]bool{}
	for range n {
		a := <-out
		if a.err != nil {
			t.Fatalf("%s: %v", a.id, a.err)
		}
		if a.stored == 0 || a.stored != a.res.Seq {
			t.Fatalf("%s acked with seq %d, but a reader saw seq %d at the ack", a.id, a.res.Seq, a.stored)
		}
		if seen[a.res.Seq] {
			t.Fatalf("seq %d acked twice", a.res.Seq)
		}
		seen[a.res.Seq] = true
	}
}

// When a batch fails, every request in it is answered with an error and
// none of its events is stored; events acked as stored are stored. The
// batch is formed by holding the store's write lock while producers queue;
// one event in it is refused by a trigger, which fails its batch.
func TestFailedBatchFailsEveryAck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.event_id = 'poison'
		BEGIN SELECT RAISE(ABORT, 'poisoned event'); END`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := New(Config{Heartbeat: time.Hour}, st, nil)
	defer func() {
		s.closing.Store(true)
		close(s.stopped)
		<-s.pipelineDone
		st.Close()
	}()

	unlock := lockStore(t, path)
	type acked struct {
		id  string
		res Result
		err error
	}
	const n = 100
	out := make(chan acked, n+1)
	send := func(id string) {
		s.ingestAsync(hookEvent(id), func(res Result, err error) { out <- acked{id, res, err} })
	}
	send("first") // the batch that waits in Begin
	time.Sleep(100 * time.Millisecond)
	for i := range n / 2 {
		send(fmt.Sprintf("before-%d", i))
	}
	send("poison")
	for i := range n / 2 {
		send(fmt.Sprintf("after-%d", i))
	}
	time.Sleep(100 * time.Millisecond)
	unlock()
	failed := 0
	for range n + 2 {
		a := <-out
		seq := storedSeq(t, st, a.id)
		switch {
		case a.err != nil:
			failed++
			if errorCode(a.err) != CodeStoreFailed {
				t.Errorf("%s: error %v has code %s, want %s", a.id, a.err, errorCode(a.err), CodeStoreFailed)
			}
			if seq != 0 {
				t.Errorf("%s was answered with an error but is stored (seq %d)", a.id, seq)
			}
		case a.id == "poison":
			t.Errorf("the poisoned event was acked as stored: %+v", a.res)
		case seq == 0 || seq != a.res.Seq:
			t.Errorf("%s acked with seq %d, stored with %d", a.id, a.res.Seq, seq)
		}
	}
	if failed < 2 {
		t.Fatalf("%d requests failed: the poisoned event did not share its batch (the test needs it to)", failed)
	}
	// the store recovers: the next event is stored
	res, err := s.Ingest(context.Background(), hookEvent("later"))
	if err != nil || storedSeq(t, st, "later") != res.Seq {
		t.Fatalf("after the failed batch: %+v, %v", res, err)
	}
}

// Many producers at once, through both entries (a socket's ingestAsync and
// /emit's Ingest), some sending an event twice: every event is stored
// exactly once, the seqs are 1…n without a gap, and a resent event is
// acked with the seq it was stored with.
func TestConcurrentProducersNoLossNoDuplicate(t *testing.T) {
	s, st, _ := pipelineServer(t)
	const producers, each = 32, 150
	type acked struct {
		id  string
		res Result
	}
	out := make(chan acked, producers*each*2)
	var wg sync.WaitGroup
	errs := make(chan error, producers*each*2)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			for i := range each {
				id := fmt.Sprintf("p%d-%d", p, i)
				times := 1
				if i%10 == 0 {
					times = 2 // a retry of the same event
				}
				for range times {
					if p%2 == 0 {
						inner.Add(1)
						s.ingestAsync(hookEvent(id), func(res Result, err error) {
							defer inner.Done()
							if err != nil {
								errs <- err
								return
							}
							out <- acked{id, res}
						})
						continue
					}
					res, err := s.Ingest(context.Background(), hookEvent(id))
					if err != nil {
						errs <- err
						continue
					}
					out <- acked{id, res}
				}
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	close(out)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seqOf := map[string]int64{}
	for a := range out {
		if prev, ok := seqOf[a.id]; ok && prev != a.res.Seq {
			t.Fatalf("%s acked with seqs %d and %d", a.id, prev, a.res.Seq)
		}
		seqOf[a.id] = a.res.Seq
	}
	if len(seqOf) != producers*each {
		t.Fatalf("%d distinct events acked, want %d", len(seqOf), producers*each)
	}
	stored := map[string]int64{}
	var last int64
	err := st.Each(context.Background(), store.Filter{}, func(e *event.Event) error {
		if _, dup := stored[e.ID]; dup {
			return fmt.Errorf("%s stored twice", e.ID)
		}
		if e.Seq != last+1 {
			return fmt.Errorf("seq %d follows %d", e.Seq, last)
		}
		last = e.Seq
		stored[e.ID] = e.Seq
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != producers*each {
		t.Fatalf("%d events stored, want %d", len(stored), producers*each)
	}
	for id, seq := range seqOf {
		if stored[id] != seq {
			t.Fatalf("%s acked with seq %d, stored with %d", id, seq, stored[id])
		}
	}
}
