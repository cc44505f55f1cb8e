package claudecode_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/claudetest"
	"github.com/mpm-dev/mpm/pkg/session"
)

// The session model's assertions: what mpmd's /api/sessions says of each
// scenario's session, against what Claude Code really did.

// sessionDetail is GET /api/sessions/{id} as the API serves it.
type sessionDetail struct {
	session.Detail
	Seq int64 `json:"seq"`
}

// model polls /api/sessions/{id} until ready holds (or 15 s pass) and
// returns the last answer.
func model(t *testing.T, o *outcome, ready func(*sessionDetail) bool) *sessionDetail {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, b := o.Daemon.Do(t, "GET", "/api/sessions/"+url.PathEscape(o.SessionID), nil)
		var d sessionDetail
		if code == 200 {
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatalf("GET /api/sessions/%s: %v in %s", o.SessionID, err, b)
			}
			if ready(&d) {
				return &d
			}
		}
		if time.Now().After(deadline) {
			if code != 200 {
				t.Fatalf("GET /api/sessions/%s: %d %s", o.SessionID, code, b)
			}
			return &d
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ended waits for the session to have ended in the model.
func ended(t *testing.T, o *outcome) *sessionDetail {
	t.Helper()
	d := model(t, o, func(d *sessionDetail) bool { return d.Status == session.StatusEnded })
	if d.Status != session.StatusEnded {
		t.Errorf("status %s, want ended", d.Status)
	}
	return d
}

// conversation is the session's whole conversation.
func conversation(t *testing.T, o *outcome) []session.Entry {
	t.Helper()
	code, b := o.Daemon.Do(t, "GET", "/api/sessions/"+url.PathEscape(o.SessionID)+"/transcript?limit=2000", nil)
	if code != 200 {
		t.Fatalf("transcript: %d %s", code, b)
	}
	var p session.Page
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Total != len(p.Entries) {
		t.Errorf("transcript total %d, %d entries", p.Total, len(p.Entries))
	}
	return p.Entries
}

// tools is the session's tool calls from /api/sessions/{id}/tools.
func tools(t *testing.T, o *outcome) []session.ToolCall {
	t.Helper()
	code, b := o.Daemon.Do(t, "GET", "/api/sessions/"+url.PathEscape(o.SessionID)+"/tools?limit=2000", nil)
	if code != 200 {
		t.Fatalf("tools: %d %s", code, b)
	}
	var r struct{ Tools []session.ToolCall }
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.Tools
}

func describeTools(tcs []session.ToolCall) string {
	var b strings.Builder
	for _, tc := range tcs {
		fmt.Fprintf(&b, "\n  %s %s agent=%s %s", tc.ToolUseID, tc.ToolName, tc.AgentID, tc.Status)
	}
	return b.String()
}

// checkAgents checks the subagent runs against what Claude Code did: one
// per Agent call, tied to it, completed, each with its own Bash call.
func checkAgents(t *testing.T, o *outcome, d *sessionDetail, n int) {
	t.Helper()
	launched := map[string]string{} // agentId → tool_use_id
	for _, h := range o.hooksOf("PostToolUse") {
		if str(h.Fields, "tool_name") == "Agent" {
			launched[str(h.Fields, "tool_response", "agentId")] = str(h.Fields, "tool_use_id")
		}
	}
	if len(d.Agents) != n {
		t.Fatalf("%d agent runs, want %d: %+v", len(d.Agents), n, d.Agents)
	}
	tcs := tools(t, o)
	for _, a := range d.Agents {
		if launched[a.AgentID] == "" || a.ToolUseID != launched[a.AgentID] {
			t.Errorf("agent %s tied to call %q, want %q", a.AgentID, a.ToolUseID, launched[a.AgentID])
		}
		if a.ParentID != session.MainAgent || a.AgentType != "general-purpose" || !a.Background || a.Status != session.AgentCompleted || a.ToolCalls != 1 {
			t.Errorf("agent run %+v", a)
		}
		// Completed when it stopped, after its own work — not when the
		// Agent call's PostToolUse fired at launch. (The times are
		// mpm-hook's, so compare with the model's own tool calls.)
		for _, tc := range tcs {
			if tc.AgentID == a.AgentID && (a.EndedAt == nil || tc.EndedAt == nil || a.EndedAt.Before(*tc.EndedAt)) {
				t.Errorf("agent %s ended at %v, before its %s call ended (%v)", a.AgentID, a.EndedAt, tc.ToolName, tc.EndedAt)
			}
			if tc.ToolUseID == a.ToolUseID && tc.EndedAt != nil && a.EndedAt != nil && !a.EndedAt.After(*tc.EndedAt) {
				t.Errorf("agent %s ended with its launch (%v)", a.AgentID, tc.EndedAt)
			}
		}
		if a.Result == "" {
			t.Errorf("agent %s has no result", a.AgentID)
		}
	}
	for id := range launched {
		found := false
		for _, tc := range tcs {
			found = found || tc.AgentID == id && tc.ToolName == "Bash" && tc.Status == session.ToolCompleted
		}
		if !found {
			t.Errorf("no completed Bash call attributed to agent %s:%s", id, describeTools(tcs))
		}
	}
	if d.Prompts != 1 {
		t.Errorf("%d prompts, want 1: the task notifications are not prompts", d.Prompts)
	}
	notes := 0
	for _, e := range conversation(t, o) {
		if e.Kind == session.EntryNotification {
			notes++
		}
	}
	if notes != n {
		t.Errorf("%d task notifications in the conversation, want %d", notes, n)
	}
}

// checkToolsModel: the tools scenario's session — one completed Bash call,
// one failed, the rejected call never a tool call (only PostToolBatch saw
// it), the thinking and text of Claude's answers in the conversation.
func checkToolsModel(t *testing.T, o *outcome) {
	t.Helper()
	d := ended(t, o)
	checkUsage(t, o, d) // waits until the transcript is read
	tcs := tools(t, o)
	if len(tcs) != 2 || tcs[0].Status != session.ToolCompleted || tcs[1].Status != session.ToolFailed || !strings.Contains(tcs[1].Error, "Exit code 3") {
		t.Errorf("tool calls:%s", describeTools(tcs))
	}
	if d.Errors != 1 || d.LastError == nil || d.LastError.Kind != "tool" || d.Prompts != 1 || d.Title != toolsPrompt {
		t.Errorf("errors %d (%+v), prompts %d, title %q", d.Errors, d.LastError, d.Prompts, d.Title)
	}
	kinds := map[string]int{}
	for _, e := range conversation(t, o) {
		kinds[e.Kind]++
		if e.Kind == session.EntryThinking && e.Text != "First a command that works." {
			t.Errorf("thinking %q", e.Text)
		}
	}
	if kinds[session.EntryPrompt] != 1 || kinds[session.EntryTool] != 2 || kinds[session.EntryThinking] != 1 || kinds[session.EntryText] != 2 {
		t.Errorf("conversation kinds %v", kinds)
	}
}

// checkTodos: the todo list ends with the scenario's two items, completed.
func checkTodos(t *testing.T, o *outcome, source string) {
	t.Helper()
	d := model(t, o, func(d *sessionDetail) bool { return d.Status == session.StatusEnded && len(d.Tasks) == 2 })
	for _, task := range d.Tasks {
		if task.Status != "completed" || task.Source != source || task.AgentID != session.MainAgent {
			t.Errorf("task %+v", task)
		}
	}
	if len(d.Tasks) != 2 || d.Tasks[0].Content != "Write the plan" || d.Tasks[1].Content != "Check ünïcode" {
		t.Errorf("tasks %+v", d.Tasks)
	}
	// /todo carries the list as it changed
	code, b := o.Daemon.Do(t, "GET", "/api/events?namespace=todo&event=task_completed&session_id="+url.QueryEscape(o.SessionID), nil)
	var r struct{ Events []json.RawMessage }
	if code != 200 || json.Unmarshal(b, &r) != nil || len(r.Events) != 2 {
		t.Errorf("/todo task_completed: %d %s", code, b)
	}
}

// checkUsage: the session's tokens are the sum the stand-in reported (which
// the scenarios check equals Claude Code's own cost-state), counted once per
// API message, and the cost is Claude Code's.
func checkUsage(t *testing.T, o *outcome, d *sessionDetail) {
	t.Helper()
	want := o.Usage
	d = model(t, o, func(d *sessionDetail) bool {
		return d.Usage.InputTokens == want.InputTokens && d.Usage.OutputTokens == want.OutputTokens && d.Usage.CostSource == session.CostClaude
	})
	u := d.Usage
	got := fmt.Sprintf("in %d out %d read %d write %d (5m %d, 1h %d)", u.InputTokens, u.OutputTokens, u.CacheReadInputTokens,
		u.CacheCreationInputTokens, u.CacheCreation5mTokens, u.CacheCreation1hTokens)
	exp := fmt.Sprintf("in %d out %d read %d write %d (5m %d, 1h %d)", want.InputTokens, want.OutputTokens, want.CacheReadInputTokens,
		want.CacheCreationInputTokens(), want.CacheCreation5mInputTokens, want.CacheCreation1hInputTokens)
	if got != exp {
		t.Errorf("session tokens %s, want %s", got, exp)
	}
	cs, ok := claudetest.ReadCostState(t, o.Transcript)
	if !ok {
		t.Fatalf("no cost-state in %s", o.Transcript)
	}
	if u.CostSource != session.CostClaude || u.CostUSD == nil || *u.CostUSD != cs.TotalCostUSD {
		t.Errorf("cost %v (%s), want Claude Code's %v", u.CostUSD, u.CostSource, cs.TotalCostUSD)
	}
	for m, mu := range u.ByModel {
		if mu.CostSource != session.CostClaude && mu.CostSource != session.CostPricing {
			t.Errorf("model %s: cost source %s", m, mu.CostSource)
		}
	}
	// every agent's own usage adds up to the session's
	var sum session.Tokens
	for _, a := range d.Agents {
		sum.InputTokens += a.Usage.InputTokens
		if a.Usage.CostSource != session.CostPricing || a.Usage.CostUSD == nil || *a.Usage.CostUSD <= 0 {
			t.Errorf("agent %s usage %+v", a.AgentID, a.Usage)
		}
	}
	if len(d.Agents) > 0 && (sum.InputTokens == 0 || sum.InputTokens >= u.InputTokens) {
		t.Errorf("the agents' input tokens (%d) are not a part of the session's (%d)", sum.InputTokens, u.InputTokens)
	}
}
