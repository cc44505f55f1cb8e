// Package pricing computes what Claude Code's API usage costs, by model, the
// way Claude Code computes it, for sessions whose transcript has no
// cost-state of Claude Code's own (or for a single message).
//
// The prices are a table embedded in the binary (prices.json), read from
// Claude Code's built-in model catalog; its Source and Read fields say which
// version and when. Load merges a user's JSON file over it. A model the
// table does not know has no price: Cost answers ErrUnknownModel, never a
// silent 0.
//
// Claude Code's formula (2.1.332), per API message, in USD:
//
//	tier   = long_prompt when input + cache_read + cache_creation > its above_prompt_tokens, else the base prices
//	cost   = input/1e6·tier.input + output/1e6·tier.output + cache_read/1e6·tier.cache_read
//	       + 1h/1e6·tier.cache_write_1h + (cache_creation − 1h)/1e6·tier.cache_write_5m
//	total  = cost × (1.1 when inference_geo is "us", else 1) + web_search_requests · web_search
//
// where 1h is the cache writes reported as ephemeral_1h (clamped to the
// total) and every other cache write is priced at the 5-minute rate. Speed
// "fast" uses the model's fast prices (none: its standard ones) without the
// long-prompt tier; any speed other than fast and standard is priced as fast
// and marked Estimated, as Claude Code does. When the API reports usage
// iterations that add up to the totals, the tier is chosen per iteration.
package pricing

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/mpm-dev/mpm/pkg/transcript"
)

//go:embed prices.json
var embedded []byte

// ErrUnknownModel is Cost's answer for a model without a price.
var ErrUnknownModel = errors.New("no price for this model")

// Price is one model's prices: USD per million tokens, web search in USD per
// request.
type Price struct {
	Input        float64
	Output       float64
	CacheWrite5m float64
	CacheWrite1h float64
	CacheRead    float64
	WebSearch    float64
	// LongPrompt, when set, replaces the token prices for a message whose
	// prompt (input + cache read + cache write) exceeds its threshold.
	LongPrompt *LongPrompt
	// Fast holds the prices of fast mode, when the model has its own.
	Fast *Tier
}

// Tier is a set of token prices.
type Tier struct {
	Input        float64
	Output       float64
	CacheWrite5m float64
	CacheWrite1h float64
	CacheRead    float64
}

// LongPrompt is the price tier for long prompts.
type LongPrompt struct {
	AbovePromptTokens int64
	Tier
}

func (p *Price) tier() Tier {
	return Tier{p.Input, p.Output, p.CacheWrite5m, p.CacheWrite1h, p.CacheRead}
}

// Table is a price table. It is safe for concurrent use once made.
type Table struct {
	// Source and Read say where the prices come from and when they were read.
	Source string
	Read   string

	prices map[string]*Price // by model id
	ids    map[string]string // every id and provider id, lower case → model id
	// byLength is every id of ids, longest first, for matching an id inside a longer name.
	byLength []string
}

// Default returns the embedded table (one, shared: a Table is read-only).
func Default() *Table { return defaultTable() }

var defaultTable = sync.OnceValue(func() *Table {
	t, err := parse(embedded, nil)
	if err != nil {
		panic("pricing: the embedded price table is invalid: " + err.Error())
	}
	return t
})

// Load returns the embedded table with the file at path merged over it
// (the file's format: see the package's docs/TRANSCRIPTS.md section, or
// prices.json itself). An empty path returns the embedded table.
func Load(path string) (*Table, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the price file: %w", err)
	}
	t, err := parse(embedded, data)
	if err != nil {
		return nil, fmt.Errorf("price file %s: %w", path, err)
	}
	return t, nil
}

// file is the JSON shape of a price table (the embedded one, or a user's
// file merged over it). Prices are pointers so a user's file can set one
// field of a known model.
type file struct {
	Source string               `json:"source"`
	Read   string               `json:"read"`
	Units  string               `json:"units"` // informational
	Notes  []string             `json:"notes"` // informational
	Models map[string]modelJSON `json:"models"`
}

type modelJSON struct {
	Input        *float64        `json:"input"`
	Output       *float64        `json:"output"`
	CacheWrite5m *float64        `json:"cache_write_5m"`
	CacheWrite1h *float64        `json:"cache_write_1h"`
	CacheRead    *float64        `json:"cache_read"`
	WebSearch    *float64        `json:"web_search"`
	LongPrompt   *longPromptJSON `json:"long_prompt"`
	Fast         *tierJSON       `json:"fast"`
	ProviderIDs  []string        `json:"provider_ids"`
	PricingTier  string          `json:"pricing_tier"` // informational
}

type tierJSON struct {
	Input        *float64 `json:"input"`
	Output       *float64 `json:"output"`
	CacheWrite5m *float64 `json:"cache_write_5m"`
	CacheWrite1h *float64 `json:"cache_write_1h"`
	CacheRead    *float64 `json:"cache_read"`
}

type longPromptJSON struct {
	AbovePromptTokens *int64 `json:"above_prompt_tokens"`
	tierJSON
}

// defaultWebSearch is the price per web search request Claude Code uses
// when a model's entry has none.
const defaultWebSearch = 0.01

func parse(base, over []byte) (*Table, error) {
	var b file
	if err := decodeStrict(base, &b); err != nil {
		return nil, err
	}
	t := &Table{Source: b.Source, Read: b.Read, prices: map[string]*Price{}, ids: map[string]string{}}
	provider := map[string][]string{}
	for id, m := range b.Models {
		if err := t.set(id, m, provider); err != nil {
			return nil, err
		}
	}
	if over != nil {
		var o file
		if err := decodeStrict(over, &o); err != nil {
			return nil, err
		}
		if len(o.Models) == 0 {
			return nil, errors.New(`it names no models: write {"models": {"<model id>": {"input": …, "output": …, "cache_write_5m": …, "cache_read": …}}}`)
		}
		if o.Source != "" {
			t.Source = o.Source + " over " + t.Source
		}
		for id, m := range o.Models {
			if err := t.set(id, m, provider); err != nil {
				return nil, err
			}
		}
	}
	// Model ids first, so a provider id never shadows a model of that name.
	for id := range t.prices {
		t.ids[strings.ToLower(id)] = id
	}
	for id, pids := range provider {
		for _, p := range pids {
			if _, taken := t.ids[strings.ToLower(p)]; !taken {
				t.ids[strings.ToLower(p)] = id
			}
		}
	}
	for k := range t.ids {
		t.byLength = append(t.byLength, k)
	}
	sort.Slice(t.byLength, func(i, j int) bool {
		a, b := t.byLength[i], t.byLength[j]
		return len(a) > len(b) || len(a) == len(b) && a < b
	})
	return t, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("it is not a price table (%w); see prices.json for the format", err)
	}
	if dec.More() {
		return errors.New("it holds more than one JSON value")
	}
	return nil
}

// set merges m over the model id's prices (a new model must give them all).
func (t *Table) set(id string, m modelJSON, provider map[string][]string) error {
	if strings.TrimSpace(id) == "" {
		return errors.New("a model has an empty id")
	}
	p, known := t.prices[id]
	if !known {
		var missing []string
		for _, f := range []struct {
			name string
			v    *float64
		}{{"input", m.Input}, {"output", m.Output}, {"cache_write_5m", m.CacheWrite5m}, {"cache_read", m.CacheRead}} {
			if f.v == nil {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("model %q is not in the built-in table, so it needs %s", id, strings.Join(missing, ", "))
		}
		p = &Price{WebSearch: defaultWebSearch, CacheWrite1h: *m.CacheWrite5m}
	} else {
		cp := *p
		p = &cp
	}
	for _, f := range []struct {
		dst *float64
		v   *float64
	}{{&p.Input, m.Input}, {&p.Output, m.Output}, {&p.CacheWrite5m, m.CacheWrite5m}, {&p.CacheWrite1h, m.CacheWrite1h},
		{&p.CacheRead, m.CacheRead}, {&p.WebSearch, m.WebSearch}} {
		if f.v != nil {
			if *f.v < 0 {
				return fmt.Errorf("model %q has a negative price", id)
			}
			*f.dst = *f.v
		}
	}
	if m.CacheWrite1h == nil && !known {
		p.CacheWrite1h = p.CacheWrite5m // Claude Code prices every cache write at the 5-minute rate then
	}
	if m.LongPrompt != nil {
		lp, err := m.LongPrompt.resolve(id, p)
		if err != nil {
			return err
		}
		p.LongPrompt = lp
	}
	if m.Fast != nil {
		base := p.tier()
		if p.Fast != nil {
			base = *p.Fast
		}
		ft, err := m.Fast.merge(id, base)
		if err != nil {
			return err
		}
		p.Fast = &ft
	}
	t.prices[id] = p
	provider[id] = append(provider[id], m.ProviderIDs...)
	return nil
}

func (lp *longPromptJSON) resolve(id string, p *Price) (*LongPrompt, error) {
	base := p.tier()
	if p.LongPrompt != nil {
		base = p.LongPrompt.Tier
	}
	out := &LongPrompt{}
	if p.LongPrompt != nil {
		out.AbovePromptTokens = p.LongPrompt.AbovePromptTokens
	}
	if lp.AbovePromptTokens != nil {
		out.AbovePromptTokens = *lp.AbovePromptTokens
	}
	if out.AbovePromptTokens <= 0 {
		return nil, fmt.Errorf("model %q: long_prompt needs a positive above_prompt_tokens", id)
	}
	tier, err := lp.merge(id, base)
	out.Tier = tier
	return out, err
}

func (tj *tierJSON) merge(id string, base Tier) (Tier, error) {
	for _, f := range []struct {
		dst *float64
		v   *float64
	}{{&base.Input, tj.Input}, {&base.Output, tj.Output}, {&base.CacheWrite5m, tj.CacheWrite5m},
		{&base.CacheWrite1h, tj.CacheWrite1h}, {&base.CacheRead, tj.CacheRead}} {
		if f.v != nil {
			if *f.v < 0 {
				return base, fmt.Errorf("model %q has a negative price", id)
			}
			*f.dst = *f.v
		}
	}
	return base, nil
}

// Models lists the model ids the table prices, sorted.
func (t *Table) Models() []string {
	out := make([]string, 0, len(t.prices))
	for id := range t.prices {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

var (
	contextSuffix = regexp.MustCompile(`\[[12]m\]$`)
	dottedVersion = regexp.MustCompile(`(claude-(?:[a-z]+-)?\d{1,2})\.(\d)`)
	regionPrefix  = regexp.MustCompile(`^(?:us|eu|apac|jp|au|us-gov|global)\.anthropic\.`)
	dateSuffix    = regexp.MustCompile(`-\d{8}$`)
)

// Lookup finds the price of a model as a transcript or cost-state names it:
// a model id (claude-opus-5-5), a dated first-party id
// (claude-sonnet-4-5-20250929), a Bedrock, Vertex or other provider id of
// the catalog (us.anthropic.claude-haiku-4-5-20251001-v1:0, another region's
// prefix, claude-haiku-4-5@20251001), with a [1m] context suffix, or a longer
// name holding one of those. It returns the model id priced.
func (t *Table) Lookup(model string) (string, *Price, bool) {
	s := strings.ToLower(strings.TrimSpace(model))
	s = contextSuffix.ReplaceAllString(s, "")
	if s == "" {
		return "", nil, false
	}
	try := func(s string) (string, bool) { id, ok := t.ids[s]; return id, ok }
	if id, ok := try(s); ok {
		return id, t.prices[id], true
	}
	s = dottedVersion.ReplaceAllString(s, "$1-$2")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	candidates := []string{s}
	if loc := regionPrefix.FindStringIndex(s); loc != nil {
		candidates = append(candidates, "us.anthropic."+s[loc[1]:], s[loc[1]:])
	} else if rest, ok := strings.CutPrefix(s, "anthropic."); ok {
		candidates = append(candidates, "us.anthropic."+rest, rest)
	}
	for _, c := range candidates {
		if id, ok := try(c); ok {
			return id, t.prices[id], true
		}
	}
	// An id inside a longer name (a date, a provider's version suffix), the
	// longest first, unless what follows continues its version number.
	for _, k := range t.byLength {
		if !strings.HasPrefix(k, "claude-") {
			continue
		}
		for from := 0; ; {
			i := strings.Index(s[from:], k)
			if i < 0 {
				break
			}
			end := from + i + len(k)
			if !versionFollows(s[end:]) {
				id := t.ids[k]
				return id, t.prices[id], true
			}
			from += i + 1
		}
	}
	if id, ok := try(dateSuffix.ReplaceAllString(s, "")); ok {
		return id, t.prices[id], true
	}
	return "", nil, false
}

// versionFollows reports whether rest, what follows an id inside a longer
// name, continues the id's version: a digit (claude-opus-4-5 is not in
// claude-opus-4-50) or a minor version (claude-opus-4 is not in
// claude-opus-4-9); a date (-20250514) does not.
func versionFollows(rest string) bool {
	isDigit := func(i int) bool { return i < len(rest) && rest[i] >= '0' && rest[i] <= '9' }
	return isDigit(0) || len(rest) > 1 && rest[0] == '-' && isDigit(1) && !isDigit(2)
}

// Cost is the price of one message's usage.
type Cost struct {
	USD float64
	// Model is the table's model id the price came from.
	Model string
	// Estimated: the usage names a speed Claude Code does not know, priced
	// as fast mode (Claude Code then flags the session's cost as unknown).
	Estimated bool
}

// Cost prices the usage of one API message of model. A model without a
// price is ErrUnknownModel.
func (t *Table) Cost(model string, u *transcript.Usage) (Cost, error) {
	id, p, ok := t.Lookup(model)
	if !ok {
		return Cost{}, fmt.Errorf("%w: %q", ErrUnknownModel, model)
	}
	c := Cost{Model: id}
	speed := u.Speed
	if speed != "" && speed != "fast" && speed != "standard" {
		speed, c.Estimated = "fast", true
	}
	if speed == "fast" && p.Fast != nil {
		fast := &Price{WebSearch: p.WebSearch}
		fast.Input, fast.Output, fast.CacheWrite5m, fast.CacheWrite1h, fast.CacheRead =
			p.Fast.Input, p.Fast.Output, p.Fast.CacheWrite5m, p.Fast.CacheWrite1h, p.Fast.CacheRead
		p = fast
	}
	c.USD = p.Cost(u)
	return c, nil
}

// msg is one priced unit: the message, or one of its iterations.
type msg struct {
	input, output, cacheRead, cacheCreation, oneHour int64
}

// Cost is Claude Code's cost of usage u at these prices (speed aside).
func (p *Price) Cost(u *transcript.Usage) float64 {
	msgs := []msg{{u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens,
		oneHour(u.CacheCreationInputTokens, u.CacheCreation1hInputTokens)}}
	if p.LongPrompt != nil {
		if its := iterations(u); its != nil {
			msgs = its
		}
	}
	var y float64
	for _, m := range msgs {
		tier := p.tier()
		if lp := p.LongPrompt; lp != nil && m.input+m.cacheRead+m.cacheCreation > lp.AbovePromptTokens {
			tier = lp.Tier
		}
		y += float64(m.input)/1e6*tier.Input + float64(m.output)/1e6*tier.Output +
			float64(m.cacheRead)/1e6*tier.CacheRead + cacheWrite(tier, m)
	}
	geo := 1.0
	if u.InferenceGeo == "us" {
		geo = 1.1
	}
	return y*geo + float64(u.WebSearchRequests)*p.WebSearch
}

func cacheWrite(t Tier, m msg) float64 {
	if m.oneHour <= 0 {
		return float64(m.cacheCreation) / 1e6 * t.CacheWrite5m
	}
	return float64(m.oneHour)/1e6*t.CacheWrite1h + float64(m.cacheCreation-m.oneHour)/1e6*t.CacheWrite5m
}

// oneHour is the 1-hour cache writes, clamped to [0, total].
func oneHour(total, h int64) int64 { return max(0, min(h, total)) }

// iterations returns the message's iterations of type "message" when each
// reports all four token counts and they add up to the message's totals,
// with the 1-hour cache writes the message reports beyond theirs given to
// the iterations in order, as Claude Code does; else nil.
func iterations(u *transcript.Usage) []msg {
	var out []msg
	var five []int64
	var sum msg
	for _, it := range u.Iterations {
		if it.Type != "message" {
			continue
		}
		if !it.Complete {
			return nil
		}
		m := msg{it.InputTokens, it.OutputTokens, it.CacheReadInputTokens, it.CacheCreationInputTokens,
			oneHour(it.CacheCreationInputTokens, it.CacheCreation1hInputTokens)}
		out = append(out, m)
		five = append(five, max(0, min(it.CacheCreation5mInputTokens, m.cacheCreation-m.oneHour)))
		sum.input += m.input
		sum.output += m.output
		sum.cacheRead += m.cacheRead
		sum.cacheCreation += m.cacheCreation
		sum.oneHour += m.oneHour
	}
	if len(out) == 0 || sum.input != u.InputTokens || sum.output != u.OutputTokens ||
		sum.cacheRead != u.CacheReadInputTokens || sum.cacheCreation != u.CacheCreationInputTokens {
		return nil
	}
	extra := max(0, oneHour(u.CacheCreationInputTokens, u.CacheCreation1hInputTokens)-sum.oneHour)
	for i := range out {
		m := &out[i]
		k := min(extra, m.cacheCreation-five[i]-m.oneHour)
		extra -= k
		m.oneHour = oneHour(m.cacheCreation, m.oneHour+k)
	}
	return out
}
