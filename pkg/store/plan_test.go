package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

// planStore is a store of n events over namespaces, names, sessions and
// a day of timestamps (mostly in seq order, some late), and the events.
func planStore(t *testing.T, n int) (*store.Store, []*event.Event, time.Time) {
	t.Helper()
	s := mustOpen(t, filepath.Join(t.TempDir(), "events.db"))
	rng := rand.New(rand.NewPCG(1, 2))
	nss := []string{"/hook", "/hook", "/hook", "/claude", "/claude", "/session", "/agent", "/system"}
	names := map[string][]string{"/hook": {"pre_tool", "post_tool", "user_prompt", "stop", "session_end"}, "/claude": {"output", "usage", "status_changed"},
		"/session": {"status_changed", "start"}, "/agent": {"task_delegated"}, "/system": {"heartbeat_note"}}
	words := []string{"alpha", "beta", "Gamma", "needle_1", "50%"}
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var evs []*event.Event
	for i := range n {
		ns := nss[rng.IntN(len(nss))]
		ts := base.Add(time.Duration(i) * 10 * time.Second)
		if rng.IntN(20) == 0 {
			ts = ts.Add(-time.Duration(rng.IntN(3600)) * time.Second) // a late event
		}
		evs = append(evs, ev(fmt.Sprintf("%016x", rng.Uint64()), ns, names[ns][rng.IntN(len(names[ns]))], fmt.Sprintf("s%d", rng.IntN(12)),
			ts, map[string]any{"text": words[rng.IntN(len(words))]}))
	}
	for i := 0; i < len(evs); i += 500 {
		appendAll(t, s, evs[i:min(i+500, len(evs))]...)
	}
	return s, evs, base
}

// match is the filter applied by hand, for comparison.
func match(f store.Filter, e *event.Event) bool {
	lower := func(s string) string { return strings.ToLower(s) }
	switch {
	case f.Namespace != "" && e.Namespace != f.Namespace,
		len(f.Namespaces) > 0 && !slices.Contains(f.Namespaces, e.Namespace),
		f.Event != "" && e.Name != f.Event,
		f.SessionID != "" && e.SessionID != f.SessionID,
		f.SinceSeq > 0 && e.Seq <= f.SinceSeq,
		f.UntilSeq > 0 && e.Seq > f.UntilSeq,
		!f.Since.IsZero() && e.Time.UnixMilli() < f.Since.UnixMilli(),
		!f.Until.IsZero() && e.Time.UnixMilli() > f.Until.UnixMilli(),
		f.Q != "" && !strings.Contains(lower(e.Name), lower(f.Q)) && !strings.Contains(lower(fmt.Sprint(e.Data["text"])), lower(f.Q)):
		return false
	}
	return true
}

// The filters the API, the replay and the session model's feed use.
func planFilters(base time.Time) map[string]store.Filter {
	at := func(h float64) time.Time { return base.Add(time.Duration(h * float64(time.Hour))) }
	return map[string]store.Filter{
		"latest":                {Desc: true, Limit: 100},
		"oldest":                {Limit: 100},
		"since_seq":             {SinceSeq: 1500, Limit: 100},
		"until_seq desc":        {UntilSeq: 1500, Desc: true, Limit: 100},
		"session":               {SessionID: "s3", Limit: 100},
		"session desc":          {SessionID: "s3", Desc: true, Limit: 50},
		"session since_seq":     {SessionID: "s3", SinceSeq: 2000, Limit: 100},
		"namespace":             {Namespace: "/hook", Desc: true, Limit: 100},
		"rare namespace":        {Namespace: "/agent", Desc: true, Limit: 100},
		"event":                 {Event: "pre_tool", Desc: true, Limit: 100},
		"rare event":            {Event: "session_end", Desc: true, Limit: 1000},
		"namespace+event":       {Namespace: "/session", Event: "status_changed", Limit: 100},
		"session+event":         {SessionID: "s1", Event: "post_tool", Limit: 100},
		"session+namespace":     {SessionID: "s1", Namespace: "/claude", SinceSeq: 10, Limit: 100},
		"model feed":            {Namespaces: []string{"/hook", "/claude"}, SinceSeq: 700, UntilSeq: 2900, Limit: 256},
		"model feed desc":       {Namespaces: []string{"/hook", "/claude"}, Desc: true, Limit: 30},
		"namespaces+session":    {Namespaces: []string{"/hook", "/claude"}, SessionID: "s2", Limit: 100},
		"namespaces+event":      {Namespaces: []string{"/hook", "/session"}, Event: "status_changed", Limit: 100},
		"namespace in set":      {Namespace: "/claude", Namespaces: []string{"/hook", "/claude"}, Limit: 100},
		"namespace not in set":  {Namespace: "/agent", Namespaces: []string{"/hook", "/claude"}, Limit: 100},
		"small time window":     {Since: at(2), Until: at(2.5), Limit: 1000},
		"recent (since)":        {Since: at(8.2), Desc: true, Limit: 1000},
		"old (until) desc":      {Until: at(0.5), Desc: true, Limit: 50},
		"wide time range":       {Since: at(0), Until: at(100), Desc: true, Limit: 100},
		"wide range, oldest":    {Since: at(3), Limit: 100},
		"old range, newest":     {Until: at(5), Desc: true, Limit: 100},
		"wide range, text":      {Since: at(2), Until: at(7), Q: "beta", Desc: true},
		"session+time":          {SessionID: "s4", Since: at(1), Limit: 100},
		"text":                  {Q: "needle_1", Desc: true, Limit: 100},
		"text with % and _":     {Q: "50%", Limit: 100},
		"session+text":          {SessionID: "s5", Q: "gamma", Limit: 100},
		"event+text, no limit":  {Event: "output", Q: "beta"},
		"namespace, no limit":   {Namespace: "/system"},
		"session export":        {SessionID: "s7"},
		"everything, seq range": {SinceSeq: 10, UntilSeq: 20},
	}
}

// Every query the store runs returns what the filter selects, in seq
// order (newest first with Desc), limited: the rewritten queries (named
// indexes, a merge per namespace, the time-range choice) change no answer.
func TestQueriesReturnWhatTheFilterSelects(t *testing.T) {
	defer store.SetBlockBits(6)() // time spans of 64 seqs: 3,000 events are many blocks
	s, evs, base := planStore(t, 3000)
	for _, limit := range []int{10_000, 100} { // every time range read through the index, and the wide ones not
		defer store.SetTimeIndexCap(limit)()
		checkQueries(t, s, evs, base)
		restore := store.SetChunkRows(7) // and statements that end mid-page
		checkQueries(t, s, evs, base)
		restore()
	}
}

func checkQueries(t *testing.T, s *store.Store, evs []*event.Event, base time.Time) {
	t.Helper()
	for name, f := range planFilters(base) {
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
			t.Fatalf("%s: %v", name, err)
		}
		seqs := make([]int64, len(got))
		for i, e := range got {
			seqs[i] = e.Seq
		}
		if !slices.Equal(seqs, want) {
			t.Errorf("%s: got %d events %v…, want %d %v…", name, len(seqs), seqs[:min(5, len(seqs))], len(want), want[:min(5, len(want))])
		}
	}
}

// No query the API, the replay or the session model's feed issues scans
// the events table or sorts its matches, whatever the store's size: each
// reads an index range in seq order (or the table by seq). The
// exceptions are named: text alone (LIKE can use no index; it reads back
// from the newest until the page is full) and no filter at all (the table
// from one end). A wide time range reads the table in seq order from
// where its events are (a rowid range), not from the end of the table.
func TestQueryPlansUseAnIndexInSeqOrder(t *testing.T) {
	defer store.SetBlockBits(6)()
	s, _, base := planStore(t, 3000)
	defer store.SetTimeIndexCap(1000)() // as if the store were large: 3,000 events span 8 h
	// "namespace not in set" is WHERE 0: it reads nothing.
	scans := map[string]bool{"text": true, "text with % and _": true, "latest": true, "oldest": true, "namespace not in set": true}
	sorts := map[string]bool{"small time window": true, "recent (since)": true, "old (until) desc": true}
	for name, f := range planFilters(base) {
		plan, err := s.Explain(context.Background(), f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p := strings.Join(plan, "; ")
		if strings.Contains(p, "SCAN events") && !scans[name] {
			t.Errorf("%s scans the events table: %s", name, p)
		}
		if strings.Contains(p, "TEMP B-TREE") && !sorts[name] {
			t.Errorf("%s sorts its matches: %s", name, p)
		}
		if sorts[name] && !strings.Contains(p, "events_ts") {
			t.Errorf("%s (a small time range) does not read the ts_ms index: %s", name, p)
		}
	}
}
