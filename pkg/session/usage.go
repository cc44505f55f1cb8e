package session

import (
	"sort"
	"time"
)

// message is one API message's usage. Claude Code writes one message over
// several transcript lines that share message.id, each with the message's
// usage so far; the last one seen counts, once.
type message struct {
	model  string // the model Claude Code asked for (cost-state's key), else the API's
	time   time.Time
	agent  string
	tokens Tokens
	cost   float64
	priced bool
	otel   bool // from Claude Code's OpenTelemetry api_request, not a transcript
}

// usageAcc sums messages, in total and by model.
type usageAcc struct {
	tokens  Tokens
	byModel map[string]*modelAcc
	fromLog int // messages from transcripts
	otel    int // messages known only from OpenTelemetry
}

type modelAcc struct {
	tokens   Tokens
	cost     float64
	unpriced int // messages without a price
	messages int
}

func (u *usageAcc) add(msg *message, sign int64) {
	u.tokens.add(msg.tokens, sign)
	if msg.otel {
		u.otel += int(sign)
	} else {
		u.fromLog += int(sign)
	}
	if u.byModel == nil {
		u.byModel = map[string]*modelAcc{}
	}
	ma := u.byModel[msg.model]
	if ma == nil {
		ma = &modelAcc{}
		u.byModel[msg.model] = ma
	}
	ma.tokens.add(msg.tokens, sign)
	ma.messages += int(sign)
	if msg.priced {
		ma.cost += float64(sign) * msg.cost
	} else {
		ma.unpriced += int(sign)
	}
	if ma.messages == 0 {
		delete(u.byModel, msg.model)
	}
}

// costState is Claude Code's own account of a session's cost (its
// cost-state transcript entry): the whole session, subagents included,
// cumulative over resumed runs, written when a run ends. It also counts
// calls that write no assistant line (a compaction's summary).
type costState struct {
	time    time.Time // of the entry before it in the transcript
	total   float64
	tokens  Tokens
	byModel map[string]modelCost
	unknown bool // hasUnknownModelCost
}

type modelCost struct {
	tokens Tokens
	cost   float64
}

// render is the public Usage: tokens summed from the messages, priced per
// message. With Claude Code's cost-state, its totals stand for everything
// up to it, and the messages after it (a run still going) are added.
func (u *usageAcc) render(cs *costState, msgs map[string]*message) Usage {
	acc := u
	if cs != nil {
		acc = &usageAcc{}
		for _, m := range msgs {
			if m.time.After(cs.time) {
				acc.add(m, 1)
			}
		}
	}
	out := Usage{Tokens: acc.tokens, ByModel: map[string]*ModelUsage{}, CostSource: CostNone}
	var total float64
	var unpriced []string
	for name, ma := range acc.byModel {
		mu := &ModelUsage{Tokens: ma.tokens, Messages: ma.messages}
		if ma.unpriced == 0 {
			c := ma.cost
			mu.CostUSD, mu.CostSource = &c, CostPricing
			total += c
		} else {
			mu.CostSource = CostUnknown
			unpriced = append(unpriced, name)
		}
		out.ByModel[name] = mu
	}
	if len(acc.byModel) > 0 {
		sort.Strings(unpriced)
		out.Unpriced = unpriced
		t := total
		out.CostUSD = &t
		out.CostSource = CostPricing
		if len(unpriced) > 0 {
			out.CostSource = CostUnknown
			if len(unpriced) == len(acc.byModel) {
				out.CostUSD = nil
			}
		} else if acc.fromLog == 0 && acc.otel > 0 {
			out.CostSource = CostOTel
		}
	}
	if cs == nil {
		return out
	}
	after := len(acc.byModel) > 0
	out.Tokens.add(cs.tokens, 1)
	t := cs.total + total
	out.CostUSD = &t
	switch {
	case cs.unknown:
		// Claude Code itself had no price for a model: its total leaves
		// that model out.
		out.CostSource = CostUnknown
	case after && out.CostSource != CostPricing:
		// messages after the cost-state, some unpriced: keep unknown
	case after:
		out.CostSource = CostPricing
	default:
		out.CostSource = CostClaude
		out.Unpriced = nil
	}
	for name, mc := range cs.byModel {
		mu := out.ByModel[name]
		if mu == nil {
			mu = &ModelUsage{CostSource: CostClaude}
			c := mc.cost
			mu.CostUSD = &c
			out.ByModel[name] = mu
		} else if mu.CostUSD != nil {
			c := *mu.CostUSD + mc.cost
			mu.CostUSD = &c
		}
		mu.Tokens.add(mc.tokens, 1)
	}
	for name, ma := range u.byModel {
		// every message counts, those the cost-state covers too
		if mu := out.ByModel[name]; mu != nil {
			mu.Messages = ma.messages
		}
	}
	return out
}

// applyUsage records a message's usage for the session and its agent: a
// transcript's usage event, or Claude Code's OpenTelemetry api_request. An
// API call both report (the same request_id) counts once, the transcript's
// figures winning.
func (a *applier) applyUsage(otel bool) {
	d := a.data
	model := str(d, "model")
	if model == "" || model == "<synthetic>" {
		return
	}
	st := a.st
	req := str(d, "request_id")
	var msgKey string
	if otel {
		if req == "" {
			req = a.ev.ID
		}
		if st.requests[req] {
			return // the transcript has it
		}
		msgKey = "otel\x00" + req
	} else {
		id := str(d, "message_id")
		if id == "" {
			id = a.ev.ID
		}
		msgKey = id + "\x00" + req
		if req != "" {
			st.requests[req] = true
			a.forget("otel\x00" + req)
		}
	}
	key := orDefault(str(d, "requested_model"), model)
	msg := &message{model: key, time: a.ev.Time, agent: a.agent(), otel: otel, tokens: Tokens{
		InputTokens:              integer(d["input_tokens"]),
		OutputTokens:             integer(d["output_tokens"]),
		CacheCreationInputTokens: integer(d["cache_creation_input_tokens"]),
		CacheReadInputTokens:     integer(d["cache_read_input_tokens"]),
		CacheCreation5mTokens:    integer(d["cache_creation_5m_input_tokens"]),
		CacheCreation1hTokens:    integer(d["cache_creation_1h_input_tokens"]),
		WebSearchRequests:        integer(d["web_search_requests"]),
	}}
	if c, ok := num(d["cost_usd"]); otel && ok && c >= 0 {
		msg.cost, msg.priced = c, true // Claude Code's own figure for the call
	} else if a.m.pricer != nil {
		msg.cost, msg.priced = a.m.pricer.Cost(PriceRequest{
			Model: model, Tokens: msg.tokens,
			InferenceGeo: str(d, "inference_geo"), Speed: str(d, "speed"), ServiceTier: str(d, "service_tier"),
		})
	}
	as := a.agentState()
	a.forget(msgKey)
	st.messages[msgKey] = msg
	st.usage.add(msg, 1)
	if as != nil {
		as.usage.add(msg, 1)
	}
	if msg.agent == MainAgent {
		st.s.Model = model
	}
}

// forget takes a message's usage out again.
func (a *applier) forget(key string) {
	st := a.st
	old, ok := st.messages[key]
	if !ok {
		return
	}
	st.usage.add(old, -1)
	if oa := st.agents[old.agent]; oa != nil {
		oa.usage.add(old, -1)
	}
	delete(st.messages, key)
}

// applyCostState takes Claude Code's cost-state entry; the latest wins
// (they are cumulative).
func (a *applier) applyCostState() {
	d := a.data
	cs := &costState{time: a.ev.Time, total: number(d["total_cost_usd"]), byModel: map[string]modelCost{}}
	cs.unknown, _ = d["has_unknown_model_cost"].(bool)
	if mu, ok := d["model_usage"].(map[string]any); ok {
		for name, v := range mu {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			mc := modelCost{cost: number(m["cost_usd"]), tokens: Tokens{
				InputTokens:              integer(m["input_tokens"]),
				OutputTokens:             integer(m["output_tokens"]),
				CacheCreationInputTokens: integer(m["cache_creation_input_tokens"]),
				CacheReadInputTokens:     integer(m["cache_read_input_tokens"]),
				CacheCreation5mTokens:    integer(m["cache_creation_5m_input_tokens"]),
				CacheCreation1hTokens:    integer(m["cache_creation_1h_input_tokens"]),
				WebSearchRequests:        integer(m["web_search_requests"]),
			}}
			cs.byModel[name] = mc
			cs.tokens.add(mc.tokens, 1)
		}
	}
	if old := a.st.costState; old != nil && old.time.After(cs.time) {
		return // an older run's, read late
	}
	a.st.costState = cs
}
