package claudetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Scenario decides the stand-in's answer to each Messages API call from the
// conversation so far. It is called concurrently (subagents call in
// parallel), so it should be a pure function of the request, or lock what it
// shares. A Reply with no content and no error means "not scripted": the
// stand-in answers a short text and the test fails (see Server).
type Scenario func(req *Request) Reply

// Reply is one scripted answer.
type Reply struct {
	Content []Content
	// StopReason defaults to "tool_use" when Content holds a tool call, else
	// "end_turn".
	StopReason string
	// Usage is reported as the message's usage; zero means DefaultUsage.
	Usage Usage
	// Model is reported as the answering model; default: the requested one.
	Model string
	// Wait, when set, holds the answer back until it is closed (or the
	// request is cancelled, or 30 s pass): a way to make two agents' calls
	// overlap for certain, without sleeping. See Barrier.
	Wait <-chan struct{}
	// Error, when set, answers with an API error instead of a message.
	// Claude Code retries 429, 5xx and 529 answers a number of times.
	Error *APIError
}

// APIError is an error answer of the Messages API.
type APIError struct {
	Status  int    // e.g. 400, 529
	Type    string // e.g. invalid_request_error, overloaded_error
	Message string
}

// Content is one block of a scripted answer: build it with Text, Thinking
// or ToolUse.
type Content struct {
	Type      string // text, thinking, tool_use
	Text      string // text, or thinking
	Signature string // thinking; default: a fixed fake signature
	ID        string // tool_use; default: a fresh toolu_… id
	Name      string // tool_use
	Input     json.RawMessage
}

// Text is a text block.
func Text(s string) Content { return Content{Type: "text", Text: s} }

// Thinking is a thinking block (streamed as thinking_delta then
// signature_delta).
func Thinking(s string) Content { return Content{Type: "thinking", Text: s} }

// ToolUse is a tool call; input is marshalled to JSON (a json.RawMessage or
// []byte is used as it is, so a test can send input that is not an object).
func ToolUse(name string, input any) Content {
	var raw []byte
	switch v := input.(type) {
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	default:
		var err error
		if raw, err = json.Marshal(input); err != nil {
			panic(fmt.Sprintf("claudetest.ToolUse(%s): %v", name, err))
		}
	}
	return Content{Type: "tool_use", Name: name, Input: raw}
}

// WithID sets a tool call's id (default: a fresh one).
func (c Content) WithID(id string) Content { c.ID = id; return c }

// TextReply is a reply of one text block.
func TextReply(s string) Reply { return Reply{Content: []Content{Text(s)}} }

// ToolReply is a reply that calls one tool.
func ToolReply(name string, input any) Reply { return Reply{Content: []Content{ToolUse(name, input)}} }

// Then appends blocks to a reply.
func (r Reply) Then(c ...Content) Reply {
	r.Content = append(append([]Content(nil), r.Content...), c...)
	return r
}

// WithUsage sets a reply's usage.
func (r Reply) WithUsage(u Usage) Reply { r.Usage = u; return r }

// scripted reports whether the scenario said anything.
func (r Reply) scripted() bool { return len(r.Content) > 0 || r.Error != nil }

func (r Reply) stopReason() string {
	if r.StopReason != "" {
		return r.StopReason
	}
	for _, c := range r.Content {
		if c.Type == "tool_use" {
			return "tool_use"
		}
	}
	return "end_turn"
}

// Usage is the token usage of one answer, as the Messages API reports it:
// the cache writes split by lifetime (their sum is
// cache_creation_input_tokens).
type Usage struct {
	InputTokens                int64 `json:"input_tokens"`
	OutputTokens               int64 `json:"output_tokens"`
	CacheReadInputTokens       int64 `json:"cache_read_input_tokens"`
	CacheCreation5mInputTokens int64 `json:"cache_creation_5m_input_tokens"`
	CacheCreation1hInputTokens int64 `json:"cache_creation_1h_input_tokens"`
}

// DefaultUsage is the usage of a reply that sets none.
var DefaultUsage = Usage{InputTokens: 100, OutputTokens: 20, CacheReadInputTokens: 50, CacheCreation5mInputTokens: 10}

// CacheCreationInputTokens is the sum of the cache writes.
func (u Usage) CacheCreationInputTokens() int64 {
	return u.CacheCreation5mInputTokens + u.CacheCreation1hInputTokens
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		InputTokens:                u.InputTokens + v.InputTokens,
		OutputTokens:               u.OutputTokens + v.OutputTokens,
		CacheReadInputTokens:       u.CacheReadInputTokens + v.CacheReadInputTokens,
		CacheCreation5mInputTokens: u.CacheCreation5mInputTokens + v.CacheCreation5mInputTokens,
		CacheCreation1hInputTokens: u.CacheCreation1hInputTokens + v.CacheCreation1hInputTokens,
	}
}

// IsZero reports whether every count is 0.
func (u Usage) IsZero() bool { return u == Usage{} }

// Rule is one row of a rule table: the first rule whose When holds answers.
type Rule struct {
	Name  string                  // for failure messages
	When  func(req *Request) bool // nil: always
	Reply func(req *Request) Reply
}

// Rules is a Scenario that answers with the first matching rule.
func Rules(rules ...Rule) Scenario {
	return func(req *Request) Reply {
		for _, r := range rules {
			if r.When == nil || r.When(req) {
				return r.Reply(req)
			}
		}
		return Reply{}
	}
}

// Barrier is closed once n parties have arrived: a reply's Wait that makes
// n agents' calls overlap.
type Barrier struct {
	mu   sync.Mutex
	left int
	ch   chan struct{}
}

// NewBarrier is a barrier for n parties.
func NewBarrier(n int) *Barrier { return &Barrier{left: n, ch: make(chan struct{})} }

// Arrive counts one party and returns the channel that is closed when all
// have arrived. Calling it more than n times is harmless.
func (b *Barrier) Arrive() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left > 0 {
		b.left--
		if b.left == 0 {
			close(b.ch)
		}
	}
	return b.ch
}

// replyWaitCap bounds how long a reply's Wait may hold an answer back, so a
// scenario's mistake fails the test instead of hanging it.
const replyWaitCap = 30 * time.Second
