package event_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
)

// FuzzDerive feeds arbitrary hook JSON to one Deriver: a single hook input
// object, or an array of them played in order as one session's history. The
// Deriver must never panic, and every event it derives must be deliverable:
// a served namespace other than /hook, a valid event name, and data that
// encodes to JSON (the store marshals it) carrying the source's session_id and
// source_event_id.
func FuzzDerive(f *testing.F) {
	for _, s := range []string{
		`{"hook_event_name":"SessionStart","session_id":"s1","cwd":"/w","source":"startup","model":"m"}`,
		`{"hook_event_name":"UserPromptSubmit","session_id":"s1","prompt":"hi"}`,
		`{"hook_event_name":"PreToolUse","session_id":"s1","tool_name":"Task","tool_use_id":"t1","tool_input":{"subagent_type":"research","description":"d","prompt":"p"}}`,
		`{"hook_event_name":"PostToolUse","session_id":"s1","tool_name":"Task","tool_use_id":"t1","tool_response":{},"duration_ms":12}`,
		`{"hook_event_name":"PostToolUseFailure","session_id":"s1","tool_name":"Agent","tool_use_id":"t1","error":"boom","is_interrupt":true}`,
		`{"hook_event_name":"PreToolUse","session_id":"s1","tool_name":"TodoWrite","tool_input":{"todos":[{"content":"a","status":"pending"},{"content":"b","status":"completed"}]}}`,
		`{"hook_event_name":"PreToolUse","session_id":"s1","tool_name":"TodoWrite","tool_input":{"todos":[{"content":1,"status":null},"x",null]}}`,
		`{"hook_event_name":"PreToolUse","session_id":"s1","tool_name":"TodoWrite","tool_input":{"todos":"nope"}}`,
		`{"hook_event_name":"PostToolUse","session_id":"s1","tool_name":"Edit","tool_input":{"file_path":"/w/CLAUDE.md","new_string":"## x\nmore"}}`,
		`{"hook_event_name":"PostToolUse","session_id":"s1","tool_name":"MultiEdit","tool_input":{"file_path":"/w/.claude/memory/a.md","edits":[{"new_string":"q"}]}}`,
		`{"hook_event_name":"Notification","session_id":"s1","message":"Claude needs your permission","notification_type":"permission_prompt"}`,
		`{"hook_event_name":"Notification","session_id":"s1","notification_type":"idle_prompt"}`,
		`{"hook_event_name":"Notification","session_id":"s1","message":"hello"}`,
		`{"hook_event_name":"Stop","session_id":"s1","last_assistant_message":"done","stop_hook_active":false}`,
		`{"hook_event_name":"SubagentStart","session_id":"s1","agent_id":"a1","agent_type":"research"}`,
		`{"hook_event_name":"SubagentStop","session_id":"s1","agent_id":"a1","agent_type":"research"}`,
		`{"hook_event_name":"PreCompact","session_id":"s1","trigger":"auto"}`,
		`{"hook_event_name":"InstructionsLoaded","session_id":"s1","file_path":"/w/CLAUDE.md","memory_type":"Project","content":"# a\n## b"}`,
		`{"hook_event_name":"SessionEnd","session_id":"s1","reason":"exit"}`,
		`{"hook_event_name":"FutureThing","session_id":"s1"}`,
		`{"hook_event_name":7,"session_id":["x"],"tool_name":{},"tool_input":[]}`,
		`[{"hook_event_name":"SessionStart","session_id":"s2"},{"hook_event_name":"UserPromptSubmit","session_id":"s2"},{"hook_event_name":"SessionEnd","session_id":"s2"}]`,
		`{}`, `[]`, `null`, `"x"`,
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`{"session_id":"s1"}`), "session_start")
	f.Add([]byte(`{"session_id":"s1","tool_name":"Task"}`), "pre_tool")
	f.Add([]byte(`{"session_id":"s1","tool_name":"Task"}`), "post_tool_use_failure")

	t0 := time.Date(2025, 1, 31, 14, 30, 52, 0, time.UTC)
	f.Fuzz(func(t *testing.T, input []byte, name string) {
		var inputs []map[string]any
		var one map[string]any
		if err := json.Unmarshal(input, &one); err == nil && one != nil {
			inputs = []map[string]any{one}
		} else if err := json.Unmarshal(input, &inputs); err != nil {
			return // not hook input: the relay turns that into hook_error, which derives nothing
		}
		d := event.NewDeriver(func(string) time.Time { return t0.Add(-time.Hour) })
		for i, data := range inputs {
			if data == nil {
				continue
			}
			evName := name
			if evName == "" {
				hook, _ := data["hook_event_name"].(string)
				evName = event.HookEventName(hook)
			}
			sourceID := "src-" + string(rune('a'+i%26))
			ts := t0.Add(time.Duration(i) * time.Second)
			for _, out := range d.Derive(evName, data, ts, sourceID) {
				if !event.IsNamespace(out.Namespace) || out.Namespace == "/hook" {
					t.Fatalf("derived into namespace %q from %v", out.Namespace, data)
				}
				if err := event.ValidateName(out.Name); err != nil {
					t.Fatalf("derived event name %q: %v", out.Name, err)
				}
				if out.Data == nil {
					t.Fatalf("%s %s derived with nil data", out.Namespace, out.Name)
				}
				if _, err := json.Marshal(out.Data); err != nil {
					t.Fatalf("%s %s data cannot be stored: %v (%v)", out.Namespace, out.Name, err, out.Data)
				}
				if out.Data["source_event_id"] != sourceID {
					t.Fatalf("%s %s source_event_id = %v, want %s", out.Namespace, out.Name, out.Data["source_event_id"], sourceID)
				}
				if sid, _ := data["session_id"].(string); out.Data["session_id"] != sid {
					t.Fatalf("%s %s session_id = %v, want %q", out.Namespace, out.Name, out.Data["session_id"], sid)
				}
			}
		}
		if _, err := json.Marshal(d.Sessions()); err != nil {
			t.Fatalf("sessions cannot be encoded: %v", err)
		}
	})
}
