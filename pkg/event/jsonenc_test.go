package event

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestAppendJSONMatchesMarshal(t *testing.T) {
	docs := []string{
		`null`, `true`, `false`, `0`, `-0`, `1`, `-1.5`, `1e21`, `1e20`, `1e-6`, `1e-7`, `123456789012345678`,
		`0.000001234`, `-2.5e-300`, `1.7976931348623157e308`, `""`, `"plain"`, `"<a href='x'>&</a>"`,
		`"quote \" backslash \\ tab \t nl \n"`, `"\u0000\u001f"`, `"é ü 日本 😀"`, `"\u2028\u2029"`,
		`[]`, `{}`, `[1,"a",null,[{}]]`,
		`{"tool_name":"Bash","tool_input":{"command":"ls -la","timeout":1200},"b":[1,2,{"z":1,"a":2}],"session_id":"s1","a":null}`,
	}
	for _, d := range docs {
		var v any
		if err := json.Unmarshal([]byte(d), &v); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendJSON(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("AppendJSON(%s) = %s, json.Marshal = %s", d, got, want)
		}
	}
	for _, v := range []any{json.Number("12345678901234567890"), json.Number("-1.5e-7"), json.Number(""), map[string]any{"n": json.Number("3")}, map[string]string{"b": "1", "a": "<"}, 7, []string{"x"}, map[string]any(nil), []any(nil)} {
		want, _ := json.Marshal(v)
		got, err := AppendJSON(nil, v)
		if err != nil || string(got) != string(want) {
			t.Errorf("AppendJSON(%#v) = %s, %v; want %s", v, got, err, want)
		}
	}
	if got, err := AppendPlainJSON(nil, map[string]any{"s": int64(-3), "i": 4, "f": 0.5}); err != nil || string(got) != `{"f":0.5,"i":4,"s":-3}` {
		t.Errorf("AppendPlainJSON = %s, %v", got, err)
	}
	if _, err := AppendPlainJSON(nil, map[string]any{"x": []byte("b")}); err != ErrNotPlainJSON {
		t.Errorf("AppendPlainJSON([]byte) err = %v", err)
	}
	if _, err := AppendJSON(nil, map[string]any{"x": math.NaN()}); err == nil {
		t.Error("NaN encoded without an error")
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add(`{"a":[1,2.5,"x<y"],"b":{"c":null,"d":true}}`)
	f.Add(`"\u00e9\ud83d\ude00"`)
	f.Fuzz(func(t *testing.T, doc string) {
		var v any
		if json.Unmarshal([]byte(doc), &v) != nil {
			return
		}
		check(t, v)
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			check(t, v)
		}
	})
}

func check(t *testing.T, v any) {
	want, err := json.Marshal(v)
	if err != nil {
		return
	}
	got, err := AppendJSON(nil, v)
	if err != nil || string(got) != string(want) {
		t.Fatalf("AppendJSON = %s, %v; json.Marshal = %s", got, err, want)
	}
}
