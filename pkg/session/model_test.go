package session_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/session"
)

var t0 = time.Date(2026, 12, 3, 11, 33, 41, 0, time.UTC)

// feeder plays events into a model in seq order, as the server does.
type feeder struct {
	tb  testing.TB
	m   *session.Model
	seq int64
	now time.Time
}

func newFeeder(tb testing.TB, p session.Pricer) *feeder {
	return &feeder{tb: tb, m: session.New(p, session.Limits{}), now: t0}
}

// hook applies one hook input as mpm-hook delivers it: a /hook event named
// after hook_event_name.
func (f *feeder) hook(data map[string]any) []session.Derived {
	f.tb.Helper()
	name, _ := data["hook_event_name"].(string)
	return f.event("/hook", event.HookEventName(name), data)
}

func (f *feeder) event(ns, name string, data map[string]any) []session.Derived {
	f.seq++
	f.now = f.now.Add(10 * time.Millisecond)
	ev := &event.Event{Seq: f.seq, ID: fmt.Sprintf("ev-%d", f.seq), Namespace: ns, Name: name, Data: data}
	if err := ev.Prepare(f.now); err != nil {
		f.tb.Fatal(err)
	}
	return f.m.Apply(ev)
}

func names(ds []session.Derived) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.Namespace+" "+d.Name)
	}
	return out
}

func hook(name string, fields map[string]any) map[string]any {
	m := map[string]any{"hook_event_name": name, "session_id": "sess-1", "cwd": "/work/app", "transcript_path": "/home/user/.claude/projects/-work-app/sess-1.jsonl"}
	for k, v := range fields {
		m[k] = v
	}
	return m
}

func mustSession(tb testing.TB, m *session.Model, id string) session.Detail {
	tb.Helper()
	d, ok := m.Get(id)
	if !ok {
		tb.Fatalf("no session %s", id)
	}
	return d
}

// TestDerivationTable walks one session of the foreground era through the
// table in docs/EVENTS.md.
func TestDerivationTable(t *testing.T) {
	f := newFeeder(t, nil)
	steps := []struct {
		data  map[string]any
		want  []string
		check func(t *testing.T, d []session.Derived)
	}{
		{hook("SessionStart", map[string]any{"source": "startup", "model": "claude-sonnet-4", "claude_pid": 4242.0}),
			[]string{"/session start", "/claude status_changed"}, func(t *testing.T, d []session.Derived) {
				if d[1].Data["pid"] != int64(4242) || d[1].Data["status"] != "idle" {
					t.Errorf("claude status_changed = %v", d[1].Data)
				}
				if d[0].Data["working_directory"] != "/work/app" || d[0].Data["launch_method"] != "startup" || d[0].Data["model"] != "claude-sonnet-4" {
					t.Errorf("start = %v", d[0].Data)
				}
			}},
		{hook("InstructionsLoaded", map[string]any{"file_path": "/work/app/CLAUDE.md", "memory_type": "Project", "load_reason": "session_start"}),
			[]string{"/memory loaded"}, nil},
		{hook("UserPromptSubmit", map[string]any{"prompt": "add auth\nand tests"}),
			[]string{"/session status_changed", "/claude status_changed"}, func(t *testing.T, d []session.Derived) {
				if d[0].Data["status"] != "running" || d[0].Data["previous_status"] != "idle" {
					t.Errorf("status_changed = %v", d[0].Data)
				}
			}},
		{hook("UserPromptSubmit", map[string]any{"prompt": "again"}), []string{}, nil},
		{hook("PreToolUse", map[string]any{"tool_name": "Bash", "tool_use_id": "t1", "tool_input": map[string]any{"command": "ls"}}), []string{}, nil},
		{hook("Notification", map[string]any{"message": "Claude needs your permission to use Bash", "notification_type": "permission_prompt"}),
			[]string{"/session status_changed", "/claude status_changed"}, nil},
		{hook("PostToolUse", map[string]any{"tool_name": "Bash", "tool_use_id": "t1", "tool_response": map[string]any{"stdout": "x"}, "duration_ms": 12.0}),
			[]string{"/session status_changed", "/claude status_changed"}, nil},
		{hook("PreToolUse", map[string]any{"tool_name": "TodoWrite", "tool_use_id": "t2", "tool_input": map[string]any{"todos": []any{
			map[string]any{"content": "Write tests", "status": "in_progress", "activeForm": "Writing tests"},
			map[string]any{"content": "Ship", "status": "pending", "activeForm": "Shipping"},
		}}}), []string{"/todo updated", "/todo task_added", "/todo task_added"}, func(t *testing.T, d []session.Derived) {
			stats := d[0].Data["stats"].(map[string]any)
			if stats["total"] != 2 || stats["in_progress"] != 1 || stats["pending"] != 1 || stats["completed"] != 0 {
				t.Errorf("stats = %v", stats)
			}
			todos := d[0].Data["todos"].([]any)
			if todos[0].(map[string]any)["id"] != "1" || todos[1].(map[string]any)["content"] != "Ship" {
				t.Errorf("todos = %v", todos)
			}
		}},
		{hook("PreToolUse", map[string]any{"tool_name": "TodoWrite", "tool_use_id": "t3", "tool_input": map[string]any{"todos": []any{
			map[string]any{"content": "Write tests", "status": "completed"},
			map[string]any{"content": "Ship", "status": "in_progress"},
		}}}), []string{"/todo updated", "/todo task_completed"}, nil},
		// An older Claude Code: a foreground Task with no agent ids anywhere.
		{hook("PreToolUse", map[string]any{"tool_name": "Task", "tool_use_id": "t4", "tool_input": map[string]any{
			"subagent_type": "engineer", "description": "Implement user authentication system", "prompt": "…"}}),
			[]string{"/agent task_delegated"}, func(t *testing.T, d []session.Derived) {
				if d[0].Data["agent"] != "engineer" || d[0].Data["task"] != "Implement user authentication system" || d[0].Data["status"] != "started" {
					t.Errorf("task_delegated = %v", d[0].Data)
				}
			}},
		{hook("SubagentStop", map[string]any{"stop_hook_active": false}), []string{}, nil},
		{hook("PostToolUse", map[string]any{"tool_name": "Task", "tool_use_id": "t4", "duration_ms": json.Number("5321"),
			"tool_input": map[string]any{"subagent_type": "engineer", "description": "Implement user authentication system"}}),
			[]string{"/agent task_completed"}, func(t *testing.T, d []session.Derived) {
				if d[0].Data["status"] != "completed" || d[0].Data["duration_ms"] != 5321.0 {
					t.Errorf("task_completed = %v", d[0].Data)
				}
			}},
		{hook("PostToolUseFailure", map[string]any{"tool_name": "Agent", "tool_use_id": "t5", "error": "interrupted",
			"tool_input": map[string]any{"subagent_type": "qa"}}),
			[]string{"/agent task_completed"}, func(t *testing.T, d []session.Derived) {
				if d[0].Data["status"] != "failed" || d[0].Data["error"] != "interrupted" {
					t.Errorf("failed task = %v", d[0].Data)
				}
			}},
		{hook("PostToolUse", map[string]any{"tool_name": "Edit", "tool_use_id": "t6",
			"tool_input": map[string]any{"file_path": "/work/app/CLAUDE.md", "old_string": "a", "new_string": "Use JWT"}}),
			[]string{"/memory updated"}, nil},
		{hook("Stop", map[string]any{"stop_hook_active": false, "last_assistant_message": "Done.", "background_tasks": []any{}}),
			[]string{"/session status_changed", "/claude status_changed"}, nil},
		{hook("Notification", map[string]any{"message": "Build finished", "notification_type": "info"}),
			[]string{"/claude output"}, nil},
		{hook("PreCompact", map[string]any{"trigger": "manual"}), []string{"/session status_changed", "/claude status_changed"}, nil},
		{hook("PostCompact", map[string]any{"trigger": "manual"}), []string{"/session status_changed", "/claude status_changed"}, func(t *testing.T, d []session.Derived) {
			if d[0].Data["status"] != "idle" {
				t.Errorf("after compaction: %v", d[0].Data)
			}
		}},
		{hook("FutureEvent", map[string]any{"x": 1.0}), []string{}, nil},
		{hook("SessionEnd", map[string]any{"reason": "clear"}),
			[]string{"/session end", "/session status_changed", "/claude status_changed"}, func(t *testing.T, d []session.Derived) {
				if got := d[0].Data["duration_seconds"]; got != 0.19 {
					t.Errorf("duration_seconds = %v", got)
				}
			}},
	}
	for i, s := range steps {
		got := f.hook(s.data)
		if fmt.Sprint(names(got)) != fmt.Sprint(s.want) {
			t.Fatalf("step %d (%v): derived %v, want %v", i, s.data["hook_event_name"], names(got), s.want)
		}
		for _, g := range got {
			if g.Data["session_id"] != "sess-1" || g.Data["source_event_id"] != fmt.Sprintf("ev-%d", f.seq) || g.Data["timestamp"] != event.FormatTime(f.now) {
				t.Errorf("step %d: %s %s lacks session_id/source_event_id/timestamp: %v", i, g.Namespace, g.Name, g.Data)
			}
			if err := event.ValidateName(g.Name); err != nil || !event.IsNamespace(g.Namespace) {
				t.Errorf("step %d: %s %s is not deliverable", i, g.Namespace, g.Name)
			}
		}
		if s.check != nil {
			s.check(t, got)
		}
	}
	d := mustSession(t, f.m, "sess-1")
	if d.Status != session.StatusEnded || d.Prompts != 2 || d.ToolCalls != 6 || d.Errors != 1 || d.Title != "add auth …" || d.Project != "app" || d.Model != "claude-sonnet-4" || d.PID != 4242 {
		t.Errorf("session = %+v", d.Session)
	}
	if len(d.Tasks) != 2 || d.Tasks[0].Status != "completed" {
		t.Errorf("tasks = %+v", d.Tasks)
	}
}

// loadHooks reads a JSON Lines file of hook inputs as Claude Code gave them.
func loadHooks(tb testing.TB, path string) []map[string]any {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// Two parallel background subagents, recorded from Claude Code 2.1.332:
// each is attributed its own tool call, completes when it stops (not when
// the Agent tool's PostToolUse fires at launch), the task notifications
// are not typed prompts, and the session is running while they work.
func TestTwoBackgroundAgents(t *testing.T) {
	f := newFeeder(t, nil)
	var completed []session.Derived
	var statuses []string
	for _, h := range loadHooks(t, "testdata/two-background-agents.jsonl") {
		for _, d := range f.hook(h) {
			switch d.Namespace + " " + d.Name {
			case "/agent task_completed":
				if h["hook_event_name"] != "SubagentStop" {
					t.Errorf("task_completed derived from %v, want SubagentStop", h["hook_event_name"])
				}
				completed = append(completed, d)
			case "/agent agent_switched":
				t.Errorf("agent_switched for a background agent: %v", d.Data)
			case "/session status_changed":
				statuses = append(statuses, fmt.Sprint(h["hook_event_name"], "→", d.Data["status"]))
			}
		}
	}
	sid := "d7e48aee-9368-4c80-a16b-8747364778e8"
	d := mustSession(t, f.m, sid)
	if d.Prompts != 1 || d.Status != session.StatusEnded || d.ToolCalls != 4 || d.RunningAgents != 0 {
		t.Errorf("session = prompts %d status %s tool_calls %d running %d", d.Prompts, d.Status, d.ToolCalls, d.RunningAgents)
	}
	want := map[string]string{"aa154b8ada56de8c7": "toolu_msg_0001_2", "acddcbf8a45f80f24": "toolu_msg_0001_3"}
	if len(d.Agents) != 2 {
		t.Fatalf("agents = %+v", d.Agents)
	}
	for _, a := range d.Agents {
		if want[a.AgentID] != a.ToolUseID || a.ParentID != session.MainAgent || a.Status != session.AgentCompleted || a.ToolCalls != 1 ||
			!a.Background || a.AgentType != "general-purpose" || !strings.HasPrefix(a.Result, "Subagent ") || a.Duration <= 0 || a.EndedAt == nil {
			t.Errorf("agent = %+v", a)
		}
	}
	if len(completed) != 2 {
		t.Errorf("task_completed sent %d times, want 2", len(completed))
	}
	// The first Stop came while both agents ran: no change to idle then.
	// Each task notification starts a turn of its own.
	if got := strings.Join(statuses, " "); got != "UserPromptSubmit→running Stop→idle UserPromptSubmit→running Stop→idle SessionEnd→ended" {
		t.Errorf("status changes: %s", got)
	}
	tools, _, _ := f.m.Tools(sid, 0, 0)
	byID := map[string]session.ToolCall{}
	for _, tc := range tools {
		byID[tc.ToolUseID] = tc
	}
	if tc := byID["toolu_msg_0002_1"]; tc.AgentID != "aa154b8ada56de8c7" || tc.Status != session.ToolCompleted || tc.Duration != 387 {
		t.Errorf("subagent A's Bash call = %+v", tc)
	}
	if tc := byID["toolu_msg_0001_2"]; tc.ToolName != "Agent" || tc.SpawnedID != "aa154b8ada56de8c7" || tc.AgentID != session.MainAgent {
		t.Errorf("the Agent call = %+v", tc)
	}
	entries, total, _ := f.m.Entries(sid, 0, 0)
	kinds := map[string]int{}
	for _, e := range entries {
		kinds[e.Kind]++
	}
	if kinds[session.EntryNotification] != 2 || kinds[session.EntryPrompt] != 1 || kinds[session.EntryAgentStart] != 2 || kinds[session.EntryAgentEnd] != 2 || total != len(entries) {
		t.Errorf("conversation kinds = %v", kinds)
	}
}

// The status is running, not idle, while background agents work after the
// main agent's Stop.
func TestStopWithBackgroundTasksKeepsRunning(t *testing.T) {
	f := newFeeder(t, nil)
	f.hook(hook("UserPromptSubmit", map[string]any{"prompt": "go"}))
	f.hook(hook("Stop", map[string]any{"background_tasks": []any{map[string]any{"id": "a1", "type": "subagent", "status": "running"}}}))
	if d := mustSession(t, f.m, "sess-1"); d.Status != session.StatusRunning {
		t.Errorf("status = %s", d.Status)
	}
	f.hook(hook("Stop", map[string]any{"background_tasks": []any{}}))
	if d := mustSession(t, f.m, "sess-1"); d.Status != session.StatusIdle {
		t.Errorf("status = %s", d.Status)
	}
}

// A foreground agent (run_in_background: false) switches the active agent
// and back; task_completed comes once, at SubagentStop, not again at the
// Agent call's PostToolUse.
func TestForegroundAgentSwitches(t *testing.T) {
	f := newFeeder(t, nil)
	f.hook(hook("PreToolUse", map[string]any{"tool_name": "Agent", "tool_use_id": "t1",
		"tool_input": map[string]any{"subagent_type": "Explore", "description": "look", "prompt": "p", "run_in_background": false}}))
	got := names(f.hook(hook("SubagentStart", map[string]any{"agent_id": "x1", "agent_type": "Explore"})))
	if fmt.Sprint(got) != "[/agent agent_switched]" {
		t.Fatalf("SubagentStart derived %v", got)
	}
	f.hook(hook("PreToolUse", map[string]any{"agent_id": "x1", "agent_type": "Explore", "tool_name": "Grep", "tool_use_id": "t2"}))
	f.hook(hook("PostToolUse", map[string]any{"agent_id": "x1", "agent_type": "Explore", "tool_name": "Grep", "tool_use_id": "t2"}))
	got = names(f.hook(hook("SubagentStop", map[string]any{"agent_id": "x1", "agent_type": "Explore", "last_assistant_message": "found it"})))
	if fmt.Sprint(got) != "[/agent task_completed /agent agent_switched]" {
		t.Fatalf("SubagentStop derived %v", got)
	}
	got = names(f.hook(hook("PostToolUse", map[string]any{"tool_name": "Agent", "tool_use_id": "t1",
		"tool_response": map[string]any{"status": "completed", "agentId": "x1", "content": []any{map[string]any{"type": "text", "text": "found it"}}}})))
	if len(got) != 0 {
		t.Errorf("PostToolUse of a finished foreground agent derived %v", got)
	}
	d := mustSession(t, f.m, "sess-1")
	if len(d.Agents) != 1 || d.Agents[0].ToolCalls != 1 || d.Agents[0].Background || d.Agents[0].ToolUseID != "t1" || d.Agents[0].Result != "found it" {
		t.Errorf("agents = %+v", d.Agents)
	}
}

// A task notification alone ends a run mpmd saw launch but not stop (its
// SubagentStop was lost), once; a second notification for the same task
// does not complete it again.
func TestTaskNotificationEndsRun(t *testing.T) {
	f := newFeeder(t, nil)
	f.hook(hook("PreToolUse", map[string]any{"tool_name": "Agent", "tool_use_id": "t1", "tool_input": map[string]any{"description": "d"}}))
	f.hook(hook("PostToolUse", map[string]any{"tool_name": "Agent", "tool_use_id": "t1", "tool_response": map[string]any{"status": "async_launched", "agentId": "a9"}}))
	note := "<task-notification>\n<task-id>a9</task-id>\n<tool-use-id>t1</tool-use-id>\n<status>failed</status>\n<summary>Agent \"d\" failed</summary>\n<result>it broke </result> really</result>\n<usage><subagent_tokens>200</subagent_tokens><tool_uses>3</tool_uses><duration_ms>625</duration_ms></usage>\n</task-notification>"
	got := f.hook(hook("UserPromptSubmit", map[string]any{"prompt": note}))
	if fmt.Sprint(names(got)) != "[/agent task_notification /agent task_completed]" {
		t.Fatalf("notification derived %v", names(got))
	}
	n := got[0].Data
	if n["task_id"] != "a9" || n["tool_use_id"] != "t1" || n["status"] != "failed" || n["result"] != "it broke </result> really" ||
		n["usage"].(map[string]any)["tool_uses"] != 3.0 {
		t.Errorf("task_notification = %v", n)
	}
	if got[1].Data["status"] != "failed" || got[1].Data["agent_id"] != "a9" {
		t.Errorf("task_completed = %v", got[1].Data)
	}
	got = f.hook(hook("UserPromptSubmit", map[string]any{"prompt": note}))
	if fmt.Sprint(names(got)) != "[/agent task_notification]" {
		t.Errorf("a repeated notification derived %v", names(got))
	}
	if d := mustSession(t, f.m, "sess-1"); d.Prompts != 0 || d.Title != "" && d.Title != "app" {
		t.Errorf("a task notification counted as a prompt: %+v", d.Session)
	}
}

// Permission waits and failures set attention; answering clears it.
func TestAttention(t *testing.T) {
	f := newFeeder(t, nil)
	f.hook(hook("UserPromptSubmit", map[string]any{"prompt": "go"}))
	f.hook(hook("PreToolUse", map[string]any{"tool_name": "Bash", "tool_use_id": "t1"}))
	f.hook(hook("PermissionRequest", map[string]any{"tool_name": "Bash", "tool_input": map[string]any{"command": "rm -rf x"}}))
	d := mustSession(t, f.m, "sess-1")
	if d.Status != session.StatusWaiting || d.Attention == nil || d.Attention.Kind != "permission" || d.Attention.ToolName != "Bash" {
		t.Fatalf("after PermissionRequest: %s %+v", d.Status, d.Attention)
	}
	if l := f.m.List(); l[0].Attention == nil {
		t.Errorf("the list does not carry attention")
	}
	f.hook(hook("PermissionDenied", map[string]any{"tool_name": "Bash", "tool_use_id": "t1", "reason": "user said no"}))
	d = mustSession(t, f.m, "sess-1")
	if d.Status != session.StatusRunning || d.Attention != nil || d.Errors != 1 || d.LastError.Kind != "denied" {
		t.Errorf("after PermissionDenied: %s %+v %d %+v", d.Status, d.Attention, d.Errors, d.LastError)
	}
	if tools, _, _ := f.m.Tools("sess-1", 0, 0); tools[0].Status != session.ToolDenied {
		t.Errorf("tool = %+v", tools[0])
	}
	f.hook(hook("StopFailure", map[string]any{"error": "rate_limit"}))
	d = mustSession(t, f.m, "sess-1")
	if d.Status != session.StatusIdle || d.Attention == nil || d.Attention.Kind != "failure" || d.Errors != 2 {
		t.Errorf("after StopFailure: %s %+v %d", d.Status, d.Attention, d.Errors)
	}
}

type fixedPricer map[string]float64 // model → $ per token of any kind

func (p fixedPricer) Cost(r session.PriceRequest) (float64, bool) {
	rate, ok := p[r.Model]
	return rate * float64(r.Tokens.Total()), ok
}

func usage(sid, agent, msg, model string, in, out float64) map[string]any {
	d := map[string]any{"session_id": sid, "message_id": msg, "request_id": "req_" + msg, "model": model,
		"input_tokens": in, "output_tokens": out, "cache_creation_input_tokens": 0.0, "cache_read_input_tokens": 0.0}
	if agent != "" {
		d["agent_id"] = agent
	}
	return d
}

// Tokens count once per message however often its usage is reported;
// cost is priced per message, Claude Code's cost-state wins when present,
// and a model without a price is unknown, never a silent 0.
func TestUsageAndCost(t *testing.T) {
	f := newFeeder(t, fixedPricer{"m1": 0.001})
	f.event("/claude", "usage", usage("s", "", "msg1", "m1", 100, 1))
	f.event("/claude", "usage", usage("s", "", "msg1", "m1", 100, 50)) // the same message, its final usage
	f.event("/claude", "usage", usage("s", "a1", "msg2", "m1", 10, 10))
	f.event("/claude", "usage", usage("s", "", "msg3", "<synthetic>", 999, 999))
	d := mustSession(t, f.m, "s")
	u := d.Usage
	if u.InputTokens != 110 || u.OutputTokens != 60 || u.CostSource != session.CostPricing || u.CostUSD == nil || fmt.Sprintf("%.3f", *u.CostUSD) != "0.170" {
		t.Fatalf("usage = %+v cost %v", u, u.CostUSD)
	}
	if d.Model != "m1" || len(d.Agents) != 1 || d.Agents[0].Usage.InputTokens != 10 || d.Agents[0].Usage.CostSource != session.CostPricing {
		t.Errorf("model %q agents %+v", d.Model, d.Agents)
	}
	f.event("/claude", "usage", usage("s", "", "msg4", "mystery", 5, 5))
	u = mustSession(t, f.m, "s").Usage
	if u.CostSource != session.CostUnknown || len(u.Unpriced) != 1 || u.ByModel["mystery"].CostUSD != nil {
		t.Errorf("with an unknown model: %+v", u)
	}
	// Claude Code's cost-state stands for everything before it (here more
	// than the transcript showed: a compaction's call writes no line).
	f.event("/claude", "cost_state", map[string]any{"session_id": "s", "total_cost_usd": 0.5,
		"model_usage": map[string]any{
			"m1":      map[string]any{"cost_usd": 0.4, "input_tokens": 120.0, "output_tokens": 60.0},
			"mystery": map[string]any{"cost_usd": 0.1, "input_tokens": 5.0, "output_tokens": 5.0}}})
	u = mustSession(t, f.m, "s").Usage
	if u.CostSource != session.CostClaude || *u.CostUSD != 0.5 || *u.ByModel["mystery"].CostUSD != 0.1 || u.InputTokens != 125 || u.OutputTokens != 65 {
		t.Errorf("with cost-state: %+v", u)
	}
	// A message after it (the next run, not yet ended) is added, priced.
	f.event("/claude", "usage", usage("s", "", "msg5", "m1", 10, 0))
	u = mustSession(t, f.m, "s").Usage
	if u.CostSource != session.CostPricing || fmt.Sprintf("%.3f", *u.CostUSD) != "0.510" || u.InputTokens != 135 || u.ByModel["m1"].InputTokens != 130 {
		t.Errorf("after cost-state: %+v cost %v", u, *u.CostUSD)
	}
	empty := session.New(nil, session.Limits{})
	ev := &event.Event{Seq: 1, ID: "x", Namespace: "/hook", Name: "user_prompt", SessionID: "e", Time: t0,
		Data: map[string]any{"hook_event_name": "UserPromptSubmit", "prompt": "hi"}}
	empty.Apply(ev)
	if u := mustSession(t, empty, "e").Usage; u.CostSource != session.CostNone || u.CostUSD != nil {
		t.Errorf("no usage: %+v", u)
	}
}

// The task tools of Claude Code 2.1 make a todo list too.
func TestTaskTools(t *testing.T) {
	f := newFeeder(t, nil)
	got := f.hook(hook("PostToolUse", map[string]any{"tool_name": "TaskCreate", "tool_use_id": "c1",
		"tool_input":    map[string]any{"subject": "Write the parser", "description": "…", "activeForm": "Writing the parser"},
		"tool_response": map[string]any{"task": map[string]any{"id": "1", "subject": "Write the parser"}}}))
	if fmt.Sprint(names(got)) != "[/todo updated /todo task_added]" {
		t.Fatalf("TaskCreate derived %v", names(got))
	}
	f.hook(hook("TaskCreated", map[string]any{"task_id": "1", "task_subject": "Write the parser"})) // the same task: no second one
	f.hook(hook("PostToolUse", map[string]any{"tool_name": "TaskCreate", "tool_use_id": "c2",
		"tool_input": map[string]any{"subject": "Test it"}, "tool_response": map[string]any{"task": map[string]any{"id": "2", "subject": "Test it"}}}))
	got = f.hook(hook("PostToolUse", map[string]any{"tool_name": "TaskUpdate", "tool_use_id": "u1",
		"tool_input": map[string]any{"taskId": "1", "status": "completed"}, "tool_response": map[string]any{"success": true}}))
	if fmt.Sprint(names(got)) != "[/todo updated /todo task_completed]" {
		t.Fatalf("TaskUpdate derived %v", names(got))
	}
	stats := got[0].Data["stats"].(map[string]any)
	if stats["total"] != 2 || stats["completed"] != 1 || stats["pending"] != 1 {
		t.Errorf("stats = %v", stats)
	}
	got = f.hook(hook("TaskCompleted", map[string]any{"task_id": "1"})) // already completed
	if len(got) != 0 {
		t.Errorf("TaskCompleted of a completed task derived %v", names(got))
	}
	f.hook(hook("PostToolUse", map[string]any{"tool_name": "TaskUpdate", "tool_use_id": "u2",
		"tool_input": map[string]any{"taskId": "2", "status": "deleted"}, "tool_response": map[string]any{"success": true}}))
	tasks := mustSession(t, f.m, "sess-1").Tasks
	if len(tasks) != 1 || tasks[0].ID != "1" || tasks[0].Status != "completed" || tasks[0].Source != "task_tools" {
		t.Errorf("tasks = %+v", tasks)
	}
}

// Malformed hook input never panics.
func TestApplyMalformed(t *testing.T) {
	f := newFeeder(t, nil)
	for _, data := range []map[string]any{
		{"session_id": "s"},
		{"session_id": "s", "hook_event_name": 42.0},
		{"session_id": "s", "hook_event_name": "PreToolUse", "tool_name": "TodoWrite", "tool_input": "not a map"},
		{"session_id": "s", "hook_event_name": "PreToolUse", "tool_name": "TodoWrite", "tool_input": map[string]any{"todos": []any{1.0, "x", nil}}},
		{"session_id": "s", "hook_event_name": "PostToolUse", "tool_name": "Task", "tool_input": nil, "tool_response": "x"},
		{"session_id": "s", "hook_event_name": "UserPromptSubmit", "prompt": "<task-notification><task-id>"},
		{"session_id": "s", "hook_event_name": "Stop", "background_tasks": "many"},
		{"session_id": "s", "hook_event_name": "SubagentStart"},
	} {
		f.event("/hook", "x", data)
	}
}

// Claude Code's OpenTelemetry export, recorded from 2.1.332 and decoded by
// pkg/otlp: its api_request records give the session tokens and Claude
// Code's own cost (source otel) when no transcript is read; a transcript's
// usage of the same API call (request_id) replaces it, never adds to it.
func TestOTelUsage(t *testing.T) {
	f, err := os.Open("../otlp/testdata/claude-2.1.332/protobuf.events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := session.New(fixedPricer{"claude-opus-5-5": 0}, session.Limits{})
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	var sid string
	var wantIn int64
	var wantCost float64
	var reqs []map[string]any
	for seq := int64(1); sc.Scan(); seq++ {
		var rec struct{ Data map[string]any }
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		rec.Data, _ = raw["data"].(map[string]any)
		name, _ := raw["event"].(string)
		ev := &event.Event{Seq: seq, ID: fmt.Sprint("o", seq), Namespace: "/claude", Name: name, Data: rec.Data}
		if err := ev.Prepare(t0); err != nil {
			t.Fatal(err)
		}
		if name == "api_request" {
			sid = ev.SessionID
			wantIn += int64(rec.Data["input_tokens"].(float64))
			wantCost += rec.Data["cost_usd"].(float64)
			reqs = append(reqs, rec.Data)
		}
		m.Apply(ev)
	}
	if len(reqs) == 0 {
		t.Fatal("no api_request in the recording")
	}
	u := mustSession(t, m, sid).Usage
	if u.InputTokens != wantIn || u.CostSource != session.CostOTel || u.CostUSD == nil || math.Abs(*u.CostUSD-wantCost) > 1e-12 {
		t.Fatalf("from OpenTelemetry: %+v cost %v, want %d tokens and $%v (otel)", u.Tokens, u.CostUSD, wantIn, wantCost)
	}
	// the transcript reports the first call too: counted once, from it
	r := reqs[0]
	ev := &event.Event{Seq: 10_000, ID: "tx", Namespace: "/claude", Name: "usage", Data: map[string]any{
		"session_id": sid, "message_id": "msg_x", "request_id": r["request_id"], "model": r["model"],
		"input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"],
	}}
	if err := ev.Prepare(t0); err != nil {
		t.Fatal(err)
	}
	m.Apply(ev)
	u = mustSession(t, m, sid).Usage
	if u.InputTokens != wantIn || u.CostSource != session.CostPricing {
		t.Errorf("after the transcript's usage of the same call: %+v (%s), want %d tokens from pricing", u.Tokens, u.CostSource, wantIn)
	}
	// and an api_request arriving after the transcript's is ignored
	again := &event.Event{Seq: 10_001, ID: "o-again", Namespace: "/claude", Name: "api_request", Data: r}
	m.Apply(again)
	if got := mustSession(t, m, sid).Usage.InputTokens; got != wantIn {
		t.Errorf("a late api_request counted twice: %d", got)
	}
}
