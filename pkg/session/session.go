// Package session is mpm's one read model of Claude Code sessions: typed
// Session, AgentRun, ToolCall, Task and Usage state, built from the stream of
// committed events (raw /hook events and the /claude events the transcript
// watcher reads), in seq order.
//
// It owns the meaning of Claude Code's events: which agent a tool call
// belongs to (agent_id), when a background subagent really ended
// (SubagentStop or its task notification, not the Agent tool's PostToolUse,
// which fires at launch), what a <task-notification> prompt is (not a typed
// prompt), what a session's status is, its todo list, and its tokens and
// cost. As it applies an event it says which derived events (/session,
// /claude status_changed, /agent, /todo, /memory) the event gives rise to;
// the server ingests those like any other event.
//
// The model is pure: no store, no goroutines, no clock. The HTTP API, the
// derived namespaces and the dashboard render what it holds; the browser
// derives nothing.
package session

import (
	"encoding/json"
	"time"
)

// Status is what a session is doing.
type Status string

// Session statuses. A session whose main agent finished its turn while
// background subagents still run is running, not idle.
const (
	StatusRunning    Status = "running"
	StatusWaiting    Status = "waiting_for_permission"
	StatusIdle       Status = "idle"
	StatusCompacting Status = "compacting"
	StatusEnded      Status = "ended"
)

// MainAgent is the agent_id of a session's main agent. Claude Code's hook
// events carry no agent_id outside subagents.
const MainAgent = "main"

// Session is one Claude Code session as mpm knows it.
type Session struct {
	ID             string     `json:"session_id"`
	Title          string     `json:"title"`   // the first typed prompt, else the project
	CWD            string     `json:"cwd"`     // the latest working directory
	Project        string     `json:"project"` // the last element of the first cwd
	Model          string     `json:"model"`   // the main agent's latest model
	Status         Status     `json:"status"`
	StartedAt      time.Time  `json:"started_at"`
	EndedAt        *time.Time `json:"ended_at"`
	LastActivity   time.Time  `json:"last_activity"`
	Duration       float64    `json:"duration_seconds"` // from start to end, or to the last activity
	Prompts        int        `json:"prompts"`          // typed prompts only
	ToolCalls      int        `json:"tool_calls"`
	Errors         int        `json:"errors"` // failed tool calls, denials, API failures
	RunningAgents  int        `json:"running_agents"`
	Agents         []AgentRun `json:"agents"`
	Usage          Usage      `json:"usage"`
	Attention      *Attention `json:"attention"` // what needs the user, if anything
	PermissionMode string     `json:"permission_mode,omitempty"`
	Source         string     `json:"source,omitempty"`     // SessionStart's source: startup, resume, clear, compact
	EndReason      string     `json:"end_reason,omitempty"` // SessionEnd's reason
	PID            int64      `json:"claude_pid,omitempty"` // the Claude Code process, when mpm-hook could tell
	TranscriptPath string     `json:"transcript_path,omitempty"`
	LastSeq        int64      `json:"last_seq"` // the seq of the last event applied to it
}

// Detail is a session with what only its own page needs.
type Detail struct {
	Session
	Tasks     []Task     `json:"tasks"`      // the todo list, every agent's
	InFlight  []ToolCall `json:"in_flight"`  // tool calls not finished yet
	LastError *Failure   `json:"last_error"` // the latest failure, if any
}

// AgentRun is one subagent of a session.
type AgentRun struct {
	AgentID     string     `json:"agent_id"`
	AgentType   string     `json:"agent_type"`
	ParentID    string     `json:"parent_id"`   // MainAgent or the spawning subagent's id
	ToolUseID   string     `json:"tool_use_id"` // of the Agent/Task call that spawned it
	Description string     `json:"description"`
	Background  bool       `json:"background"`
	Status      string     `json:"status"` // running, completed, failed
	StartedAt   time.Time  `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at"`
	Duration    float64    `json:"duration_ms"`
	ToolCalls   int        `json:"tool_calls"`
	Result      string     `json:"result,omitempty"` // its last message (clipped)
	Usage       Usage      `json:"usage"`
	Transcript  string     `json:"transcript_path,omitempty"`
}

// Agent run statuses.
const (
	AgentRunning   = "running"
	AgentCompleted = "completed"
	AgentFailed    = "failed"
)

// ToolCall is one tool use, paired pre/post by tool_use_id.
type ToolCall struct {
	ToolUseID string     `json:"tool_use_id"`
	AgentID   string     `json:"agent_id"`
	ToolName  string     `json:"tool_name"`
	Status    string     `json:"status"` // running, completed, failed, denied, interrupted
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Duration  float64    `json:"duration_ms"`
	Error     string     `json:"error,omitempty"`
	Summary   string     `json:"summary,omitempty"` // a short line about the input (command, file …)
	SpawnedID string     `json:"spawned_agent_id,omitempty"`
	PreSeq    int64      `json:"pre_seq,omitempty"`  // the pre_tool event (its input)
	PostSeq   int64      `json:"post_seq,omitempty"` // the post_tool(_use_failure) event (its result)
}

// Tool call statuses.
const (
	ToolRunning     = "running"
	ToolCompleted   = "completed"
	ToolFailed      = "failed"
	ToolDenied      = "denied"
	ToolInterrupted = "interrupted"
)

// Task is one item of a session's todo list, from TodoWrite or the task
// tools (TaskCreate, TaskUpdate) and the TaskCreated/TaskCompleted hooks.
type Task struct {
	ID         string `json:"id"`
	AgentID    string `json:"agent_id"`
	Content    string `json:"content"`
	ActiveForm string `json:"activeForm,omitempty"`
	Status     string `json:"status"` // pending, in_progress, completed
	Source     string `json:"source"` // todo_write or task_tools
}

// Attention is what a session waits for from the user, or a failure they
// should see.
type Attention struct {
	Kind     string    `json:"kind"` // permission or failure
	Message  string    `json:"message"`
	ToolName string    `json:"tool_name,omitempty"`
	Since    time.Time `json:"since"`
	Seq      int64     `json:"seq"`
}

// Failure is an error a session met.
type Failure struct {
	Kind    string    `json:"kind"` // tool, denied, api
	Message string    `json:"message"`
	Time    time.Time `json:"timestamp"`
	Seq     int64     `json:"seq"`
}

// Tokens counts an API usage.
type Tokens struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	CacheCreation5mTokens    int64 `json:"cache_creation_5m_input_tokens"`
	CacheCreation1hTokens    int64 `json:"cache_creation_1h_input_tokens"`
	WebSearchRequests        int64 `json:"web_search_requests"`
}

func (t *Tokens) add(o Tokens, sign int64) {
	t.InputTokens += sign * o.InputTokens
	t.OutputTokens += sign * o.OutputTokens
	t.CacheCreationInputTokens += sign * o.CacheCreationInputTokens
	t.CacheReadInputTokens += sign * o.CacheReadInputTokens
	t.CacheCreation5mTokens += sign * o.CacheCreation5mTokens
	t.CacheCreation1hTokens += sign * o.CacheCreation1hTokens
	t.WebSearchRequests += sign * o.WebSearchRequests
}

// Total is every token of the usage, input and output.
func (t Tokens) Total() int64 {
	return t.InputTokens + t.OutputTokens + t.CacheCreationInputTokens + t.CacheReadInputTokens
}

// Cost sources: where a cost_usd comes from.
const (
	CostClaude  = "claude"  // Claude Code's own cost-state entry
	CostPricing = "pricing" // computed from mpm's pricing table
	CostOTel    = "otel"    // Claude Code's OpenTelemetry api_request records (no transcript was read)
	CostUnknown = "unknown" // a model without a price: cost_usd is null or covers only the priced models
	CostNone    = "none"    // no usage seen
)

// Usage is tokens and cost, in total and by model.
type Usage struct {
	Tokens
	CostUSD    *float64               `json:"cost_usd"` // null when no price is known
	CostSource string                 `json:"cost_source"`
	ByModel    map[string]*ModelUsage `json:"by_model"`
	Unpriced   []string               `json:"unpriced_models,omitempty"`
}

// ModelUsage is one model's share of a Usage.
type ModelUsage struct {
	Tokens
	CostUSD    *float64 `json:"cost_usd"`
	CostSource string   `json:"cost_source"`
	Messages   int      `json:"messages"`
}

// Entry is one item of a session's conversation, in time order: a typed
// prompt, assistant text, thinking, a tool call, a task notification, or a
// subagent's start and end. The model keeps only what places an entry; its
// text, a tool's input and result are read from the stored events (Seq,
// and for tools the ToolCall's PreSeq/PostSeq) when a page is rendered.
type Entry struct {
	Kind      string    `json:"kind"`
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"timestamp"`
	AgentID   string    `json:"agent_id"`
	MessageID string    `json:"message_id,omitempty"`
	Model     string    `json:"model,omitempty"`
	Text      string    `json:"text,omitempty"`
	Tool      *ToolView `json:"tool,omitempty"`
	Agent     *AgentRun `json:"agent,omitempty"` // for agent_start / agent_end
	toolUseID string
}

// Conversation entry kinds.
const (
	EntryPrompt       = "prompt"
	EntryText         = "text"
	EntryThinking     = "thinking"
	EntryTool         = "tool"
	EntryNotification = "task_notification"
	EntryAgentStart   = "agent_start"
	EntryAgentEnd     = "agent_end"
	EntryFinal        = "final_message" // Stop's last_assistant_message, for sessions whose transcript mpmd cannot read
	EntryFailure      = "failure"
)

// ToolView is a tool call with its input and result, for the conversation.
type ToolView struct {
	ToolCall
	Input  json.RawMessage `json:"input,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// Page is a slice of a session's conversation.
type Page struct {
	SessionID string  `json:"session_id"`
	Offset    int     `json:"offset"`
	Total     int     `json:"total"`
	Entries   []Entry `json:"entries"`
}
