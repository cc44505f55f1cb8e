package event_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
)

// step is one hook event fed to the Deriver and what it must derive.
type step struct {
	name string         // /hook event name
	data map[string]any // hook input
	want []string       // "namespace event" of each derived event, in order
	// check inspects the derived events' data
	check func(t *testing.T, d []event.Derived)
}

func hook(hookName string, fields map[string]any) map[string]any {
	m := map[string]any{"hook_event_name": hookName, "session_id": "sess-1", "cwd": "/work/app", "transcript_path": "/tmp/t.jsonl"}
	for k, v := range fields {
		m[k] = v
	}
	return m
}

func field(t *testing.T, d event.Derived, k string) any {
	t.Helper()
	v, ok := d.Data[k]
	if !ok {
		t.Fatalf("%s %s has no %s: %v", d.Namespace, d.Name, k, d.Data)
	}
	return v
}

// TestDerivationTable walks one realistic session through the table in
// docs/EVENTS.md.
func TestDerivationTable(t *testing.T) {
	t0 := time.Date(2025, 1, 31, 14, 30, 52, 0, time.UTC)
	steps := []step{
		{"session_start", hook("SessionStart", map[string]any{"source": "startup", "model": "claude-sonnet-4", "claude_pid": 4242.0}),
			[]string{"/session start", "/claude status_changed"}, func(t *testing.T, d []event.Derived) {
				if field(t, d[1], "pid") != 4242.0 {
					t.Errorf("claude status_changed pid = %v", d[1].Data["pid"])
				}
				if field(t, d[0], "working_directory") != "/work/app" || field(t, d[0], "launch_method") != "startup" || field(t, d[0], "model") != "claude-sonnet-4" {
					t.Errorf("start = %v", d[0].Data)
				}
			}},
		{"instructions_loaded", hook("InstructionsLoaded", map[string]any{"file_path": "/work/app/CLAUDE.md", "memory_type": "Project", "load_reason": "session_start"}),
			[]string{"/memory loaded"}, func(t *testing.T, d []event.Derived) {
				if field(t, d[0], "file_path") != "/work/app/CLAUDE.md" || field(t, d[0], "agent_id") != "main" {
					t.Errorf("loaded = %v", d[0].Data)
				}
			}},
		{"user_prompt", hook("UserPromptSubmit", map[string]any{"prompt": "add auth"}),
			[]string{"/session status_changed", "/claude status_changed"}, func(t *testing.T, d []event.Derived) {
				if field(t, d[0], "status") != "running" || field(t, d[0], "previous_status") != "idle" {
					t.Errorf("status_changed = %v", d[0].Data)
				}
			}},
		{"user_prompt", hook("UserPromptSubmit", map[string]any{"prompt": "again"}), nil, nil}, // no change, nothing derived
		{"pre_tool", hook("PreToolUse", map[string]any{"tool_name": "Bash", "tool_use_id": "t1", "tool_input": map[string]any{"command": "ls"}}), nil, nil},
		{"notification", hook("Notification", map[string]any{"message": "Claude needs your permission to use Bash", "notification_type": "permission_prompt"}),
			[]string{"/session status_changed", "/claude status_changed"}, func(t *testing.T, d []event.Derived) {
				if field(t, d[0], "status") != event.StatusWaiting {
					t.Errorf("status = %v", d[0].Data)
				}
			}},
		{"post_tool", hook("PostToolUse", map[string]any{"tool_name": "Bash", "tool_use_id": "t1", "tool_response": map[string]any{"stdout": "x"}}),
			[]string{"/session status_changed", "/claude status_changed"}, func(t *testing.T, d []event.Derived) {
				if field(t, d[0], "status") != "running" {
					t.Errorf("status = %v", d[0].Data)
				}
			}},
		{"pre_tool", hook("PreToolUse", map[string]any{"tool_name": "TodoWrite", "tool_use_id": "t2", "tool_input": map[string]any{"todos": []any{
			map[string]any{"content": "Write tests", "status": "in_progress", "activeForm": "Writing tests"},
			map[string]any{"content": "Ship", "status": "pending", "activeForm": "Shipping"},
		}}}), []string{"/todo updated", "/todo task_added", "/todo task_added"}, func(t *testing.T, d []event.Derived) {
			stats := field(t, d[0], "stats").(map[string]any)
			if stats["total"] != 2 || stats["in_progress"] != 1 || stats["pending"] != 1 || stats["completed"] != 0 {
				t.Errorf("stats = %v", stats)
			}
			todos := field(t, d[0], "todos").([]any)
			if todos[0].(map[string]any)["id"] != "1" || todos[1].(map[string]any)["content"] != "Ship" {
				t.Errorf("todos = %v", todos)
			}
		}},
		{"pre_tool", hook("PreToolUse", map[string]any{"tool_name": "TodoWrite", "tool_use_id": "t3", "tool_input": map[string]any{"todos": []any{
			map[string]any{"content": "Write tests", "status": "completed"},
			map[string]any{"content": "Ship", "status": "in_progress"},
		}}}), []string{"/todo updated", "/todo task_completed"}, func(t *testing.T, d []event.Derived) {
			if task := field(t, d[1], "task").(map[string]any); task["content"] != "Write tests" {
				t.Errorf("task_completed = %v", d[1].Data)
			}
		}},
		{"pre_tool", hook("PreToolUse", map[string]any{"tool_name": "Task", "tool_use_id": "t4", "tool_input": map[string]any{
			"subagent_type": "engineer", "description": "Implement user authentication system", "prompt": "…"}}),
			[]string{"/agent task_delegated"}, func(t *testing.T, d []event.Derived) {
				if field(t, d[0], "agent") != "engineer" || field(t, d[0], "task") != "Implement user authentication system" || field(t, d[0], "status") != "started" {
					t.Errorf("task_delegated = %v", d[0].Data)
				}
			}},
		{"subagent_start", hook("SubagentStart", map[string]any{"agent_id": "ag1", "agent_type": "engineer"}),
			[]string{"/agent agent_switched"}, nil},
		{"subagent_stop", hook("SubagentStop", map[string]any{"agent_id": "ag1", "agent_type": "engineer", "stop_hook_active": false}),
			[]string{"/agent agent_switched"}, nil},
		{"post_tool", hook("PostToolUse", map[string]any{"tool_name": "Task", "tool_use_id": "t4", "duration_ms": json.Number("5321"),
			"tool_input": map[string]any{"subagent_type": "engineer", "description": "Implement user authentication system"}}),
			[]string{"/agent task_completed"}, func(t *testing.T, d []event.Derived) {
				if field(t, d[0], "status") != "completed" || field(t, d[0], "duration_ms") != 5321.0 {
					t.Errorf("task_completed = %v", d[0].Data)
				}
			}},
		{"post_tool_use_failure", hook("PostToolUseFailure", map[string]any{"tool_name": "Agent", "tool_use_id": "t5", "error": "interrupted",
			"tool_input": map[string]any{"subagent_type": "qa"}}),
			[]string{"/agent task_completed"}, func(t *testing.T, d []event.Derived) {
				if field(t, d[0], "status") != "failed" || field(t, d[0], "error") != "interrupted" {
					t.Errorf("failed task = %v", d[0].Data)
				}
			}},
		{"post_tool", hook("PostToolUse", map[string]any{"tool_name": "Edit", "tool_use_id": "t6",
			"tool_input": map[string]any{"file_path": "/work/app/CLAUDE.md", "old_string": "a", "new_string": "Use JWT"}}),
			[]string{"/memory updated"}, func(t *testing.T, d []event.Derived) {
				if field(t, d[0], "content") != "Use JWT" {
					t.Errorf("memory updated = %v", d[0].Data)
				}
			}},
		{"post_tool", hook("PostToolUse", map[string]any{"tool_name": "Edit", "tool_use_id": "t7",
			"tool_input": map[string]any{"file_path": "/work/app/main.go"}}), nil, nil},
		{"stop", hook("Stop", map[string]any{"stop_hook_active": false, "last_assistant_message": "Done."}),
			[]string{"/claude output", "/session status_changed", "/claude status_changed"}, nil},
		{"notification", hook("Notification", map[string]any{"message": "Build finished", "notification_type": "info"}),
			[]string{"/claude output"}, nil},
		{"pre_compact", hook("PreCompact", map[string]any{"trigger": "manual", "custom_instructions": ""}),
			[]string{"/session status_changed", "/claude status_changed"}, nil},
		{"future_event", hook("FutureEvent", map[string]any{"x": 1}), nil, nil},
		{"custom", map[string]any{"anything": true}, nil, nil},
		{"session_end", hook("SessionEnd", map[string]any{"reason": "clear"}),
			[]string{"/session end", "/session status_changed", "/claude status_changed"}, func(t *testing.T, d []event.Derived) {
				if got := field(t, d[0], "duration_seconds"); got != 21.0*60 {
					t.Errorf("duration_seconds = %v, want %v", got, 21*60)
				}
				if field(t, d[0], "reason") != "clear" {
					t.Errorf("end = %v", d[0].Data)
				}
			}},
	}
	d := event.NewDeriver(nil)
	for i, s := range steps {
		ts := t0.Add(time.Duration(i) * time.Minute)
		got := d.Derive(s.name, s.data, ts, fmt.Sprintf("src-%d", i))
		var names []string
		for _, g := range got {
			names = append(names, g.Namespace+" "+g.Name)
			if g.Data["session_id"] != s.data["session_id"] || g.Data["source_event_id"] != fmt.Sprintf("src-%d", i) || g.Data["timestamp"] != event.FormatTime(ts) {
				t.Errorf("step %d (%s): derived %s %s lacks session_id/source_event_id/timestamp: %v", i, s.name, g.Namespace, g.Name, g.Data)
			}
			if err := event.ValidateName(g.Name); err != nil || !event.IsNamespace(g.Namespace) {
				t.Errorf("step %d: derived %s %s is not deliverable", i, g.Namespace, g.Name)
			}
		}
		if fmt.Sprint(names) != fmt.Sprint(s.want) {
			t.Fatalf("step %d (%s %v): derived %v, want %v", i, s.name, s.data["hook_event_name"], names, s.want)
		}
		if s.check != nil {
			s.check(t, got)
		}
	}
	if n := len(d.Sessions()); n != 0 {
		t.Errorf("%d sessions still live after SessionEnd", n)
	}
}

// A session that began before mpmd restarted gets its duration from the store.
func TestSessionEndUsesLookup(t *testing.T) {
	start := time.Date(2025, 1, 31, 14, 0, 0, 0, time.UTC)
	d := event.NewDeriver(func(sid string) time.Time {
		if sid == "old" {
			return start
		}
		return time.Time{}
	})
	got := d.Derive("session_end", map[string]any{"hook_event_name": "SessionEnd", "session_id": "old"}, start.Add(90*time.Second), "x")
	if got[0].Data["duration_seconds"] != 90.0 {
		t.Errorf("end = %v", got[0].Data)
	}
	got = d.Derive("session_end", map[string]any{"hook_event_name": "SessionEnd", "session_id": "unknown"}, start, "y")
	if _, ok := got[0].Data["duration_seconds"]; ok {
		t.Errorf("a session of unknown start got a duration: %v", got[0].Data)
	}
}

// Without hook_event_name (a script's emit), the /hook event name is enough.
func TestDeriveFromEventName(t *testing.T) {
	d := event.NewDeriver(nil)
	got := d.Derive("pre_tool", map[string]any{"session_id": "s", "tool_name": "TodoWrite", "tool_input": map[string]any{"todos": []any{}}}, time.Now(), "z")
	if len(got) != 1 || got[0].Name != "updated" {
		t.Errorf("derived %v", got)
	}
}

// Malformed hook input never panics and derives nothing it cannot.
func TestDeriveMalformed(t *testing.T) {
	d := event.NewDeriver(nil)
	for _, data := range []map[string]any{
		{},
		{"hook_event_name": 42},
		{"hook_event_name": "PreToolUse", "tool_name": "TodoWrite", "tool_input": "not a map"},
		{"hook_event_name": "PreToolUse", "tool_name": "TodoWrite", "tool_input": map[string]any{"todos": []any{1, "x", nil}}},
		{"hook_event_name": "PostToolUse", "tool_name": "Task", "tool_input": nil},
		{"hook_event_name": "SessionEnd", "session_id": 7},
	} {
		_ = d.Derive("pre_tool", data, time.Now(), "m")
	}
}
