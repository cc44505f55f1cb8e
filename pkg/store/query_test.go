package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

// disorderedStore is a store of n events whose producers' timestamps are
// mostly in seq order but not all: late ones (up to an hour behind), early
// ones (up to ten minutes ahead), a backfill (a transcript read days
// later: a run of old timestamps at new seqs) and, when absurd, a few
// absurd clocks (year 2000, 2100).
func disorderedStore(t *testing.T, path string, n int, absurd bool) ([]*event.Event, time.Time) {
	t.Helper()
	s := mustOpen(t, path)
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	words := []string{"alpha", "beta", "gamma"}
	var evs []*event.Event
	for i := range n {
		ts := base.Add(time.Duration(i) * 10 * time.Second)
		switch r := rng.IntN(100); {
		case i >= n/2 && i < n/2+300:
			ts = base.Add(-48*time.Hour + time.Duration(i-n/2)*time.Second) // the backfill
		case r < 5:
			ts = ts.Add(-time.Duration(rng.IntN(3600)) * time.Second)
		case r < 8:
			ts = ts.Add(time.Duration(rng.IntN(600)) * time.Second)
		case absurd && r == 8 && rng.IntN(10) == 0:
			ts = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		case absurd && r == 9 && rng.IntN(10) == 0:
			ts = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		evs = append(evs, ev(fmt.Sprintf("%016x", rng.Uint64()), "/hook", "pre_tool", fmt.Sprintf("s%d", rng.IntN(5)), ts,
			map[string]any{"text": words[rng.IntN(len(words))]}))
	}
	for i := 0; i < len(evs); i += 256 {
		appendAll(t, s, evs[i:min(i+256, len(evs))]...)
	}
	return evs, base
}

// A time range is read as a seq range found from the blocks' time spans:
// its answer is exactly the events the range selects, whatever order
// their timestamps came in — the same as the plain query (no index named,
// no seq bound) and as the filter applied by hand — for random ranges,
// both orders, limits, seq bounds and text, on the store as written, as
// reopened with its blocks rebuilt from the events, and after a prune.
func TestTimeRangesWithTimestampsOutOfOrder(t *testing.T) {
	defer store.SetBlockBits(5)() // blocks of 32 seqs
	path := filepath.Join(t.TempDir(), "events.db")
	evs, base := disorderedStore(t, path, 4000, true)
	ref, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	check := func(stage string, s *store.Store, evs []*event.Event) {
		t.Helper()
		rng := rand.New(rand.NewPCG(5, 6))
		at := func() time.Time {
			if rng.IntN(10) == 0 { // now and then outside the ordinary day
				return []time.Time{base.Add(-72 * time.Hour), base.Add(-47 * time.Hour), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}[rng.IntN(3)]
			}
			return base.Add(time.Duration(rng.Int64N(int64(12 * time.Hour))))
		}
		for i := range 300 {
			var f store.Filter
			switch rng.IntN(3) {
			case 0:
				f.Since = at()
			case 1:
				f.Until = at()
			default:
				f.Since, f.Until = at(), at()
			}
			f.Desc = rng.IntN(2) == 0
			f.Limit = []int{0, 1, 10, 100, 1000}[rng.IntN(5)]
			if rng.IntN(4) == 0 {
				f.SinceSeq = rng.Int64N(4000)
			}
			if rng.IntN(4) == 0 {
				f.UntilSeq = 1 + rng.Int64N(4000)
			}
			if rng.IntN(4) == 0 {
				f.Q = "beta"
			}
			if rng.IntN(5) == 0 {
				f.SessionID = "s2"
			}
			var want []int64
			for _, e := range evs {
				if match(f, e) {
					want = append(want, e.Seq)
				}
			}
			if f.Desc {
				slices.Reverse(want)
			}
			if f.Limit > 0 && len(want) > f.Limit {
				want = want[:f.Limit]
			}
			got, err := s.Query(context.Background(), f)
			if err != nil {
				t.Fatalf("%s %d: %v", stage, i, err)
			}
			seqs := make([]int64, len(got))
			for j, e := range got {
				seqs[j] = e.Seq
			}
			plain := plainQuery(t, ref, f)
			if !slices.Equal(seqs, want) || !slices.Equal(plain, want) {
				t.Fatalf("%s %d: %+v: got %d events %v…, the plain query %d, by hand %d %v…", stage, i, f, len(seqs), seqs[:min(5, len(seqs))], len(plain), len(want), want[:min(5, len(want))])
			}
		}
	}
	s := mustOpen(t, path)
	check("as written", s, evs)
	s.Close()

	// A store written before the blocks were kept: they are made on open.
	w, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(`DELETE FROM ts_blocks; DELETE FROM meta WHERE key = 'ts_blocks_complete'`); err != nil {
		t.Fatal(err)
	}
	w.Close()
	s = mustOpen(t, path)
	check("blocks rebuilt", s, evs)

	// Pruned: what is left is still found.
	if _, err := s.Prune(context.Background(), 0, 2500); err != nil {
		t.Fatal(err)
	}
	check("pruned", s, evs[len(evs)-2500:])
}

// A time range is read from near its events: an hour of history
// (events 1,080–1,440, ten seconds apart; some up to an hour late or ten
// minutes early) is read in seqs from a block before the first event that
// may be in it to a block after the last. (An absurd clock widens the
// span of its block: a range that span covers reads from that block.)
func TestTimeRangeIsReadNearItsEvents(t *testing.T) {
	defer store.SetBlockBits(5)()
	path := filepath.Join(t.TempDir(), "events.db")
	_, base := disorderedStore(t, path, 4000, false)
	s := mustOpen(t, path)
	lo, hi, ok, err := s.SeqRange(store.Filter{Since: base.Add(3 * time.Hour), Until: base.Add(4 * time.Hour)})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if lo < 1080-60-32 || hi > 2300+32 { // the until side keeps the backfill (old timestamps at seqs 2,000–2,300)
		t.Errorf("an hour of events 1,080–1,440 is read in seqs (%d, %d]", lo, hi)
	}
	for _, f := range []store.Filter{{Since: base.Add(-100 * time.Hour), Until: base.Add(-99 * time.Hour)}, {Since: base.Add(100 * time.Hour)}} {
		if _, _, ok, err := s.SeqRange(f); ok || err != nil {
			t.Errorf("a range without events: %v %v", ok, err)
		}
	}
}

// plainQuery is the query of f without an index named or a seq bound
// added: what the filter means, as SQLite plans it.
func plainQuery(t *testing.T, db *sql.DB, f store.Filter) []int64 {
	t.Helper()
	q := `SELECT seq FROM events WHERE 1`
	var args []any
	if f.SessionID != "" {
		q += ` AND session_id = ?`
		args = append(args, f.SessionID)
	}
	if f.SinceSeq > 0 {
		q += ` AND seq > ?`
		args = append(args, f.SinceSeq)
	}
	if f.UntilSeq > 0 {
		q += ` AND seq <= ?`
		args = append(args, f.UntilSeq)
	}
	if !f.Since.IsZero() {
		q += ` AND ts_ms >= ?`
		args = append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		q += ` AND ts_ms <= ?`
		args = append(args, f.Until.UnixMilli())
	}
	if f.Q != "" {
		q += ` AND (data LIKE ? OR event LIKE ?)`
		args = append(args, "%"+f.Q+"%", "%"+f.Q+"%")
	}
	q += ` ORDER BY seq`
	if f.Desc {
		q += ` DESC`
	}
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			t.Fatal(err)
		}
		out = append(out, seq)
	}
	return out
}

// SlowTextStore is a store where a text search reads slowly: 3,000
// events of 4 KB of "a", which a search for many "a" then a "b" compares
// at every position (milliseconds an event, seconds for the store); the
// newest event has the text. It returns the text.
func SlowTextStore(tb testing.TB, s *store.Store) string {
	tb.Helper()
	text := strings.Repeat("a", 60) + "b"
	filler := strings.Repeat("a", 4000)
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var evs []*event.Event
	for i := range 3000 {
		evs = append(evs, ev(fmt.Sprintf("slow-%d", i), "/hook", "post_tool", "slow", base.Add(time.Duration(i)*time.Second), map[string]any{"text": filler}))
	}
	evs = append(evs, ev("slow-match", "/hook", "post_tool", "slow", base.Add(time.Hour), map[string]any{"text": filler + text}))
	for i := 0; i < len(evs); i += 500 {
		appendAll(tb, s, evs[i:min(i+500, len(evs))]...)
	}
	return text
}

// A text search abandoned by its caller (its context ends) stops at once,
// though the statement was past its first row, and returns the context's
// error; the store's read connections are free again: queries right after
// answer at once. Before, the driver interrupted only the search for the
// first row, and the scan went on for seconds after its caller had left,
// holding a read connection (the 10 M run's failed requests after its
// abandoned scans).
func TestAbandonedScanEndsAtOnce(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "events.db"))
	text := SlowTextStore(t, s)
	var wg sync.WaitGroup
	for range 6 { // more than the store's read connections
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			n := 0
			err := s.EachRaw(ctx, store.Filter{Q: text, Desc: true, Limit: 2}, func(*store.Raw) error { n++; return nil })
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("an abandoned search returned %v after %d events, want the context's error", err, n)
			}
			if took := time.Since(start); took > 1500*time.Millisecond {
				t.Errorf("an abandoned search returned after %v", took)
			}
		}()
	}
	wg.Wait()
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.Query(context.Background(), store.Filter{SessionID: "slow", Desc: true, Limit: 3})
			if err != nil || len(got) != 3 || got[0].ID != "slow-match" {
				t.Errorf("a query after the abandoned ones: %d events, %v", len(got), err)
			}
		}()
	}
	wg.Wait()
	if took := time.Since(start); took > time.Second {
		t.Errorf("the queries after the abandoned searches took %v", took)
	}
}
