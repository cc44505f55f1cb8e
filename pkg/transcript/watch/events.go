package watch

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/transcript"
)

// The /claude events the watcher emits.
const (
	EventOutput    = "output"
	EventThinking  = "thinking"
	EventUsage     = "usage"
	EventCostState = "cost_state"
)

// Namespace is where the events go.
const Namespace = "/claude"

// pathHash is the first 16 hex digits of the SHA-256 of a transcript's path,
// the file's part of its events' ids.
func pathHash(path string) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:8])
}

// eventID is tx:<path hash>:<entry uuid, or @<line offset>>:<event name>.
func (f *file) eventID(r *transcript.Record, name string) string {
	ref := r.UUID
	if ref == "" {
		ref = "@" + strconv.FormatInt(r.Start, 10)
	}
	id := "tx:" + f.idHash + ":" + ref + ":" + name
	if len(id) > event.MaxIDLen { // a uuid no Claude Code writes: keep the id bounded and still unique
		sum := sha256.Sum256([]byte(ref))
		id = "tx:" + f.idHash + ":#" + hex.EncodeToString(sum[:16]) + ":" + name
	}
	return id
}

// appendEvents appends the events of record r, if any.
func (f *file) appendEvents(dst []*event.Event, r *transcript.Record) []*event.Event {
	if !r.Time.IsZero() {
		f.lastTime = r.Time
	}
	var name string
	data := make(map[string]any, 18)
	switch r.Kind {
	case transcript.KindText, transcript.KindThinking:
		name = EventOutput
		if r.Kind == transcript.KindThinking {
			name = EventThinking
		} else {
			data["stream"] = "assistant"
		}
		f.message(data, r)
		data["uuid"] = r.UUID
		data["content"] = r.Text
	case transcript.KindUsage:
		if !f.tracker.Observe(r) {
			return dst
		}
		name = EventUsage
		f.message(data, r)
		data["uuid"] = r.UUID
		u := r.Usage
		data["input_tokens"] = u.InputTokens
		data["output_tokens"] = u.OutputTokens
		data["cache_creation_input_tokens"] = u.CacheCreationInputTokens
		data["cache_read_input_tokens"] = u.CacheReadInputTokens
		data["cache_creation_5m_input_tokens"] = u.CacheCreation5mInputTokens
		data["cache_creation_1h_input_tokens"] = u.CacheCreation1hInputTokens
		data["web_search_requests"] = u.WebSearchRequests
		data["service_tier"] = u.ServiceTier
		data["inference_geo"] = u.InferenceGeo
		data["speed"] = u.Speed
	case transcript.KindCostState:
		name = EventCostState
		c := r.Cost
		data["total_cost_usd"] = c.TotalCostUSD
		data["total_api_duration_ms"] = c.TotalAPIDurationMS
		data["total_duration_ms"] = c.TotalDurationMS
		data["lines_added"] = c.LinesAdded
		data["lines_removed"] = c.LinesRemoved
		data["has_unknown_model_cost"] = c.HasUnknownModelCost
		mu := make(map[string]any, len(c.ModelUsage))
		for model, u := range c.ModelUsage {
			mu[model] = map[string]any{
				"input_tokens":                   u.InputTokens,
				"output_tokens":                  u.OutputTokens,
				"cache_read_input_tokens":        u.CacheReadInputTokens,
				"cache_creation_input_tokens":    u.CacheCreationInputTokens,
				"cache_creation_5m_input_tokens": u.CacheCreation5mInputTokens,
				"cache_creation_1h_input_tokens": u.CacheCreation1hInputTokens,
				"web_search_requests":            u.WebSearchRequests,
				"cost_usd":                       u.CostUSD,
			}
		}
		data["model_usage"] = mu
	default:
		return dst
	}
	session := r.SessionID
	if session == "" {
		session = f.session
	}
	data["session_id"] = session
	agent := r.AgentID
	if agent == "" {
		agent = f.agent
	}
	if agent != "" {
		data["agent_id"] = agent
	}
	ts := r.Time
	if ts.IsZero() {
		ts = f.lastTime // cost-state has no timestamp: it follows the line before it
	}
	if !ts.IsZero() {
		data["timestamp"] = event.FormatTime(ts)
	}
	return append(dst, &event.Event{ID: f.eventID(r, name), Namespace: Namespace, Name: name, SessionID: session, Data: data})
}

// message sets the fields naming an assistant line's API message.
func (f *file) message(data map[string]any, r *transcript.Record) {
	data["message_id"] = r.MessageID
	data["request_id"] = r.RequestID
	data["model"] = r.Model
	if r.RequestedModel != "" {
		data["requested_model"] = r.RequestedModel
	}
}
