package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
)

// FuzzParseEmit feeds arbitrary bodies to the POST /emit parser. It must
// never panic, and whatever it accepts must be one well-formed JSON object
// naming one of the eight namespaces and a valid event name, with an object
// as data: anything less would reach the store or the wire.
func FuzzParseEmit(f *testing.F) {
	for _, s := range []string{
		`{"namespace":"system","event":"custom_event","data":{"message":"hi"}}`,
		`{"namespace":"/hook","event":"pre_tool","data":{"tool_name":"Bash","event_id":"e1"}}`,
		`{"namespace":"log","event":"message"}`,
		`{"namespace":"memory","event":"created","data":{},"event_id":"x"}`,
		`{"namespace":"system","event":"connect","data":{}}`,
		`{"namespace":"nope","event":"x"}`,
		`{"namespace":"system","event":"a b"}`,
		`{"namespace":"system","event":"x","data":[1,2]}`,
		`{"namespace":"system","event":"x","data":null}`,
		`{"namespace":"system","event":"x"} {"namespace":"system","event":"y"}`,
		`{"namespace":"system","event":"x"}}`,
		`{"namespace":"system","event":"x"}]`,
		`{"namespace":"system","event":1e999}`,
		`{"namespace":"system","event":"x","data":{"n":123456789012345678901234567890}}`,
		`[]`, `null`, ``, `   `, `"str"`, `{`, `{"namespace":null}`,
		"{\"namespace\":\"system\",\"event\":\"\\u0000\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := parseEmit(body)
		if err != nil {
			if ev != nil {
				t.Fatalf("parseEmit(%q) returned an event with the error %v", body, err)
			}
			if err.Error() == "" {
				t.Fatalf("parseEmit(%q): empty error message", body)
			}
			return
		}
		if ev == nil {
			t.Fatalf("parseEmit(%q): no event and no error", body)
		}
		if !json.Valid(body) {
			t.Fatalf("parseEmit accepted a body that is not one JSON value: %q", body)
		}
		if !event.IsNamespace(ev.Namespace) {
			t.Fatalf("parseEmit(%q): namespace %q is not served", body, ev.Namespace)
		}
		if err := event.ValidateName(ev.Name); err != nil {
			t.Fatalf("parseEmit(%q): accepted event name %q: %v", body, ev.Name, err)
		}
		if ev.Data == nil {
			t.Fatalf("parseEmit(%q): nil data", body)
		}
		// What the pipeline does next must not fail on what the parser let in.
		if err := ev.Prepare(time.Unix(0, 0)); err == nil {
			if _, err := json.Marshal(ev.Payload()); err != nil {
				t.Fatalf("parseEmit(%q): accepted data that cannot be encoded: %v", body, err)
			}
		}
	})
}
