package pricing_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/pricing"
	"github.com/mpm-dev/mpm/pkg/transcript"
)

// session reads transcripts the way a consumer does: usage once per message,
// priced by the model Claude Code requested (its key in cost-state), and the
// last cost-state.
type session struct {
	costs     map[string]float64 // by model as cost-state keys it
	estimated bool
	unknown   []string
	state     *transcript.CostState
}

func readSession(t *testing.T, table *pricing.Table, paths ...string) session {
	t.Helper()
	s := session{costs: map[string]float64{}}
	tr := transcript.NewUsageTracker(0)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r := transcript.NewReader(0, 0)
		for _, rec := range r.Feed(nil, data) {
			if rec.Kind == transcript.KindCostState {
				s.state = rec.Cost
			}
			if !tr.Observe(&rec) {
				continue
			}
			model := rec.RequestedModel
			if model == "" {
				model = rec.Model
			}
			c, err := table.Cost(model, rec.Usage)
			if errors.Is(err, pricing.ErrUnknownModel) {
				s.unknown = append(s.unknown, model)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			s.costs[model] += c.USD
			s.estimated = s.estimated || c.Estimated
		}
	}
	if s.state == nil {
		t.Fatalf("%v: no cost-state", paths)
	}
	return s
}

// The cost computed from the transcript equals Claude Code's own cost-state
// to the last bit, for sessions recorded with the real CLI (2.1.332) against
// a stand-in API that returned the usage named in each case. (Summed in
// another order than Claude Code's, a session of unequal messages could
// differ in the last bits.)
func TestCostMatchesClaudeCode(t *testing.T) {
	sample := "../transcript/testdata/projects/-home-user-proj/d7e48aee-9368-4c80-a16b-8747364778e8"
	tests := []struct {
		name  string
		paths []string
		usd   float64 // the cost-state's total, to be sure of the fixture
	}{
		{"two parallel subagents (8 messages)", []string{sample + ".jsonl",
			sample + "/subagents/agent-aa154b8ada56de8c7.jsonl", sample + "/subagents/agent-acddcbf8a45f80f24.jsonl"}, 0.012048000000000001},
		{"resumed three times (4 messages)", []string{"../transcript/testdata/resumed.jsonl"}, 0.006024},
		{"1h and 5m cache writes, inference_geo us, 3 web searches", []string{"testdata/geo.jsonl"}, 0.0722466},
		{"long prompt tier (haiku-5-5, prompt 110300 tokens)", []string{"testdata/long.jsonl"}, 0.0463875},
		{"long prompt threshold counts cache writes (99900 + 200)", []string{"testdata/thresh.jsonl"}, 0.0502},
		{"iterations each under the threshold", []string{"testdata/iter.jsonl"}, 0.012025000000000001},
		{"fast mode with 1h cache writes", []string{"testdata/fast.jsonl"}, 0.014012},
		{"dated first-party id", []string{"testdata/dated.jsonl"}, 0.001134},
		{"[1m] suffix", []string{"testdata/onem.jsonl"}, 0.001134},
		{"Bedrock id with an eu. prefix", []string{"testdata/bedrock.jsonl"}, 0.000378},
	}
	table := pricing.Default()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := readSession(t, table, tc.paths...)
			if s.state.TotalCostUSD != tc.usd || s.state.HasUnknownModelCost {
				t.Fatalf("fixture's cost-state = %v (unknown %v), want %v", s.state.TotalCostUSD, s.state.HasUnknownModelCost, tc.usd)
			}
			if len(s.unknown) > 0 || s.estimated {
				t.Errorf("unknown models %v, estimated %v", s.unknown, s.estimated)
			}
			for model, mu := range s.state.ModelUsage {
				got := s.costs[model]
				if got != mu.CostUSD {
					t.Errorf("%s: computed %.17g, Claude Code's cost-state %.17g", model, got, mu.CostUSD)
				}
			}
			if len(s.costs) != len(s.state.ModelUsage) {
				t.Errorf("priced models %v, cost-state has %d", s.costs, len(s.state.ModelUsage))
			}
		})
	}
}

// Claude Code prices a model it does not know at its default model's prices
// and flags the session; we report it as unknown instead.
func TestUnknownModelIsReported(t *testing.T) {
	s := readSession(t, pricing.Default(), "testdata/unknown.jsonl")
	if !s.state.HasUnknownModelCost {
		t.Fatal("fixture: cost-state does not flag an unknown model")
	}
	if len(s.unknown) != 1 || s.unknown[0] != "claude-zz-unknown-9" || len(s.costs) != 0 {
		t.Errorf("unknown %v, priced %v", s.unknown, s.costs)
	}
	_, err := pricing.Default().Cost("claude-zz-unknown-9", &transcript.Usage{InputTokens: 1})
	if !errors.Is(err, pricing.ErrUnknownModel) || !strings.Contains(err.Error(), "claude-zz-unknown-9") {
		t.Errorf("err = %v", err)
	}
}

// A speed other than fast and standard is priced as fast, as Claude Code
// does (it flags the cost as unknown then); we mark it Estimated.
func TestUnknownSpeedPricedAsFast(t *testing.T) {
	s := readSession(t, pricing.Default(), "testdata/weird.jsonl")
	if !s.state.HasUnknownModelCost || !s.estimated {
		t.Errorf("unknown %v, estimated %v", s.state.HasUnknownModelCost, s.estimated)
	}
	if got, want := s.costs["claude-opus-5-5"], s.state.TotalCostUSD; got != want {
		t.Errorf("computed %v, cost-state %v", got, want)
	}
}

// A compaction's own API call is in cost-state but writes no assistant
// line, so the transcript's tokens fall short of cost-state by that call:
// cost-state is the authority when there is one.
func TestCompactionCallIsOnlyInCostState(t *testing.T) {
	s := readSession(t, pricing.Default(), "../transcript/testdata/compacted.jsonl")
	got, want := s.costs["claude-opus-5-5"], s.state.TotalCostUSD
	if oneCall := 0.001506; math.Abs(want-got-oneCall) > 1e-12 {
		t.Errorf("computed %v, cost-state %v: want it one call (%v) short", got, want, oneCall)
	}
}

func TestLookup(t *testing.T) {
	table := pricing.Default()
	tests := []struct{ in, want string }{
		{"claude-opus-5-5", "claude-opus-5-5"},
		{"CLAUDE-OPUS-5-5", "claude-opus-5-5"},
		{"claude-opus-5-5[1m]", "claude-opus-5-5"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"claude-sonnet-4-5-20250929[1m]", "claude-sonnet-4-5"},
		{"claude-sonnet-4-20250514", "claude-sonnet-4-0"},
		{"claude-opus-4-20250514", "claude-opus-4-0"},
		{"us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"},
		{"eu.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"},
		{"global.anthropic.claude-opus-4-6-v1", "claude-opus-4-6"},
		{"claude-haiku-4-5@20251001", "claude-haiku-4-5"},
		{"claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"},
		{"anthropic.claude-sonnet-5-5", "claude-sonnet-5-5"},
		{"arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-sonnet-4-6", "claude-sonnet-4-6"},
		{"claude-opus-4.5", "claude-opus-4-5"},
		{"claude-opus-5-5-20270101", "claude-opus-5-5"},
		{"claude-fable-5-2", "claude-fable-5-2"},
		{"claude-fable-5-20260101", "claude-fable-5"},
		{"claude-haiku-5-5", "claude-haiku-5-5"},
		{"claude-zz-unknown-9", ""},
		{"claude-opus-4-9", ""}, // a minor version the table does not know is not claude-opus-4(-0)
		{"claude-sonnet-5-7", ""},
		{"<synthetic>", ""},
		{"", ""},
		{"gpt-4o", ""},
	}
	for _, tc := range tests {
		id, p, ok := table.Lookup(tc.in)
		if id != tc.want || ok != (tc.want != "") || ok != (p != nil) {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tc.in, id, ok, tc.want)
		}
	}
}

func TestEmbeddedTable(t *testing.T) {
	table := pricing.Default()
	if table.Source != "Claude Code 2.1.332 built-in model catalog" || table.Read != "2026-12-03" {
		t.Errorf("source %q read %q", table.Source, table.Read)
	}
	if n := len(table.Models()); n != 24 {
		t.Errorf("%d models, want the catalog's 24", n)
	}
	_, p, _ := table.Lookup("claude-opus-5-5")
	want := pricing.Price{Input: 4, Output: 20, CacheWrite5m: 5, CacheWrite1h: 8, CacheRead: 0.2, WebSearch: 0.01,
		Fast: &pricing.Tier{Input: 8, Output: 40, CacheWrite5m: 10, CacheWrite1h: 16, CacheRead: 0.4}}
	if p.Input != want.Input || p.Output != want.Output || p.CacheWrite5m != want.CacheWrite5m || p.CacheWrite1h != want.CacheWrite1h ||
		p.CacheRead != want.CacheRead || p.WebSearch != want.WebSearch || p.LongPrompt != nil || *p.Fast != *want.Fast {
		t.Errorf("opus-5-5 = %+v", p)
	}
	_, h, _ := table.Lookup("claude-haiku-5-5")
	if h.LongPrompt == nil || h.LongPrompt.AbovePromptTokens != 100000 || h.LongPrompt.Input != 0.5 {
		t.Errorf("haiku-5-5 long prompt = %+v", h.LongPrompt)
	}
}

// The design note's check: 200 in, 100 out, 60 cache read, 40 cache write.
func TestDesignNoteExample(t *testing.T) {
	c, err := pricing.Default().Cost("claude-opus-5-5", &transcript.Usage{InputTokens: 200, OutputTokens: 100, CacheReadInputTokens: 60, CacheCreationInputTokens: 40})
	if err != nil || c.USD != 0.003012 || c.Model != "claude-opus-5-5" || c.Estimated {
		t.Errorf("cost = %+v, %v", c, err)
	}
}

func TestLoadOverride(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"source":"our contract","models":{
		"claude-opus-5-5": {"input": 3},
		"house-model": {"input": 1, "output": 2, "cache_write_5m": 1.25, "cache_read": 0.1, "provider_ids": ["proxy/house-model-v2"]}
	}}`)
	table, err := pricing.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(table.Source, "our contract over Claude Code 2.1.332") {
		t.Errorf("source %q", table.Source)
	}
	u := &transcript.Usage{InputTokens: 1e6, OutputTokens: 1e6, CacheCreationInputTokens: 1e6, CacheCreation1hInputTokens: 1e6}
	if c, _ := table.Cost("claude-opus-5-5", u); c.USD != 3+20+8 {
		t.Errorf("opus-5-5 with input overridden: %v, want 31 (input 3, the rest as built in)", c.USD)
	}
	if c, err := table.Cost("proxy/house-model-v2", u); err != nil || c.Model != "house-model" || c.USD != 1+2+1.25 {
		t.Errorf("house model by its provider id: %+v %v (a 1h write at the 5m price when none is given)", c, err)
	}
	if _, err := pricing.Default().Cost("house-model", u); !errors.Is(err, pricing.ErrUnknownModel) {
		t.Errorf("the default table knows the file's model: %v", err)
	}

	bad := []struct{ name, body, want string }{
		{"syntax.json", `{"models": {`, "not a price table"},
		{"typo.json", `{"models": {"claude-opus-5-5": {"inptu": 3}}}`, "unknown field"},
		{"empty.json", `{}`, "names no models"},
		{"incomplete.json", `{"models": {"new-model": {"input": 1}}}`, "needs output, cache_write_5m, cache_read"},
		{"negative.json", `{"models": {"claude-opus-5-5": {"output": -1}}}`, "negative price"},
		{"long.json", `{"models": {"new-model": {"input": 1, "output": 1, "cache_write_5m": 1, "cache_read": 1, "long_prompt": {"input": 2}}}}`, "positive above_prompt_tokens"},
		{"two.json", `{"models": {"claude-opus-5-5": {"input": 3}}} {}`, "more than one JSON value"},
	}
	for _, b := range bad {
		_, err := pricing.Load(write(b.name, b.body))
		if err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), b.name) {
			t.Errorf("%s: err = %v, want it to name the file and say %q", b.name, err, b.want)
		}
	}
	if _, err := pricing.Load(filepath.Join(dir, "missing.json")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if table, err := pricing.Load(""); err != nil || len(table.Models()) != 24 {
		t.Errorf("Load(\"\") = %v", err)
	}
}

func TestPriceCostFormula(t *testing.T) {
	p := &pricing.Price{Input: 1, Output: 2, CacheWrite5m: 3, CacheWrite1h: 4, CacheRead: 5, WebSearch: 0.5,
		LongPrompt: &pricing.LongPrompt{AbovePromptTokens: 10, Tier: pricing.Tier{Input: 10, Output: 20, CacheWrite5m: 30, CacheWrite1h: 40, CacheRead: 50}}}
	const M = 1e6
	tests := []struct {
		name string
		u    transcript.Usage
		want float64
	}{
		{"plain", transcript.Usage{InputTokens: 4, OutputTokens: 1}, (4*1 + 1*2) / M},
		{"1h clamped to the total", transcript.Usage{CacheCreationInputTokens: 2, CacheCreation1hInputTokens: 9}, 2 * 4 / M},
		{"5m field not needed", transcript.Usage{CacheCreationInputTokens: 3, CacheCreation1hInputTokens: 1}, (1*4 + 2*3) / M},
		{"long tier by prompt size", transcript.Usage{InputTokens: 5, CacheReadInputTokens: 3, CacheCreationInputTokens: 3}, (5*10 + 3*50 + 3*30) / M},
		{"geo us, web search not scaled", transcript.Usage{InputTokens: 1, WebSearchRequests: 2, InferenceGeo: "us"}, 1*1/M*1.1 + 1},
		{"iterations under the threshold", transcript.Usage{InputTokens: 12, OutputTokens: 2, Iterations: []transcript.Iteration{
			{Type: "message", InputTokens: 6, OutputTokens: 1, Complete: true}, {Type: "message", InputTokens: 6, OutputTokens: 1, Complete: true}}}, (12*1 + 2*2) / M},
		{"iterations not adding up are ignored", transcript.Usage{InputTokens: 12, Iterations: []transcript.Iteration{
			{Type: "message", InputTokens: 6, Complete: true}}}, 12 * 10 / M},
		{"incomplete iterations are ignored", transcript.Usage{InputTokens: 12, Iterations: []transcript.Iteration{
			{Type: "message", InputTokens: 6}, {Type: "message", InputTokens: 6}}}, 12 * 10 / M},
		{"1h beyond the iterations' own goes to them in order", transcript.Usage{CacheCreationInputTokens: 6, CacheCreation1hInputTokens: 4,
			Iterations: []transcript.Iteration{
				{Type: "message", CacheCreationInputTokens: 3, CacheCreation1hInputTokens: 1, Complete: true},
				{Type: "other"},
				{Type: "message", CacheCreationInputTokens: 3, CacheCreation5mInputTokens: 1, Complete: true}}},
			(3*4)/M + (1*4+2*3)/M},
	}
	for _, tc := range tests {
		if got := p.Cost(&tc.u); math.Abs(got-tc.want) > 1e-12*tc.want {
			t.Errorf("%s: cost %.17g, want %.17g", tc.name, got, tc.want)
		}
	}
}
