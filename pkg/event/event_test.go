package event_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
)

func TestNormalizeNamespace(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"system", "/system", ""},
		{"/hook", "/hook", ""},
		{"log", "/log", ""},
		{"", "", "unknown namespace"},
		{"/", "", "unknown namespace"},
		{"/admin", "", "unknown namespace"},
		{"System", "", "unknown namespace"},
		{"/system/x", "", "unknown namespace"},
	} {
		got, err := event.NormalizeNamespace(c.in)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("NormalizeNamespace(%q) = %q, %v; want %q, %q", c.in, got, err, c.want, c.err)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"pre_tool", true}, {"custom_event", true}, {"a.b:c-d", true}, {"X1", true},
		{"", false}, {"connect", false}, {"disconnect", false}, {"newListener", false},
		{"has space", false}, {"ünïcode", false}, {"slash/y", false}, {strings.Repeat("a", 65), false},
		{strings.Repeat("a", 64), true},
	} {
		if err := event.ValidateName(c.name); (err == nil) != c.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestHookEventName(t *testing.T) {
	for in, want := range map[string]string{
		"UserPromptSubmit":   "user_prompt",
		"PreToolUse":         "pre_tool",
		"PostToolUse":        "post_tool",
		"PostToolUseFailure": "post_tool_use_failure",
		"SessionStart":       "session_start",
		"SessionEnd":         "session_end",
		"Notification":       "notification",
		"Stop":               "stop",
		"SubagentStart":      "subagent_start",
		"SubagentStop":       "subagent_stop",
		"PreCompact":         "pre_compact",
		"InstructionsLoaded": "instructions_loaded",
		"HTTPRequestDone":    "http_request_done",
		"Future Hook!":       "future_hook_",
	} {
		if got := event.HookEventName(in); got != want {
			t.Errorf("HookEventName(%q) = %q, want %q", in, got, want)
		}
		if err := event.ValidateName(event.HookEventName(in)); err != nil {
			t.Errorf("HookEventName(%q) is not a valid event name: %v", in, err)
		}
	}
}

func TestPrepareAndPayload(t *testing.T) {
	now := time.Date(2025, 1, 31, 14, 30, 52, 123e6, time.UTC)
	e := &event.Event{Namespace: "/hook", Name: "pre_tool", Data: map[string]any{
		"event_id": "abc", "seq": 99.0, "session_id": "s1", "timestamp": "2025-01-31T14:00:00Z",
	}}
	if err := e.Prepare(now); err != nil {
		t.Fatal(err)
	}
	if e.ID != "abc" || e.SessionID != "s1" || !e.Time.Equal(time.Date(2025, 1, 31, 14, 0, 0, 0, time.UTC)) {
		t.Errorf("Prepare: id %q session %q time %v", e.ID, e.SessionID, e.Time)
	}
	if _, ok := e.Data["seq"]; ok {
		t.Error("a producer's seq survived Prepare")
	}
	e.Seq = 7
	p := e.Payload()
	if p["seq"] != int64(7) || p["event_id"] != "abc" || p["timestamp"] != "2025-01-31T14:00:00.000Z" {
		t.Errorf("Payload = %v", p)
	}

	n := &event.Event{Data: map[string]any{"timestamp": "not a time"}}
	if err := n.Prepare(now); err != nil || n.ID == "" || !n.Time.Equal(now) {
		t.Errorf("Prepare without id/time: id %q time %v err %v", n.ID, n.Time, err)
	}
	if got := n.Payload()["timestamp"]; got != "2025-01-31T14:30:52.123Z" {
		t.Errorf("an unreadable producer timestamp is delivered as %v, want the receive time", got)
	}
	z := &event.Event{Data: map[string]any{"timestamp": "2025-01-31T16:30:52.5+02:00"}}
	_ = z.Prepare(now)
	if got := z.Payload()["timestamp"]; got != "2025-01-31T14:30:52.500Z" {
		t.Errorf("a zoned producer timestamp is delivered as %v, want it in UTC", got)
	}
	long := &event.Event{ID: strings.Repeat("x", 200)}
	if err := long.Prepare(now); err == nil {
		t.Error("an over-long event_id was accepted")
	}
}
