package broadcast

import (
	"encoding/json"
	"testing"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
)

// encodeEvent must write what the library's encoder writes, "4" in front.
func TestEncodeEventMatchesLibrary(t *testing.T) {
	var data map[string]any
	if err := json.Unmarshal([]byte(`{"tool_name":"Bash","tool_input":{"command":"ls <x> & \"y\"","n":1.5e300},"list":[1,null,true,"é"],"event_id":"e1","seq":7}`), &data); err != nil {
		t.Fatal(err)
	}
	data["seq"] = int64(7)
	for _, nsp := range []string{"/hook", "/", "/system"} {
		got, ok := encodeEvent(nsp, "PreToolUse", data)
		if !ok {
			t.Fatalf("encodeEvent(%s) refused plain data", nsp)
		}
		want := parser.NewEncoder().Encode(&parser.Packet{Type: parser.EVENT, Nsp: nsp, Data: []any{"PreToolUse", data}})
		if len(want) != 1 || string(got) != "4"+want[0].String() {
			t.Errorf("encodeEvent(%s) = %s, library: 4%s", nsp, got, want[0].String())
		}
	}
	if _, ok := encodeEvent("/hook", "x", map[string]any{"b": []byte{1}}); ok {
		t.Error("encodeEvent took binary data")
	}
}
