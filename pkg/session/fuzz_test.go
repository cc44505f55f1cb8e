package session_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/session"
)

// FuzzApply feeds arbitrary hook JSON to one model: a single hook input
// object, or an array of them played in order as one session's history,
// each under a /hook event name (given, or from its hook_event_name), and
// the same objects again as /claude transcript events. The model must
// never panic; every event it derives must be deliverable (a served
// namespace other than /hook, a valid name, data that encodes to JSON,
// carrying the source's session_id and source_event_id); and its views
// must encode.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`{"hook_event_name":"SessionStart","session_id":"s1","cwd":"/w","source":"startup","model":"m"}`,
		`{"hook_event_name":"UserPromptSubmit","session_id":"s1","prompt":"hi"}`,
		`{"hook_event_name":"UserPromptSubmit","session_id":"s1","prompt":"<task-notification><task-id>a1</task-id><tool-use-id>t1</tool-use-id><status>completed</status><usage><tool_uses>x</tool_uses></usage></task-notification>"}`,
		`{"hook_event_name":"PreToolUse","session_id":"s1","tool_name":"Agent","tool_use_id":"t1","tool_input":{"subagent_type":"research","description":"d","prompt":"p","run_in_background":false}}`,
		`{"hook_event_name":"SubagentStart","session_id":"s1","agent_id":"a1","agent_type":"research"}`,
		`{"hook_event_name":"PostToolUse","session_id":"s1","tool_name":"Agent","tool_use_id":"t1","tool_response":{"status":"async_launched","agentId":"a1"},"duration_ms":12}`,
		`{"hook_event_name":"SubagentStop","session_id":"s1","agent_id":"a1","last_assistant_message":"ok"}`,
		`{"hook_event_name":"PostToolUseFailure","session_id":"s1","tool_name":"Agent","tool_use_id":"t1","error":"boom","is_interrupt":true}`,
		`{"hook_event_name":"PreToolUse","session_id":"s1","tool_name":"TodoWrite","tool_input":{"todos":[{"content":"a","status":"pending"},{"content":"b","status":"completed"}]}}`,
		`{"hook_event_name":"PostToolUse","session_id":"s1","tool_name":"TaskCreate","tool_response":{"task":{"id":"1","subject":"x"}}}`,
		`{"hook_event_name":"PostToolUse","session_id":"s1","tool_name":"TaskUpdate","tool_input":{"taskId":"1","status":"deleted"}}`,
		`{"hook_event_name":"PermissionRequest","session_id":"s1","tool_name":"Bash"}`,
		`{"hook_event_name":"Stop","session_id":"s1","background_tasks":[{"status":"running"},7]}`,
		`{"hook_event_name":"StopFailure","session_id":"s1","error":{"x":1}}`,
		`{"hook_event_name":"SessionEnd","session_id":"s1","reason":"exit"}`,
		`{"session_id":"s1","model":"m","message_id":"x","input_tokens":-5,"output_tokens":1e300}`,
		`{"session_id":"s1","total_cost_usd":"NaN","model_usage":{"m":{"cost_usd":[]}}}`,
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
			return // not hook input: the relay turns that into hook_error
		}
		m := session.New(fixedPricer{"m": 1e-6}, session.Limits{})
		seq := int64(0)
		play := func(ns, evName string, data map[string]any) {
			seq++
			ev := &event.Event{Seq: seq, ID: fmt.Sprintf("src-%d", seq), Namespace: ns, Name: evName, Data: data}
			if err := ev.Prepare(t0.Add(time.Duration(seq) * time.Second)); err != nil {
				return
			}
			for _, out := range m.Apply(ev) {
				if !event.IsNamespace(out.Namespace) || out.Namespace == "/hook" {
					t.Fatalf("derived into namespace %q from %v", out.Namespace, data)
				}
				if err := event.ValidateName(out.Name); err != nil {
					t.Fatalf("derived event name %q: %v", out.Name, err)
				}
				if _, err := event.AppendJSON(nil, out.Data); err != nil {
					t.Fatalf("%s %s data cannot be stored: %v (%v)", out.Namespace, out.Name, err, out.Data)
				}
				if out.Data["source_event_id"] != ev.ID || out.Data["session_id"] != ev.SessionID {
					t.Fatalf("%s %s lacks its source: %v", out.Namespace, out.Name, out.Data)
				}
			}
		}
		for _, data := range inputs {
			if data == nil {
				continue
			}
			evName := name
			if evName == "" {
				hook, _ := data["hook_event_name"].(string)
				evName = event.HookEventName(hook)
			}
			if event.ValidateName(evName) != nil {
				evName = "x"
			}
			play("/hook", evName, data)
			for _, n := range []string{"usage", "cost_state", "output"} {
				play("/claude", n, data)
			}
		}
		for _, s := range m.List() {
			d, _ := m.Get(s.ID)
			if _, err := json.Marshal(d); err != nil {
				t.Fatalf("session cannot be encoded: %v", err)
			}
			es, _, _ := m.Entries(s.ID, 0, 0)
			if _, err := json.Marshal(es); err != nil {
				t.Fatalf("entries cannot be encoded: %v", err)
			}
		}
	})
}
