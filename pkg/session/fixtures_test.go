package session_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/pricing"
	"github.com/mpm-dev/mpm/pkg/session"
	"github.com/mpm-dev/mpm/pkg/transcript"
	"github.com/mpm-dev/mpm/pkg/transcript/watch"
)

// tablePricer prices with the embedded pricing table.
type tablePricer struct{ t *pricing.Table }

func (p tablePricer) Cost(r session.PriceRequest) (float64, bool) {
	c, err := p.t.Cost(r.Model, &transcript.Usage{
		InputTokens: r.Tokens.InputTokens, OutputTokens: r.Tokens.OutputTokens,
		CacheCreationInputTokens: r.Tokens.CacheCreationInputTokens, CacheReadInputTokens: r.Tokens.CacheReadInputTokens,
		CacheCreation5mInputTokens: r.Tokens.CacheCreation5mTokens, CacheCreation1hInputTokens: r.Tokens.CacheCreation1hTokens,
		WebSearchRequests: r.Tokens.WebSearchRequests, InferenceGeo: r.InferenceGeo, Speed: r.Speed,
	})
	return c.USD, err == nil
}

// transcriptEvents reads a recorded session's transcripts with the real
// watcher and returns its /claude events in time order.
func transcriptEvents(t *testing.T, projects, sessionID, main string) []*event.Event {
	t.Helper()
	var mu sync.Mutex
	byID := map[string]*event.Event{}
	w, err := watch.New(watch.Config{Roots: []string{projects}, Poll: 5 * time.Millisecond, IdlePoll: 20 * time.Millisecond,
		Ingest: func(_ context.Context, evs []*event.Event) error {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range evs {
				byID[e.ID] = e
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	w.Follow(sessionID, main)
	// the files do not change: done when two polls in a row add nothing
	last, stable := -1, 0
	for deadline := time.Now().Add(10 * time.Second); stable < 10 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(byID)
		mu.Unlock()
		if n == last && n > 0 {
			stable++
		} else {
			stable, last = 0, n
		}
	}
	cancel()
	<-done
	out := make([]*event.Event, 0, len(byID))
	for _, e := range byID {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	for _, e := range out {
		if err := e.Prepare(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Every recorded real-CLI session, replayed into the model through the real
// transcript watcher: the session's tokens are the sum Claude Code's
// stand-in reported (which equals its cost-state), its cost is Claude
// Code's own, and each subagent's priced usage is a part of it.
func TestRecordedSessionsUsage(t *testing.T) {
	dirs, _ := filepath.Glob("../claudetest/testdata/*/standin.json")
	if len(dirs) < 5 {
		t.Fatalf("found %d recorded sessions", len(dirs))
	}
	prices := tablePricer{pricing.Default()}
	for _, sj := range dirs {
		dir := filepath.Dir(sj)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var rec struct {
				SessionID  string `json:"session_id"`
				Transcript string
				Usage      map[string]int64
			}
			b, err := os.ReadFile(sj)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatal(err)
			}
			f := newFeeder(t, prices)
			for _, h := range loadHooks(t, filepath.Join(dir, "hooks.jsonl")) {
				if h["session_id"] == rec.SessionID {
					f.hook(h)
				}
			}
			projects, _ := filepath.Abs(filepath.Join(dir, "projects"))
			main, _ := filepath.Abs(filepath.Join(dir, rec.Transcript))
			evs := transcriptEvents(t, projects, rec.SessionID, main)
			for _, e := range evs {
				f.seq++
				e.Seq = f.seq
				f.m.Apply(e)
			}
			d := mustSession(t, f.m, rec.SessionID)
			u := d.Usage
			if u.InputTokens != rec.Usage["input_tokens"] || u.OutputTokens != rec.Usage["output_tokens"] ||
				u.CacheReadInputTokens != rec.Usage["cache_read_input_tokens"] ||
				u.CacheCreation5mTokens != rec.Usage["cache_creation_5m_input_tokens"] ||
				u.CacheCreation1hTokens != rec.Usage["cache_creation_1h_input_tokens"] {
				t.Errorf("tokens %+v, want %v", u.Tokens, rec.Usage)
			}
			if u.CostSource != session.CostClaude || u.CostUSD == nil || *u.CostUSD <= 0 {
				t.Errorf("cost %v from %s", u.CostUSD, u.CostSource)
			}
			// Priced per message from mpm's own table (the cost-state left
			// out), the same total as Claude Code's.
			p := session.New(prices, session.Limits{})
			for _, e := range evs {
				if e.Name != "cost_state" {
					p.Apply(e)
				}
			}
			pu := mustSession(t, p, rec.SessionID).Usage
			if pu.CostSource != session.CostPricing || pu.CostUSD == nil || u.CostUSD == nil || math.Abs(*pu.CostUSD-*u.CostUSD) > 1e-9 {
				t.Errorf("priced %v (%s), Claude Code's %v", pu.CostUSD, pu.CostSource, u.CostUSD)
			}
			if d.Model != "claude-opus-5-5" {
				t.Errorf("model %q", d.Model)
			}
			for _, a := range d.Agents {
				if a.Usage.CostSource != session.CostPricing || a.Usage.InputTokens == 0 || a.Usage.InputTokens >= u.InputTokens {
					t.Errorf("agent %s usage %+v", a.AgentID, a.Usage)
				}
			}
		})
	}
}
