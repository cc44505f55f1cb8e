package relay_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/relay"
)

// FuzzBuild maps arbitrary stdin to the record mpm-hook emits. It must never
// panic and always produce something mpmd accepts and the spool can keep: a
// /hook event with a valid name, an event_id and a timestamp, and data that
// encodes to JSON within the event size limit (a record that cannot be
// encoded is neither delivered nor spooled: the event is lost). Input that
// is one valid hook object (UTF-8, a JSON object with a string
// hook_event_name that gives a valid name) must become that hook's event
// with every field intact; input that is not even a JSON object must become
// a hook_error. (Between the two, the relay's reader may be more lenient than
// encoding/json, e.g. with unknown escapes.)
func FuzzBuild(f *testing.F) {
	for _, s := range []string{
		`{"session_id":"s1","transcript_path":"/t.jsonl","cwd":"/w","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"},"tool_use_id":"toolu_1"}`,
		`{"session_id":"s1","hook_event_name":"PostToolUse","tool_response":{"stdout":"x"},"duration_ms":12}`,
		`{"hook_event_name":"UserPromptSubmit","prompt":"h\u00e9 \ud83d\ude00 \"q\" \\ \/"}`,
		`{"hook_event_name":"SomeFutureHook","novel":{"a":[1,-2.5e3,true,false,null]},"n":12345678901234567890}`,
		`{"hook_event_name":"Stop","event_id":"mine","timestamp":"2020-01-01T00:00:00Z","seq":9}`,
		`{"hook_event_name":"Stop","a":1,"a":2}`,
		`{"hook_event_name":"","x":1}`, `{"hook_event_name":7}`, `{"hook_event_name":"bad name!"}`,
		`{"hook_event_name":"Stop",}`, `{"hook_event_name":"Stop"} x`, `{"hook_event_name":"Stop"}}`,
		`{"hook_event_name":"Stop","s":"abc`, `[]`, `"x"`, `null`, ``, "\xff\xfe", "{\"hook_event_name\":\"Stop\",\"s\":\"\xff\"}",
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"hook_event_name":"PostToolUse","session_id":"s1","tool_response":"abcdefgh`), true)
	f.Fuzz(func(t *testing.T, input []byte, cut bool) {
		var readErr error
		if cut {
			readErr = errors.New("stdin was not closed within 150ms")
		}
		rec := relay.Build(input, readErr, time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC))
		if rec.Namespace != "/hook" {
			t.Fatalf("namespace %q", rec.Namespace)
		}
		if err := event.ValidateName(rec.Event); err != nil {
			t.Fatalf("event name %q: %v", rec.Event, err)
		}
		if id, _ := rec.Data["event_id"].(string); len(id) != 32 {
			t.Fatalf("event_id %v", rec.Data["event_id"])
		}
		if _, ok := rec.Data["timestamp"].(string); !ok {
			t.Fatalf("no timestamp: %v", rec.Data)
		}
		b, err := json.Marshal(rec.Data)
		if err != nil {
			t.Fatalf("data cannot be encoded: %v", err)
		}
		if len(b) > relay.MaxEventBytes {
			t.Fatalf("event data is %d bytes, over %d", len(b), relay.MaxEventBytes)
		}
		if cut {
			return // a cut input is salvaged where possible; the rest is hook_error
		}

		var want map[string]any
		dec := json.NewDecoder(bytes.NewReader(input))
		okJSON := utf8.Valid(input) && json.Valid(input) && dec.Decode(&want) == nil && want != nil
		name, _ := want["hook_event_name"].(string)
		valid := okJSON && name != "" && event.ValidateName(event.HookEventName(name)) == nil
		if !valid {
			t2 := bytes.TrimSpace(input)
			notObject := !utf8.Valid(input) || len(t2) == 0 || t2[0] != '{'
			if notObject && rec.Event != event.HookErrorEvent {
				t.Fatalf("Build(%q) = %s, want hook_error", input, rec.Event)
			}
			return
		}
		if rec.Event != event.HookEventName(name) {
			t.Fatalf("Build(%q) = %s (%v), want %s", input, rec.Event, rec.Data["error"], event.HookEventName(name))
		}
		if _, cutFields := rec.Data["truncated"]; cutFields {
			return
		}
		for k, v := range want {
			if k == "event_id" || k == "timestamp" {
				continue // the relay's own
			}
			g, _ := json.Marshal(rec.Data[k])
			var gv any
			_ = json.Unmarshal(g, &gv)
			g, _ = json.Marshal(gv)
			w, _ := json.Marshal(v)
			if !bytes.Equal(g, w) {
				t.Fatalf("Build(%q): field %q = %s, want %s", input, k, g, w)
			}
		}
	})
}
