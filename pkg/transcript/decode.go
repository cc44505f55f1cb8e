package transcript

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"time"
)

var bom = []byte("\xef\xbb\xbf")

// entryClass is what the reader does with an entry type.
type entryClass uint8

const (
	classUnknown entryClass = iota
	classSkip               // known, yields no record
	classDecode             // decoded
)

// classify looks at a raw "type" value (with its quotes). The known types
// are those Claude Code 2.1.332 writes (its transcript writer's table of
// entry types), so a type outside them is counted as unknown.
func classify(v []byte) entryClass {
	switch string(v) {
	case `"user"`, `"assistant"`, `"system"`, `"summary"`, `"cost-state"`:
		return classDecode
	case `"attachment"`, `"queue-operation"`, `"last-prompt"`, `"atis-latch"`,
		`"api-request-shape"`, `"api-request-blob"`, `"api-request"`, `"api-request-resumed"`,
		`"tools-used"`, `"mode"`, `"progress"`, `"custom-title"`, `"ai-title"`, `"ended-by-model"`,
		`"continued-in"`, `"tag"`, `"relocated"`, `"agent-name"`, `"agent-color"`, `"agent-setting"`,
		`"pr-link"`, `"frame-link"`, `"artifact-comment-monitor"`, `"artifact-autoreact-ledger"`,
		`"bridge-session"`, `"history-suppression"`, `"file-history-snapshot"`, `"file-history-delta"`,
		`"attribution-snapshot"`, `"permission-mode"`, `"isolation-latch"`, `"session-owner"`,
		`"dev-mods"`, `"memory-mode"`, `"data-flow-records"`, `"data-flow-incomplete"`, `"derived-from"`,
		`"worktree-state"`, `"content-replacement"`, `"fork-context-ref"`, `"observer-ref"`,
		`"resume-head-vouch"`, `"repl-mode"`:
		return classSkip
	}
	return classUnknown
}

// entry holds the raw top-level members of a line the reader decodes.
type entry struct {
	typ, subtype, uuid, parent, session, agent, request, ts, message []byte
	content, origin, requestedModel, summary, leaf                   []byte
	sidechain, meta, compactSummary                                  bool
}

// decodeLine appends the records of one complete line (without its newline).
func (r *Reader) decodeLine(dst []Record, line []byte, start, end int64) []Record {
	if start == 0 {
		line = bytes.TrimPrefix(line, bom)
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return dst
	}
	var e entry
	m := newMembers(line)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case `"type"`:
			switch classify(v) {
			case classSkip:
				r.stats.Skipped++
				return dst
			case classUnknown:
				r.stats.Unknown++
				return dst
			}
			e.typ = v
		case `"subtype"`:
			e.subtype = v
		case `"uuid"`:
			e.uuid = v
		case `"parentUuid"`:
			e.parent = v
		case `"sessionId"`:
			e.session = v
		case `"agentId"`:
			e.agent = v
		case `"requestId"`:
			e.request = v
		case `"timestamp"`:
			e.ts = v
		case `"message"`:
			e.message = v
		case `"content"`:
			e.content = v
		case `"origin"`:
			e.origin = v
		case `"requestedModel"`:
			e.requestedModel = v
		case `"summary"`:
			e.summary = v
		case `"leafUuid"`:
			e.leaf = v
		case `"isSidechain"`:
			e.sidechain = isTrue(v)
		case `"isMeta"`:
			e.meta = isTrue(v)
		case `"isCompactSummary"`:
			e.compactSummary = isTrue(v)
		}
	}
	if m.bad || e.typ == nil {
		r.stats.Bad++
		return dst
	}
	base := Record{Start: start, Offset: end, IsSidechain: e.sidechain}
	base.Type, _ = str(e.typ)
	base.UUID, _ = str(e.uuid)
	base.ParentUUID, _ = str(e.parent)
	base.SessionID, _ = str(e.session)
	base.AgentID, _ = str(e.agent)
	base.RequestID, _ = str(e.request)
	base.RequestedModel, _ = str(e.requestedModel)
	if ts, ok := str(e.ts); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			base.Time = t
		}
	}
	n := len(dst)
	var ok bool
	switch base.Type {
	case "assistant":
		dst, ok = decodeAssistant(dst, &base, e.message)
	case "user":
		dst, ok = decodeUser(dst, &base, &e)
	case "system":
		dst, ok = decodeSystem(dst, &base, &e)
	case "summary":
		base.Kind = KindSummary
		base.Text, ok = str(e.summary)
		base.ParentUUID, _ = str(e.leaf)
		if ok {
			dst = append(dst, base)
		}
	case "cost-state":
		dst, ok = decodeCostState(dst, &base, line)
	}
	switch {
	case !ok:
		r.stats.Bad++
		return dst[:n]
	case len(dst) == n:
		r.stats.Skipped++
	}
	return dst
}

// decodeAssistant: one record per thinking/text/tool_use group, then usage.
func decodeAssistant(dst []Record, base *Record, msg []byte) ([]Record, bool) {
	var content, usage []byte
	m := newMembers(msg)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case `"id"`:
			base.MessageID, _ = str(v)
		case `"model"`:
			base.Model, _ = str(v)
		case `"content"`:
			content = v
		case `"usage"`:
			usage = v
		}
	}
	if m.bad {
		return dst, false
	}
	var text, thinking []string
	var tools []Record
	if content != nil && content[0] == '[' {
		el := newElements(content)
		for {
			v, ok := el.next()
			if !ok {
				break
			}
			var typ, txt, think, id, name, input []byte
			bm := newMembers(v)
			for {
				k, bv, ok := bm.next()
				if !ok {
					break
				}
				switch string(k) {
				case `"type"`:
					typ = bv
				case `"text"`:
					txt = bv
				case `"thinking"`:
					think = bv
				case `"id"`:
					id = bv
				case `"name"`:
					name = bv
				case `"input"`:
					input = bv
				}
			}
			if bm.bad {
				continue // a block of unexpected shape: the others still count
			}
			switch string(typ) {
			case `"text"`:
				if s, ok := str(txt); ok {
					text = append(text, s)
				}
			case `"thinking"`:
				if s, ok := str(think); ok {
					thinking = append(thinking, s)
				}
			case `"tool_use"`, `"server_tool_use"`:
				rec := *base
				rec.Kind = KindToolUse
				rec.ToolUseID, _ = str(id)
				rec.ToolName, _ = str(name)
				if input != nil {
					rec.ToolInput, _ = rawCopy(input)
				}
				tools = append(tools, rec)
			}
		}
		if el.bad {
			return dst, false
		}
	}
	if len(thinking) > 0 {
		rec := *base
		rec.Kind, rec.Text = KindThinking, strings.Join(thinking, "\n\n")
		dst = append(dst, rec)
	}
	if len(text) > 0 {
		rec := *base
		rec.Kind, rec.Text = KindText, strings.Join(text, "\n\n")
		dst = append(dst, rec)
	}
	dst = append(dst, tools...)
	if usage != nil && usage[0] == '{' {
		u, ok := decodeUsage(usage)
		if !ok {
			return dst, false
		}
		rec := *base
		rec.Kind, rec.Usage = KindUsage, u
		dst = append(dst, rec)
	}
	return dst, true
}

func decodeUsage(v []byte) (*Usage, bool) {
	u := &Usage{}
	m := newMembers(v)
	for {
		k, val, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case `"input_tokens"`:
			u.InputTokens, _ = integer(val)
		case `"output_tokens"`:
			u.OutputTokens, _ = integer(val)
		case `"cache_creation_input_tokens"`:
			u.CacheCreationInputTokens, _ = integer(val)
		case `"cache_read_input_tokens"`:
			u.CacheReadInputTokens, _ = integer(val)
		case `"cache_creation"`:
			u.CacheCreation5mInputTokens, u.CacheCreation1hInputTokens = cacheCreation(val)
		case `"server_tool_use"`:
			sm := newMembers(val)
			for {
				sk, sv, ok := sm.next()
				if !ok {
					break
				}
				if string(sk) == `"web_search_requests"` {
					u.WebSearchRequests, _ = integer(sv)
				}
			}
		case `"service_tier"`:
			u.ServiceTier, _ = str(val)
		case `"inference_geo"`:
			u.InferenceGeo, _ = str(val)
		case `"speed"`:
			u.Speed, _ = str(val)
		case `"iterations"`:
			u.Iterations = iterations(val)
		}
	}
	return u, !m.bad
}

func cacheCreation(v []byte) (m5, h1 int64) {
	m := newMembers(v)
	for {
		k, val, ok := m.next()
		if !ok {
			return m5, h1
		}
		switch string(k) {
		case `"ephemeral_5m_input_tokens"`:
			m5, _ = integer(val)
		case `"ephemeral_1h_input_tokens"`:
			h1, _ = integer(val)
		}
	}
}

func iterations(v []byte) []Iteration {
	if len(v) == 0 || v[0] != '[' {
		return nil
	}
	var out []Iteration
	el := newElements(v)
	for {
		item, ok := el.next()
		if !ok {
			return out
		}
		var it Iteration
		var have int
		m := newMembers(item)
		for {
			k, val, ok := m.next()
			if !ok {
				break
			}
			var dst *int64
			switch string(k) {
			case `"type"`:
				it.Type, _ = str(val)
			case `"input_tokens"`:
				dst = &it.InputTokens
			case `"output_tokens"`:
				dst = &it.OutputTokens
			case `"cache_read_input_tokens"`:
				dst = &it.CacheReadInputTokens
			case `"cache_creation_input_tokens"`:
				dst = &it.CacheCreationInputTokens
			case `"cache_creation"`:
				it.CacheCreation5mInputTokens, it.CacheCreation1hInputTokens = cacheCreation(val)
			}
			if dst != nil {
				if n, ok := integer(val); ok {
					*dst = n
					have++
				}
			}
		}
		if m.bad {
			continue
		}
		it.Complete = have == 4
		out = append(out, it)
	}
}

// decodeUser: the prompt (or compaction summary), or the tool results.
func decodeUser(dst []Record, base *Record, e *entry) ([]Record, bool) {
	if e.origin != nil {
		om := newMembers(e.origin)
		for {
			k, v, ok := om.next()
			if !ok {
				break
			}
			if string(k) == `"kind"` {
				base.Origin, _ = str(v)
			}
		}
	}
	var content []byte
	m := newMembers(e.message)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		if string(k) == `"content"` {
			content = v
		}
	}
	if m.bad || content == nil {
		return dst, false
	}
	kind := KindUserPrompt
	if e.compactSummary {
		kind = KindCompactSummary
	}
	if content[0] == '"' {
		s, ok := str(content)
		if !ok {
			return dst, false
		}
		if e.meta && !e.compactSummary {
			return dst, true
		}
		rec := *base
		rec.Kind, rec.Text = kind, s
		return append(dst, rec), true
	}
	if content[0] != '[' {
		return dst, false
	}
	var text []string
	el := newElements(content)
	for {
		v, ok := el.next()
		if !ok {
			break
		}
		var typ, txt, id, inner []byte
		var isErr bool
		bm := newMembers(v)
		for {
			k, bv, ok := bm.next()
			if !ok {
				break
			}
			switch string(k) {
			case `"type"`:
				typ = bv
			case `"text"`:
				txt = bv
			case `"tool_use_id"`:
				id = bv
			case `"content"`:
				inner = bv
			case `"is_error"`:
				isErr = isTrue(bv)
			}
		}
		if bm.bad {
			continue
		}
		switch string(typ) {
		case `"text"`:
			if s, ok := str(txt); ok {
				text = append(text, s)
			}
		case `"tool_result"`:
			rec := *base
			rec.Kind, rec.IsError = KindToolResult, isErr
			rec.ToolUseID, _ = str(id)
			rec.Text = resultText(inner)
			dst = append(dst, rec)
		}
	}
	if el.bad {
		return dst, false
	}
	if len(text) > 0 && !(e.meta && !e.compactSummary) {
		rec := *base
		rec.Kind, rec.Text = kind, strings.Join(text, "\n\n")
		dst = append(dst, rec)
	}
	return dst, true
}

// resultText is a tool result's content as text: the string, or its text
// blocks joined.
func resultText(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if v[0] == '"' {
		s, _ := str(v)
		return s
	}
	if v[0] != '[' {
		return ""
	}
	var parts []string
	el := newElements(v)
	for {
		item, ok := el.next()
		if !ok {
			break
		}
		var typ, txt []byte
		m := newMembers(item)
		for {
			k, val, ok := m.next()
			if !ok {
				break
			}
			switch string(k) {
			case `"type"`:
				typ = val
			case `"text"`:
				txt = val
			}
		}
		if string(typ) == `"text"` {
			if s, ok := str(txt); ok {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, "\n")
}

func decodeSystem(dst []Record, base *Record, e *entry) ([]Record, bool) {
	base.Subtype, _ = str(e.subtype)
	if !strings.HasSuffix(base.Subtype, "compact_boundary") {
		return dst, true // stop_hook_summary, api errors, …: not part of the conversation here
	}
	rec := *base
	rec.Kind = KindCompactBoundary
	rec.Text, _ = str(e.content)
	return append(dst, rec), true
}

// costLine is the JSON shape of a cost-state entry.
type costLine struct {
	TotalCostUSD        *float64 `json:"totalCostUSD"`
	TotalAPIDuration    float64  `json:"totalAPIDuration"`
	TotalDuration       float64  `json:"totalDuration"`
	TotalLinesAdded     float64  `json:"totalLinesAdded"`
	TotalLinesRemoved   float64  `json:"totalLinesRemoved"`
	HasUnknownModelCost bool     `json:"hasUnknownModelCost"`
	ModelUsage          map[string]struct {
		InputTokens                         float64 `json:"inputTokens"`
		OutputTokens                        float64 `json:"outputTokens"`
		CacheReadInputTokens                float64 `json:"cacheReadInputTokens"`
		CacheCreationInputTokens            float64 `json:"cacheCreationInputTokens"`
		CacheCreationEphemeral5mInputTokens float64 `json:"cacheCreationEphemeral5mInputTokens"`
		CacheCreationEphemeral1hInputTokens float64 `json:"cacheCreationEphemeral1hInputTokens"`
		WebSearchRequests                   float64 `json:"webSearchRequests"`
		CostUSD                             float64 `json:"costUSD"`
	} `json:"modelUsage"`
}

// decodeCostState decodes the (small, rare) cost-state line in full.
func decodeCostState(dst []Record, base *Record, line []byte) ([]Record, bool) {
	var c costLine
	if err := json.Unmarshal(line, &c); err != nil || c.TotalCostUSD == nil {
		return dst, false
	}
	cs := &CostState{
		TotalCostUSD:        *c.TotalCostUSD,
		TotalAPIDurationMS:  ms(c.TotalAPIDuration),
		TotalDurationMS:     ms(c.TotalDuration),
		LinesAdded:          ms(c.TotalLinesAdded),
		LinesRemoved:        ms(c.TotalLinesRemoved),
		HasUnknownModelCost: c.HasUnknownModelCost,
		ModelUsage:          make(map[string]ModelUsage, len(c.ModelUsage)),
	}
	for model, u := range c.ModelUsage {
		cs.ModelUsage[model] = ModelUsage{
			InputTokens:                ms(u.InputTokens),
			OutputTokens:               ms(u.OutputTokens),
			CacheReadInputTokens:       ms(u.CacheReadInputTokens),
			CacheCreationInputTokens:   ms(u.CacheCreationInputTokens),
			CacheCreation5mInputTokens: ms(u.CacheCreationEphemeral5mInputTokens),
			CacheCreation1hInputTokens: ms(u.CacheCreationEphemeral1hInputTokens),
			WebSearchRequests:          ms(u.WebSearchRequests),
			CostUSD:                    u.CostUSD,
		}
	}
	rec := *base
	rec.Kind, rec.Cost = KindCostState, cs
	return append(dst, rec), true
}

// ms rounds a JSON number Claude Code writes (milliseconds, counts) to an
// integer, clamped to what an int64 holds.
func ms(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f > 1<<62:
		return 1 << 62
	case f < -(1 << 62):
		return -(1 << 62)
	}
	return int64(math.Round(f))
}
