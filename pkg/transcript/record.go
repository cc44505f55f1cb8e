// Package transcript reads Claude Code's session transcripts (the JSONL files
// under ~/.claude/projects) into typed records: assistant text, thinking,
// tool use, usage per assistant line, user prompts, tool results, compaction
// markers and Claude Code's own cost-state.
//
// It is pure: bytes in, records out. It opens no file and starts no
// goroutine; the watcher that tails files lives in pkg/transcript/watch. A
// Reader is fed a file's bytes in chunks of any size and keeps a partial last
// line until it is completed, so a file can be followed as it grows and
// resumed from a byte offset (Record.Offset, Reader.Offset).
//
// Claude Code writes one JSON object per line. Most of a transcript's bytes
// are entries nobody needs here (attachments with prompt snapshots, the API
// request shapes and blobs), so the Reader finds each line's top-level "type"
// with a small scanner that skips nested values without decoding them, and
// decodes only user, assistant, system, summary and cost-state lines.
// Anything it cannot use is skipped and counted (Stats), never an error: a
// line that is not JSON, JSON of an unexpected shape, an unknown entry type,
// a line over the length limit (skipped without being buffered).
package transcript

import (
	"encoding/json"
	"time"
)

// Kind says what a Record holds.
type Kind uint8

// The kinds of record. An assistant line yields its Thinking, Text and
// ToolUse records (in that order) followed by one Usage record when it
// carries usage; a user line yields a UserPrompt (or CompactSummary) or
// one ToolResult per tool_result block.
const (
	KindText            Kind = iota + 1 // assistant text: the line's text blocks joined
	KindThinking                        // assistant thinking: the line's thinking blocks joined
	KindToolUse                         // one tool_use block of an assistant line
	KindUsage                           // the usage an assistant line carries (Usage set)
	KindUserPrompt                      // a user message's own text (not meta, not a tool result)
	KindToolResult                      // one tool_result block of a user line
	KindCompactBoundary                 // a system compact_boundary entry: the conversation was compacted here
	KindCompactSummary                  // the user message holding the summary written by a compaction
	KindSummary                         // a legacy summary entry (Text = summary, ParentUUID = its leafUuid)
	KindCostState                       // Claude Code's session cost totals (Cost set)
)

var kindNames = [...]string{
	KindText: "text", KindThinking: "thinking", KindToolUse: "tool_use", KindUsage: "usage",
	KindUserPrompt: "user_prompt", KindToolResult: "tool_result", KindCompactBoundary: "compact_boundary",
	KindCompactSummary: "compact_summary", KindSummary: "summary", KindCostState: "cost_state",
}

// String is the kind's snake_case name ("text", "tool_use", "cost_state" …).
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Record is one typed item read from a transcript line. Strings are copies;
// a Record stays valid after the bytes it came from are reused.
type Record struct {
	Kind Kind
	// Type is the entry's "type" ("assistant", "user", "system", "cost-state" …).
	Type string
	// Subtype is a system entry's "subtype" (compact_boundary …).
	Subtype string

	UUID       string
	ParentUUID string
	SessionID  string
	// AgentID is the entry's agentId: set on the lines of a subagent's transcript.
	AgentID     string
	IsSidechain bool

	// MessageID, Model and RequestID identify the API message an assistant
	// line belongs to; one message is split over several lines sharing them.
	MessageID string
	RequestID string
	Model     string
	// RequestedModel is the model Claude Code asked for (its key in
	// cost-state's modelUsage), when the line names it.
	RequestedModel string

	// Time is the entry's timestamp; zero when the line has none (cost-state).
	Time time.Time

	// Text: assistant text or thinking, the prompt, a tool result's text, a
	// compaction's content, a summary.
	Text string

	ToolUseID string
	ToolName  string
	ToolInput json.RawMessage // valid JSON (KindToolUse)
	IsError   bool            // a tool result marked is_error

	// Origin is a user line's origin.kind ("task-notification" for the
	// message Claude Code sends when a background task ends), else "".
	Origin string

	Usage *Usage     // KindUsage
	Cost  *CostState // KindCostState

	// Start is the byte offset of the line's first byte; Offset the byte
	// offset just past its newline, where reading resumes.
	Start  int64
	Offset int64
}

// Usage is the token usage of one API message, as an assistant line reports
// it (the message's final usage, repeated on each of its lines).
type Usage struct {
	InputTokens              int64
	OutputTokens             int64
	CacheCreationInputTokens int64 // total cache writes
	CacheReadInputTokens     int64
	// The cache writes split by lifetime, where the API reports it.
	CacheCreation5mInputTokens int64
	CacheCreation1hInputTokens int64
	WebSearchRequests          int64
	ServiceTier                string
	InferenceGeo               string
	Speed                      string
	// Iterations are the per-iteration usages the API may report for one
	// message; pricing uses them for the long-prompt threshold.
	Iterations []Iteration
}

// Iteration is one entry of usage.iterations.
type Iteration struct {
	Type                       string
	InputTokens                int64
	OutputTokens               int64
	CacheReadInputTokens       int64
	CacheCreationInputTokens   int64
	CacheCreation5mInputTokens int64
	CacheCreation1hInputTokens int64
	// Complete reports that the four token counts (input, output, cache
	// read, cache creation) were all present as numbers.
	Complete bool
}

// Equal reports whether u and v hold the same usage.
func (u *Usage) Equal(v *Usage) bool {
	if u == nil || v == nil {
		return u == v
	}
	if u.InputTokens != v.InputTokens || u.OutputTokens != v.OutputTokens ||
		u.CacheCreationInputTokens != v.CacheCreationInputTokens || u.CacheReadInputTokens != v.CacheReadInputTokens ||
		u.CacheCreation5mInputTokens != v.CacheCreation5mInputTokens || u.CacheCreation1hInputTokens != v.CacheCreation1hInputTokens ||
		u.WebSearchRequests != v.WebSearchRequests || u.ServiceTier != v.ServiceTier ||
		u.InferenceGeo != v.InferenceGeo || u.Speed != v.Speed || len(u.Iterations) != len(v.Iterations) {
		return false
	}
	for i := range u.Iterations {
		if u.Iterations[i] != v.Iterations[i] {
			return false
		}
	}
	return true
}

// CostState is Claude Code's own account of a session's cost, written as a
// cost-state entry at the end of each run: totals for the whole session,
// subagents included, cumulative across resumes.
type CostState struct {
	TotalCostUSD        float64
	TotalAPIDurationMS  int64
	TotalDurationMS     int64
	LinesAdded          int64
	LinesRemoved        int64
	HasUnknownModelCost bool
	// ModelUsage is keyed by the model as Claude Code requested it.
	ModelUsage map[string]ModelUsage
}

// ModelUsage is one model's totals in a CostState.
type ModelUsage struct {
	InputTokens                int64
	OutputTokens               int64
	CacheReadInputTokens       int64
	CacheCreationInputTokens   int64
	CacheCreation5mInputTokens int64
	CacheCreation1hInputTokens int64
	WebSearchRequests          int64
	CostUSD                    float64
}

// Stats counts what a Reader has read.
type Stats struct {
	Lines     int64 // complete lines, blank ones included
	Records   int64 // records returned
	Skipped   int64 // lines of a known entry type that yields no record (attachment, api-request-blob …)
	Unknown   int64 // lines of an entry type this package does not know
	Bad       int64 // lines that are not JSON objects, or of an unexpected shape
	Oversized int64 // lines over the length limit, skipped unread
}
