package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

func mustOpen(tb testing.TB, path string) *store.Store {
	tb.Helper()
	s, err := store.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func appendAll(tb testing.TB, s *store.Store, evs ...*event.Event) []bool {
	tb.Helper()
	ctx := context.Background()
	tx, err := s.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	dups := make([]bool, len(evs))
	for i, e := range evs {
		if dups[i], err = tx.Append(ctx, e); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return dups
}

func ev(id, ns, name, session string, ts time.Time, data map[string]any) *event.Event {
	if data == nil {
		data = map[string]any{}
	}
	return &event.Event{ID: id, Namespace: ns, Name: name, SessionID: session, Time: ts, Data: data}
}

func TestAppendAssignsSeqAndDropsDuplicates(t *testing.T) {
	s := mustOpen(t, store.Memory)
	now := time.Now()
	a, b, a2 := ev("a", "/hook", "x", "", now, nil), ev("b", "/hook", "x", "", now, nil), ev("a", "/hook", "x", "", now, nil)
	dups := appendAll(t, s, a, b, a2)
	if dups[0] || dups[1] || !dups[2] {
		t.Fatalf("duplicates = %v, want only the third", dups)
	}
	if a.Seq != 1 || b.Seq != 2 || a2.Seq != 1 {
		t.Errorf("seqs = %d %d %d, want 1 2 1", a.Seq, b.Seq, a2.Seq)
	}
	if got, want := s.Count(), int64(2); got != want {
		t.Errorf("Count = %d, want %d", got, want)
	}
	// a duplicate in a later batch, too
	if d := appendAll(t, s, ev("b", "/log", "y", "", now, nil)); !d[0] {
		t.Error("a repeated event_id in a later batch was stored again")
	}
}

func TestSeqSurvivesReopenAndReservations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, ev("a", "/hook", "x", "", time.Now(), nil))
	tx, _ := s.Begin(context.Background())
	r := tx.Reserve()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if r != 2 {
		t.Fatalf("reserved %d, want 2", r)
	}
	s.Close()

	s = mustOpen(t, path)
	if got := s.LastSeq(); got != 2 {
		t.Errorf("LastSeq after reopen = %d, want 2 (reserved seqs are never handed out again)", got)
	}
	e := ev("b", "/hook", "x", "", time.Now(), nil)
	appendAll(t, s, e)
	if e.Seq != 3 {
		t.Errorf("seq after reopen = %d, want 3", e.Seq)
	}
}

func TestRollbackHandsSeqsOutAgain(t *testing.T) {
	s := mustOpen(t, store.Memory)
	ctx := context.Background()
	tx, _ := s.Begin(ctx)
	if _, err := tx.Append(ctx, ev("a", "/hook", "x", "", time.Now(), nil)); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	e := ev("a", "/hook", "x", "", time.Now(), nil)
	if d := appendAll(t, s, e); d[0] || e.Seq != 1 {
		t.Errorf("after rollback: dup=%v seq=%d, want a fresh event with seq 1", d[0], e.Seq)
	}
}

func TestQueryFilters(t *testing.T) {
	s := mustOpen(t, store.Memory)
	t0 := time.Date(2025, 1, 31, 14, 0, 0, 0, time.UTC)
	appendAll(t, s,
		ev("1", "/hook", "user_prompt", "A", t0, map[string]any{"prompt": "find the 50% needle"}),
		ev("2", "/hook", "pre_tool", "A", t0.Add(time.Minute), map[string]any{"tool_name": "Bash"}),
		ev("3", "/todo", "updated", "B", t0.Add(2*time.Minute), nil),
		ev("4", "/hook", "pre_tool", "B", t0.Add(3*time.Minute), map[string]any{"tool_name": "Edit"}),
	)
	cases := []struct {
		f    store.Filter
		want string
	}{
		{store.Filter{}, "1234"},
		{store.Filter{Namespace: "/hook"}, "124"},
		{store.Filter{Event: "pre_tool"}, "24"},
		{store.Filter{SessionID: "B"}, "34"},
		{store.Filter{SinceSeq: 2}, "34"},
		{store.Filter{SinceSeq: 1, UntilSeq: 3}, "23"},
		{store.Filter{Since: t0.Add(time.Minute), Until: t0.Add(2 * time.Minute)}, "23"},
		{store.Filter{Q: "needle"}, "1"},
		{store.Filter{Q: "50%"}, "1"},       // % is matched literally
		{store.Filter{Q: "_"}, "124"},       // _ is matched literally: "updated" and {} have none
		{store.Filter{Q: "PRE_TOOL"}, "24"}, // case-insensitive, in the event name
		{store.Filter{Limit: 2}, "12"},
		{store.Filter{Limit: 2, Desc: true}, "43"},
	}
	for _, c := range cases {
		evs, err := s.Query(context.Background(), c.f)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, e := range evs {
			got += e.ID
		}
		if got != c.want {
			t.Errorf("Query(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestPrune(t *testing.T) {
	s := mustOpen(t, store.Memory)
	now := time.Now()
	var evs []*event.Event
	for i := 0; i < 10; i++ {
		evs = append(evs, ev(fmt.Sprint(i), "/log", "message", "", now.Add(time.Duration(i-10)*time.Hour), nil))
	}
	appendAll(t, s, evs...)
	n, err := s.Prune(context.Background(), 5*time.Hour+30*time.Minute, 0)
	if err != nil || n != 5 {
		t.Fatalf("Prune by age deleted %d (%v), want 5", n, err)
	}
	n, err = s.Prune(context.Background(), 0, 2)
	if err != nil || n != 3 {
		t.Fatalf("Prune by count deleted %d (%v), want 3", n, err)
	}
	left, _ := s.Query(context.Background(), store.Filter{})
	if len(left) != 2 || left[0].ID != "8" || left[1].ID != "9" || s.Count() != 2 {
		t.Errorf("after pruning: %d events (Count %d), first %v", len(left), s.Count(), left)
	}
	if s.LastSeq() != 10 {
		t.Errorf("LastSeq after pruning = %d, want 10", s.LastSeq())
	}
}

func TestFirstTime(t *testing.T) {
	s := mustOpen(t, store.Memory)
	t0 := time.Date(2025, 1, 31, 14, 0, 0, 0, time.UTC)
	appendAll(t, s, ev("1", "/session", "start", "A", t0, nil), ev("2", "/hook", "stop", "A", t0.Add(time.Hour), nil))
	if got, _ := s.FirstTime(context.Background(), "A", ""); !got.Equal(t0) {
		t.Errorf("FirstTime = %v, want %v", got, t0)
	}
	if got, _ := s.FirstTime(context.Background(), "nope", ""); !got.IsZero() {
		t.Errorf("FirstTime of an unknown session = %v", got)
	}
}

func BenchmarkAppendBatch(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "events.db"))
	ctx := context.Background()
	data := map[string]any{"tool_name": "Bash", "tool_input": map[string]any{"command": "go test ./..."}, "session_id": "s"}
	b.ReportAllocs()
	for i := 0; i < b.N; i += 256 {
		tx, err := s.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < 256 && i+j < b.N; j++ {
			if _, err := tx.Append(ctx, ev(fmt.Sprint(i+j), "/hook", "pre_tool", "s", time.Now(), data)); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendOne is the cost of a batch of one event: what each event
// costs when producers arrive one at a time.
func BenchmarkAppendOne(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "events.db"))
	ctx := context.Background()
	data := map[string]any{"tool_name": "Bash", "session_id": "s"}
	for i := 0; i < b.N; i++ {
		tx, err := s.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Append(ctx, ev(fmt.Sprint(i), "/hook", "pre_tool", "s", time.Now(), data)); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// The count of stored events survives a Close without a count(*) (which
// reads a whole index: seconds at 10 M): Close writes it down with the max
// seq it is true for, Open takes it when nothing was stored since and
// removes it, so a store that was not closed is counted again.
func TestCountKeptAcrossClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	now := time.Now()
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		appendAll(t, s, ev(fmt.Sprint("a", i), "/hook", "x", "", now, nil))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Count() != 10 {
		t.Fatalf("after a close: %d events, want 10", s2.Count())
	}
	if _, ok, _ := s2.Meta(context.Background(), "count"); ok {
		t.Fatal("the saved count outlives the open that took it")
	}
	appendAll(t, s2, ev("b", "/hook", "x", "", now, nil))
	// s2 is not closed (a crash): the next open counts.
	s3 := mustOpen(t, path)
	if s3.Count() != 11 {
		t.Fatalf("after an unclosed run: %d events, want 11", s3.Count())
	}
	s2.Close()
	s3.Close()
	// Whatever a count key held, Close writes the real count over it.
	s4 := mustOpen(t, path)
	if err := s4.SetMeta(context.Background(), "count", 12345); err != nil {
		t.Fatal(err)
	}
	if err := s4.SetMeta(context.Background(), "count_at_seq", s4.LastSeq()); err != nil {
		t.Fatal(err)
	}
	_ = s4.Close() // writes the real count again
	if s5 := mustOpen(t, path); s5.Count() != 11 {
		t.Fatalf("after a close that wrote the count: %d, want 11", s5.Count())
	}
}
