package session_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/pricing"
	"github.com/mpm-dev/mpm/pkg/session"
)

// recordedHistory is every recorded real-CLI session's hook events and
// transcript events (read by the real watcher), as one history in seq
// order.
func recordedHistory(t *testing.T) []*event.Event {
	t.Helper()
	dirs, _ := filepath.Glob("../claudetest/testdata/*/standin.json")
	if len(dirs) < 5 {
		t.Fatalf("found %d recorded sessions", len(dirs))
	}
	var out []*event.Event
	now := t0
	for _, sj := range dirs {
		dir := filepath.Dir(sj)
		var rec struct {
			SessionID  string `json:"session_id"`
			Transcript string
		}
		b, err := os.ReadFile(sj)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		for _, h := range loadHooks(t, filepath.Join(dir, "hooks.jsonl")) {
			now = now.Add(10 * time.Millisecond)
			name, _ := h["hook_event_name"].(string)
			ev := &event.Event{ID: fmt.Sprintf("h-%d", len(out)), Namespace: "/hook", Name: event.HookEventName(name), Data: h}
			if err := ev.Prepare(now); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
		projects, _ := filepath.Abs(filepath.Join(dir, "projects"))
		main, _ := filepath.Abs(filepath.Join(dir, rec.Transcript))
		out = append(out, transcriptEvents(t, projects, rec.SessionID, main)...)
	}
	// Claude Code's OpenTelemetry records, then the transcript's usage of
	// the first API call and that call's record again: the request ids the
	// model remembers must survive a snapshot.
	f, err := os.Open("../otlp/testdata/claude-2.1.332/protobuf.events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	var first map[string]any
	for sc.Scan() {
		var raw struct {
			Event string
			Data  map[string]any
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		if raw.Event == "api_request" && first == nil {
			first = raw.Data
		}
		out = append(out, &event.Event{ID: fmt.Sprintf("o-%d", len(out)), Namespace: "/claude", Name: raw.Event, Data: raw.Data})
	}
	if first == nil {
		t.Fatal("no api_request in the OpenTelemetry recording")
	}
	out = append(out,
		&event.Event{ID: "tx-usage", Namespace: "/claude", Name: "usage", Data: map[string]any{
			"session_id": first["session_id"], "message_id": "msg_x", "request_id": first["request_id"], "model": first["model"],
			"input_tokens": first["input_tokens"], "output_tokens": first["output_tokens"]}},
		&event.Event{ID: "o-again", Namespace: "/claude", Name: "api_request", Data: first})
	// A foreground Agent call whose subagent starts later: the pending
	// spawn, with its run_in_background, must survive a snapshot too.
	for _, h := range []map[string]any{
		hook("SessionStart", nil),
		hook("PreToolUse", map[string]any{"tool_name": "Agent", "tool_use_id": "toolu_fg", "tool_input": map[string]any{"description": "d", "prompt": "p", "subagent_type": "Explore", "run_in_background": false}}),
		hook("SubagentStart", map[string]any{"agent_id": "afg", "agent_type": "Explore"}),
		hook("PreToolUse", map[string]any{"agent_id": "afg", "agent_type": "Explore", "tool_name": "Read", "tool_use_id": "toolu_r", "tool_input": map[string]any{"file_path": "/x"}}),
		hook("SubagentStop", map[string]any{"agent_id": "afg", "agent_type": "Explore", "last_assistant_message": "done"}),
		hook("PostToolUse", map[string]any{"tool_name": "Agent", "tool_use_id": "toolu_fg", "tool_response": map[string]any{"status": "completed"}}),
		hook("Stop", nil),
	} {
		name, _ := h["hook_event_name"].(string)
		out = append(out, &event.Event{ID: fmt.Sprintf("h-%d", len(out)), Namespace: "/hook", Name: event.HookEventName(name), Data: h})
	}
	for i, ev := range out {
		ev.Seq = int64(i + 1)
		if ev.Time.IsZero() {
			now = now.Add(10 * time.Millisecond)
			if err := ev.Prepare(now); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// view is everything the model shows, as JSON.
func view(t *testing.T, m *session.Model) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	must := func(v any) {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	must(m.Seq())
	list := m.List()
	must(list)
	for _, s := range list {
		d, _ := m.Get(s.ID)
		must(d)
		tools, n, _ := m.Tools(s.ID, 0, 0)
		must(tools)
		must(n)
		entries, n, _ := m.Entries(s.ID, 0, 0)
		must(entries)
		must(n)
		must(m.TranscriptsOf(s.ID))
	}
	latest, _ := m.Latest()
	must(latest)
	return b.String()
}

// A model restored from a snapshot is the model a replay builds: at every
// point of a real history, snapshotting, restoring into a fresh model and
// applying the rest gives the same view, and derives the same events, as
// applying everything to one model.
func TestSnapshotRestoreEqualsReplay(t *testing.T) {
	evs := recordedHistory(t)
	prices := tablePricer{pricing.Default()}
	full := session.New(prices, session.Limits{})
	derived := make([]string, len(evs))
	for i, ev := range evs {
		b, _ := json.Marshal(full.Apply(ev))
		derived[i] = string(b)
	}
	want := view(t, full)
	for cut := 0; cut <= len(evs); cut++ {
		part := session.New(prices, session.Limits{})
		for _, ev := range evs[:cut] {
			part.Apply(ev)
		}
		var snap bytes.Buffer
		if err := part.Snapshot(&snap); err != nil {
			t.Fatal(err)
		}
		restored := session.New(prices, session.Limits{})
		if err := restored.Restore(bytes.NewReader(snap.Bytes())); err != nil {
			t.Fatal(err)
		}
		if got, had := view(t, restored), view(t, part); got != had {
			t.Fatalf("cut %d: the restored model differs from the one snapshotted", cut)
		}
		for i, ev := range evs[cut:] {
			b, _ := json.Marshal(restored.Apply(ev))
			if string(b) != derived[cut+i] {
				t.Fatalf("cut %d: event %d (%s %s) derives\n%s\nafter a restore, but\n%s\nin a replay", cut, ev.Seq, ev.Namespace, ev.Name, b, derived[cut+i])
			}
		}
		if got := view(t, restored); got != want {
			t.Fatalf("cut %d: restored and continued, the model differs from the replayed one", cut)
		}
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	m := session.New(nil, session.Limits{})
	f := newFeeder(t, nil)
	f.m = m
	f.hook(hook("SessionStart", nil))
	before := view(t, m)
	if err := m.Restore(bytes.NewReader([]byte("not a snapshot"))); err == nil {
		t.Fatal("garbage restored")
	}
	var snap bytes.Buffer
	if err := m.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(bytes.NewReader(snap.Bytes()[:snap.Len()/2])); err == nil {
		t.Fatal("a truncated snapshot restored")
	}
	if view(t, m) != before {
		t.Fatal("a failed restore changed the model")
	}
}
