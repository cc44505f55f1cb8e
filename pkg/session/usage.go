package session

import (
	"sort"
)

// message is one API message's usage. Claude Code writes one message over
// several transcript lines that share message.id, each with the message's
// usage so far; the last one seen counts, once.
type message struct {
	model  string
	agent  string
	tokens Tokens
	cost   float64
	priced bool
}

// usageAcc sums messages, in total and by model.
type usageAcc struct {
	tokens  Tokens
	byModel map[string]*modelAcc
}

type modelAcc struct {
	tokens   Tokens
	cost     float64
	unpriced int // messages without a price
	messages int
}

func (u *usageAcc) add(msg *message, sign int64) {
	u.tokens.add(msg.tokens, sign)
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
// cost-state transcript entry): the whole session, subagents included.
type costState struct {
	total   float64
	byModel map[string]float64
	unknown bool // hasUnknownModelCost
}

// render is the public Usage: tokens summed from the messages; the cost
// from Claude Code's cost-state when there is one, else priced per message.
func (u *usageAcc) render(cs *costState) Usage {
	out := Usage{Tokens: u.tokens, ByModel: map[string]*ModelUsage{}, CostSource: CostNone}
	var total float64
	var unpriced []string
	for name, ma := range u.byModel {
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
	if len(u.byModel) > 0 {
		sort.Strings(unpriced)
		out.Unpriced = unpriced
		t := total
		out.CostUSD = &t
		out.CostSource = CostPricing
		if len(unpriced) > 0 {
			out.CostSource = CostUnknown
			if len(unpriced) == len(u.byModel) {
				out.CostUSD = nil
			}
		}
	}
	if cs != nil {
		t := cs.total
		out.CostUSD, out.CostSource = &t, CostClaude
		out.Unpriced = nil
		for name, c := range cs.byModel {
			mu := out.ByModel[name]
			if mu == nil {
				mu = &ModelUsage{}
				out.ByModel[name] = mu
			}
			c := c
			mu.CostUSD, mu.CostSource = &c, CostClaude
		}
		if cs.unknown {
			// Claude Code itself had no price for a model: its total
			// leaves that model out.
			out.CostSource = CostUnknown
		}
	}
	return out
}

// applyUsage records a message's usage for the session and its agent.
func (a *applier) applyUsage() {
	d := a.data
	model := str(d, "model")
	if model == "" || model == "<synthetic>" {
		return
	}
	id := str(d, "message_id")
	if id == "" {
		id = a.ev.ID
	}
	key := id + "\x00" + str(d, "request_id")
	msg := &message{model: model, agent: a.agent(), tokens: Tokens{
		InputTokens:              integer(d["input_tokens"]),
		OutputTokens:             integer(d["output_tokens"]),
		CacheCreationInputTokens: integer(d["cache_creation_input_tokens"]),
		CacheReadInputTokens:     integer(d["cache_read_input_tokens"]),
		CacheCreation5mTokens:    integer(d["cache_creation_5m_input_tokens"]),
		CacheCreation1hTokens:    integer(d["cache_creation_1h_input_tokens"]),
		WebSearchRequests:        integer(d["web_search_requests"]),
	}}
	if a.m.pricer != nil {
		msg.cost, msg.priced = a.m.pricer.Cost(PriceRequest{
			Model: model, Tokens: msg.tokens,
			InferenceGeo: str(d, "inference_geo"), Speed: str(d, "speed"), ServiceTier: str(d, "service_tier"),
		})
	}
	st := a.st
	as := a.agentState()
	if old, ok := st.messages[key]; ok {
		st.usage.add(old, -1)
		if oa := st.agents[old.agent]; oa != nil {
			oa.usage.add(old, -1)
		}
	}
	st.messages[key] = msg
	st.usage.add(msg, 1)
	if as != nil {
		as.usage.add(msg, 1)
	}
	if msg.agent == MainAgent {
		st.s.Model = model
	}
}

// applyCostState takes Claude Code's cost-state entry.
func (a *applier) applyCostState() {
	d := a.data
	cs := &costState{total: number(d["total_cost_usd"]), byModel: map[string]float64{}}
	cs.unknown, _ = d["has_unknown_model_cost"].(bool)
	if mu, ok := d["model_usage"].(map[string]any); ok {
		for name, v := range mu {
			if m, ok := v.(map[string]any); ok {
				cs.byModel[name] = number(m["cost_usd"])
			}
		}
	}
	a.st.costState = cs
}
