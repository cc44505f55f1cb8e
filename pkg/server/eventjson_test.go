package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

// The API form written from the stored JSON text is byte for byte what
// encoding the decoded event writes, for data of every shape: keys on
// either side of event_id, seq and timestamp (and those keys themselves,
// which the event's own replace), escapes, HTML characters, nesting,
// brackets inside strings, numbers, empty data.
func TestStoredJSONWithoutDecoding(t *testing.T) {
	st, err := store.Open(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	datas := []map[string]any{
		{},
		{"a": 1.0, "z": "last"},
		{"timestamp": "2020-01-01T00:00:00Z", "seq": 99.0, "event_id": "theirs", "event_ia": true, "event_idz": nil, "seq0": "x", "sep": []any{}, "timestamp0": map[string]any{}},
		{"text": "quote \" backslash \\ brace } bracket ] <b>&amp;</b> é 😀 \u2028 \x01", "nested": map[string]any{"k": []any{"}", "{", map[string]any{"\"weird key\\": 1.5e300}}}},
		{"\"": "a key that is a quote", "é": "unicode key", "": "empty key", "num": -0.000001, "big": 12345678901234567890.0},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"a", "event_id", "seq", "timestamp", "x\"y", "}", "[", "\\", "<>", "tool_input", "zz"}
	var value func(depth int) any
	value = func(depth int) any {
		switch k := rng.IntN(7); {
		case k == 0 && depth < 3:
			m := map[string]any{}
			for range rng.IntN(5) {
				m[words[rng.IntN(len(words))]+fmt.Sprint(rng.IntN(3))] = value(depth + 1)
			}
			return m
		case k == 1 && depth < 3:
			var a []any
			for range rng.IntN(4) {
				a = append(a, value(depth+1))
			}
			return a
		case k == 2:
			return rng.Float64() * 1e6
		case k == 3:
			return rng.IntN(2) == 0
		case k == 4:
			return nil
		}
		return words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
	}
	for range 300 {
		m := map[string]any{}
		for range rng.IntN(8) {
			m[words[rng.IntN(len(words))]] = value(0)
		}
		datas = append(datas, m)
	}
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range datas {
		ev := &event.Event{ID: fmt.Sprintf("id-%d-<&>\"", i), Namespace: "/hook", Name: "pre_tool", SessionID: "s\"1", Time: time.UnixMilli(1764800000123 + int64(i)), Data: d}
		if _, err := tx.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var want []string
	if err := st.Each(context.Background(), store.Filter{}, func(e *event.Event) error {
		b, err := json.Marshal(storedJSON(e))
		want = append(want, string(b))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	i := 0
	if err := st.EachRaw(context.Background(), store.Filter{}, func(r *store.Raw) error {
		got, err := appendStoredJSON(nil, r)
		if err != nil {
			return fmt.Errorf("event %d (%s): %w", r.Seq, r.Data, err)
		}
		if string(got) != want[i] {
			t.Errorf("event %d:\n got %s\nwant %s", r.Seq, got, want[i])
		}
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if i != len(datas) {
		t.Fatalf("%d events read, %d stored", i, len(datas))
	}
}

// Data that is not an object (nothing mpmd writes, but a store may hold
// anything) is written the slow way, or refused with an error: never
// spliced into broken JSON.
func TestStoredJSONOfOddData(t *testing.T) {
	for _, data := range []string{`null`, `[1,2]`, `"s"`, `{"a":`, `{"a" 1}`, `{"a":1,}`, `{`, ``} {
		r := &store.Raw{Seq: 1, ID: "i", Namespace: "/hook", Name: "x", TimeMs: 1, Data: []byte(data)}
		b, err := appendRawEvent(nil, r)
		if err == nil && !json.Valid(b) {
			t.Errorf("data %q: wrote invalid JSON %s", data, b)
		}
		if data == "null" && err != nil {
			t.Errorf("data null: %v", err)
		}
	}
}
