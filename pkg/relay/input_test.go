package relay_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mpm-dev/mpm/pkg/relay"
)

var now = time.Date(2026, 11, 25, 22, 30, 0, 123_000_000, time.UTC)

func TestBuildHookEvents(t *testing.T) {
	for _, tt := range []struct {
		input string
		event string
	}{
		{`{"session_id":"s1","transcript_path":"/t.jsonl","cwd":"/w","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"},"tool_use_id":"toolu_1"}`, "pre_tool"},
		{`{"session_id":"s1","hook_event_name":"PostToolUse","tool_name":"Bash","tool_response":{"stdout":"x"},"tool_use_id":"toolu_1","duration_ms":12}`, "post_tool"},
		{`{"session_id":"s1","hook_event_name":"UserPromptSubmit","prompt":"hi"}`, "user_prompt"},
		{`{"session_id":"s1","hook_event_name":"SessionStart","source":"startup","model":"claude-sonnet-4-6"}`, "session_start"},
		{`{"session_id":"s1","hook_event_name":"PostToolUseFailure","error":"boom","is_interrupt":false}`, "post_tool_use_failure"},
		{`{"session_id":"s1","hook_event_name":"SubagentStop","stop_hook_active":false}`, "subagent_stop"},
		{`{"session_id":"s1","hook_event_name":"SomeFutureHook","novel":{"a":[1,2]}}`, "some_future_hook"},
		{"  \n{\"session_id\":\"s1\",\"hook_event_name\":\"Stop\"}\n", "stop"},
	} {
		rec := relay.Build([]byte(tt.input), nil, now)
		if rec.Namespace != "/hook" || rec.Event != tt.event {
			t.Errorf("Build(%.40s…) = %s %s, want /hook %s", tt.input, rec.Namespace, rec.Event, tt.event)
			continue
		}
		var in map[string]any
		d := json.NewDecoder(strings.NewReader(tt.input))
		d.UseNumber()
		if err := d.Decode(&in); err != nil {
			t.Fatal(err)
		}
		for k, v := range in {
			got, _ := json.Marshal(rec.Data[k])
			want, _ := json.Marshal(v)
			if string(got) != string(want) {
				t.Errorf("%s: field %s = %s, want %s", tt.event, k, got, want)
			}
		}
		if id, _ := rec.Data["event_id"].(string); len(id) != 32 {
			t.Errorf("%s: event_id = %q", tt.event, id)
		}
		if got, want := rec.Data["timestamp"], "2026-11-25T22:30:00.123Z"; got != want {
			t.Errorf("%s: timestamp = %v, want %v", tt.event, got, want)
		}
		if _, ok := rec.Data["truncated"]; ok {
			t.Errorf("%s: small event marked truncated", tt.event)
		}
	}
}

func TestBuildBadInput(t *testing.T) {
	for _, tt := range []struct {
		name, input, errPart string
	}{
		{"empty", "", "empty"},
		{"blank", " \n\t", "empty"},
		{"not json", "hello", "not a JSON object"},
		{"array", `[1,2]`, "not a JSON object"},
		{"broken", "{\"a\":\n 1,,}", "line 2, column"},
		{"no name", `{"session_id":"s"}`, "no hook_event_name"},
		{"name not string", `{"hook_event_name":42}`, "not a non-empty string"},
		{"empty name", `{"hook_event_name":""}`, "not a non-empty string"},
		{"latin1", "{\"hook_event_name\":\"Stop\",\"p\":\"caf\xe9\"}", "UTF-8"},
		{"truncated json", `{"hook_event_name":"Stop","p":"abc`, "not valid JSON"},
	} {
		rec := relay.Build([]byte(tt.input), nil, now)
		if rec.Event != "hook_error" || rec.Namespace != "/hook" {
			t.Errorf("%s: event %s %s, want /hook hook_error", tt.name, rec.Namespace, rec.Event)
			continue
		}
		msg, _ := rec.Data["error"].(string)
		if !strings.Contains(msg, tt.errPart) {
			t.Errorf("%s: error %q does not contain %q", tt.name, msg, tt.errPart)
		}
		ex, _ := rec.Data["input_excerpt"].(string)
		if !utf8.ValidString(ex) {
			t.Errorf("%s: excerpt is not valid UTF-8", tt.name)
		}
		if got, want := rec.Data["input_bytes"], len(tt.input); got != want {
			t.Errorf("%s: input_bytes = %v, want %d", tt.name, got, want)
		}
		for _, k := range []string{"event_id", "timestamp"} {
			if _, ok := rec.Data[k].(string); !ok {
				t.Errorf("%s: no %s", tt.name, k)
			}
		}
	}
}

func TestBuildExcerptIsBounded(t *testing.T) {
	in := strings.Repeat("\xff", 1<<20)
	rec := relay.Build([]byte(in), nil, now)
	ex := rec.Data["input_excerpt"].(string)
	if len(ex) > relay.ExcerptBytes*3+64 || !utf8.ValidString(ex) || !strings.HasSuffix(ex, "[truncated]") {
		t.Errorf("excerpt: %d bytes, valid %v", len(ex), utf8.ValidString(ex))
	}
}

func hugeInput(tb testing.TB, n int) []byte {
	tb.Helper()
	in := map[string]any{
		"session_id": "s1", "hook_event_name": "PostToolUse", "tool_name": "Read",
		"tool_use_id": "toolu_9", "cwd": "/w",
		"tool_input": map[string]any{"file_path": "/w/big.log"},
		"tool_response": map[string]any{
			"type": "text",
			"file": map[string]any{"filePath": "/w/big.log", "content": strings.Repeat("héllo wörld ", n/13), "numLines": 123456},
		},
	}
	b, err := json.Marshal(in)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestBuildTruncatesHugeField(t *testing.T) {
	in := hugeInput(t, 20<<20)
	start := time.Now()
	rec := relay.Build(in, nil, now)
	took := time.Since(start)
	if rec.Event != "post_tool" {
		t.Fatalf("event = %s (%v), want post_tool", rec.Event, rec.Data["error"])
	}
	b, _ := json.Marshal(rec.Data)
	if len(b) > relay.MaxEventBytes {
		t.Errorf("event is %d bytes, over %d", len(b), relay.MaxEventBytes)
	}
	if len(b) < relay.MaxEventBytes/2 {
		t.Errorf("event is %d bytes: cut far more than needed", len(b))
	}
	tr, _ := rec.Data["truncated"].([]string)
	if len(tr) != 1 || tr[0] != "tool_response.file.content" {
		t.Errorf("truncated = %v, want [tool_response.file.content]", tr)
	}
	content := rec.Data["tool_response"].(map[string]any)["file"].(map[string]any)["content"].(string)
	if !strings.Contains(content, "…[truncated ") || !utf8.ValidString(content) {
		t.Errorf("content has no marker or is invalid UTF-8: …%s", content[len(content)-40:])
	}
	if got := rec.Data["tool_response"].(map[string]any)["file"].(map[string]any)["numLines"]; got != json.Number("123456") {
		t.Errorf("numLines = %v, want 123456 intact", got)
	}
	t.Logf("20 MB input built in %s", took)
}

func TestBuildTruncatesHugeArray(t *testing.T) {
	nums := make([]int, 300_000)
	b, _ := json.Marshal(map[string]any{"hook_event_name": "PostToolUse", "session_id": "s", "tool_response": nums})
	rec := relay.Build(b, nil, now)
	out, _ := json.Marshal(rec.Data)
	if len(out) > relay.MaxEventBytes {
		t.Errorf("event is %d bytes, over %d", len(out), relay.MaxEventBytes)
	}
	if tr, _ := rec.Data["truncated"].([]string); len(tr) != 1 || tr[0] != "tool_response" {
		t.Errorf("truncated = %v, want [tool_response]", tr)
	}
}

func BenchmarkBuild20MB(b *testing.B) {
	in := hugeInput(b, 20<<20)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		relay.Build(in, nil, now)
	}
}

// TestBuildMatchesEncodingJSON checks the relay's own JSON reader against
// encoding/json on inputs with escapes, surrogate pairs and long strings.
func TestBuildMatchesEncodingJSON(t *testing.T) {
	long := strings.Repeat(`a\"b\\c\n\u00e9\ud83d\ude00 <&> `, 400) // > 4 KiB, escaped
	for _, in := range []string{
		`{"hook_event_name":"Stop","s":"` + long + `"}`,
		`{"hook_event_name":"Stop","a":[1,-2.5e3,true,false,null,{"x":[]},{}],"n":12345678901234567890}`,
		`{"hook_event_name":"Stop","k\"ey":"v\\","e":"\u0000\t\/"}`,
		`{"hook_event_name":"Stop","deep":{"a":{"b":["` + strings.Repeat("x", 5000) + `"]}}}`,
	} {
		rec := relay.Build([]byte(in), nil, now)
		if rec.Event != "stop" {
			t.Fatalf("Build(%.60s…) = %s: %v", in, rec.Event, rec.Data["error"])
		}
		var want map[string]any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		delete(rec.Data, "event_id")
		delete(rec.Data, "timestamp")
		got, _ := json.Marshal(rec.Data)
		// Compare through encoding/json so number forms match.
		var gotV map[string]any
		if err := json.Unmarshal(got, &gotV); err != nil {
			t.Fatal(err)
		}
		g, _ := json.Marshal(gotV)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("Build(%.60s…):\n got %.200s\nwant %.200s", in, g, w)
		}
	}
}

func TestBuildRejectsWhatEncodingJSONRejects(t *testing.T) {
	for _, in := range []string{
		`{"hook_event_name":"Stop",}`,
		`{"hook_event_name":"Stop"} x`,
		`{"hook_event_name":"Stop","a":tru}`,
		`{"hook_event_name":"Stop","a":01x}`,
		"{\"hook_event_name\":\"Stop\",\"a\":\"tab\there\"}",
		`{"hook_event_name":"Stop","a":[1 2]}`,
		`{"hook_event_name" "Stop"}`,
	} {
		if json.Valid([]byte(in)) {
			t.Fatalf("test input is valid JSON: %s", in)
		}
		if rec := relay.Build([]byte(in), nil, now); rec.Event != "hook_error" {
			t.Errorf("Build(%s) = %s, want hook_error", in, rec.Event)
		}
	}
}

func TestBuildSalvagesCutInput(t *testing.T) {
	in := hugeInput(t, 2<<20)
	cut := in[:len(in)/2] // the read deadline passed mid-string
	rec := relay.Build(cut, errors.New("stdin was not closed within 400ms"), now)
	if rec.Event != "post_tool" {
		t.Fatalf("event = %s (%v), want post_tool", rec.Event, rec.Data["error"])
	}
	if rec.Data["session_id"] != "s1" || rec.Data["input_error"] == nil {
		t.Errorf("session_id %v, input_error %v", rec.Data["session_id"], rec.Data["input_error"])
	}
	tr, _ := rec.Data["truncated"].([]string)
	if len(tr) != 1 || tr[0] != "tool_response" {
		t.Errorf("truncated = %v, want [tool_response]", tr)
	}
	s, _ := rec.Data["tool_response"].(string)
	if !strings.Contains(s, "…[truncated") || !utf8.ValidString(s) {
		t.Errorf("tool_response has no marker or is invalid UTF-8")
	}
	b, _ := json.Marshal(rec.Data)
	if len(b) > relay.MaxEventBytes {
		t.Errorf("event is %d bytes", len(b))
	}
	// A cut input that is broken before the cut is still an error.
	if rec := relay.Build([]byte(`{"hook_event_name":"Stop",,"x":"abc`), errors.New("cut"), now); rec.Event != "hook_error" {
		t.Errorf("broken cut input: %s, want hook_error", rec.Event)
	}
}
