package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
)

// AppendAt stores events with the seqs a cluster log gave them, keeps the
// head at the log's seq across a duplicate and a reopen, and refuses a seq
// that does not move forward.
func TestAppendAtKeepsTheLogsSeqs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	s := mustOpen(t, path)
	now := time.Now()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a", "b", "a"} {
		e := ev(id, "/system", "x", "", now, nil)
		e.Seq = int64(10 + i*5)
		dup, err := tx.AppendAt(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if dup != (i == 2) {
			t.Fatalf("event %d: duplicate = %v", i, dup)
		}
	}
	back := ev("c", "/system", "x", "", now, nil)
	back.Seq = 20
	if _, err := tx.AppendAt(ctx, back); err == nil {
		t.Fatal("AppendAt took a seq that is not after the head")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if s.LastSeq() != 20 || s.Count() != 2 {
		t.Fatalf("last seq %d, count %d; want 20, 2", s.LastSeq(), s.Count())
	}
	s.Close()
	s = mustOpen(t, path)
	if s.LastSeq() != 20 {
		t.Fatalf("after reopening, last seq %d, want 20 (the duplicate's seq is the head)", s.LastSeq())
	}
}

// The outbox keeps events in order across a reopen, refuses an event_id it
// holds or the store holds, and forgets what was forwarded.
func TestOutbox(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	s := mustOpen(t, path)
	now := time.Now()
	appendAll(t, s, ev("stored", "/system", "x", "", now, nil))
	evs := []*event.Event{
		ev("o1", "/hook", "pre_tool", "s1", now, map[string]any{"n": 1.0}),
		ev("stored", "/system", "x", "", now, nil),
		ev("o2", "/hook", "post_tool", "s1", now, map[string]any{"n": 2.0}),
		ev("o1", "/hook", "pre_tool", "s1", now, nil),
	}
	res, err := s.OutboxAdd(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Queued || res[1].Queued || res[1].Seq != 1 || !res[2].Queued || res[3].Queued || res[3].Seq != 0 {
		t.Fatalf("results %+v", res)
	}
	s.Close()
	s = mustOpen(t, path)
	if n, _ := s.OutboxLen(ctx); n != 2 {
		t.Fatalf("outbox holds %d, want 2", n)
	}
	got, err := s.OutboxNext(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Ev.ID != "o1" || got[1].Ev.ID != "o2" || got[1].Ev.Data["n"] != 2.0 || got[0].Ev.SessionID != "s1" {
		t.Fatalf("outbox entries %+v", got)
	}
	if err := s.OutboxDelete(ctx, got[0].Pos); err != nil {
		t.Fatal(err)
	}
	rest, _ := s.OutboxNext(ctx, 0, 10)
	if len(rest) != 1 || rest[0].Ev.ID != "o2" {
		t.Fatalf("after deleting the first, %+v", rest)
	}
}
