package claudetest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/claudetest"
)

type sse struct {
	event string
	data  map[string]any
}

// post sends a Messages API body and returns the response.
func post(t *testing.T, url, path string, body any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readSSE parses a server-sent event stream.
func readSSE(t *testing.T, r io.Reader) []sse {
	t.Helper()
	var out []sse
	var cur sse
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				t.Fatalf("data line %q: %v", line, err)
			}
		case line == "":
			if cur.event != "" {
				if cur.data["type"] != cur.event {
					t.Errorf("event %s carries type %v", cur.event, cur.data["type"])
				}
				out = append(out, cur)
			}
			cur = sse{}
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	return out
}

func userMsg(content any) map[string]any { return map[string]any{"role": "user", "content": content} }

// The stream has the real API's shape and carries every block, the ids and
// the usage; the same answer unstreamed is one JSON message.
func TestServerStreamsLikeTheAPI(t *testing.T) {
	u := claudetest.Usage{InputTokens: 11, OutputTokens: 22, CacheReadInputTokens: 33, CacheCreation5mInputTokens: 44, CacheCreation1hInputTokens: 55}
	srv := claudetest.NewServer(t, func(r *claudetest.Request) claudetest.Reply {
		return claudetest.Reply{Content: []claudetest.Content{
			claudetest.Thinking("Ünïcode thought"),
			claudetest.Text("Hello, 世界"),
			claudetest.ToolUse("Bash", map[string]any{"command": "echo hi"}),
		}, Usage: u, Model: "claude-test-model"}
	})
	body := map[string]any{"model": "claude-opus-5-5", "stream": true, "max_tokens": 10, "messages": []any{userMsg("hi")}}
	resp := post(t, srv.URL, "/v1/messages?beta=true", body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	evs := readSSE(t, resp.Body)
	var names []string
	for _, e := range evs {
		names = append(names, e.event)
	}
	wantNames := "message_start ping " +
		"content_block_start content_block_delta content_block_delta content_block_delta content_block_stop " +
		"content_block_start content_block_delta content_block_delta content_block_stop " +
		"content_block_start content_block_delta content_block_delta content_block_stop " +
		"message_delta message_stop"
	if got := strings.Join(names, " "); got != wantNames {
		t.Fatalf("events:\n%s\nwant\n%s", got, wantNames)
	}
	xs := srv.Exchanges()
	if len(xs) != 1 {
		t.Fatalf("%d exchanges", len(xs))
	}
	x := xs[0]
	if got := resp.Header.Get("request-id"); got != x.RequestID || got == "" {
		t.Errorf("request-id %q, want %q", got, x.RequestID)
	}
	start := evs[0].data["message"].(map[string]any)
	if start["id"] != x.MessageID || start["model"] != "claude-test-model" || start["role"] != "assistant" {
		t.Errorf("message_start %v", start)
	}
	su := start["usage"].(map[string]any)
	if su["input_tokens"] != 11.0 || su["cache_read_input_tokens"] != 33.0 || su["cache_creation_input_tokens"] != 99.0 ||
		su["cache_creation"].(map[string]any)["ephemeral_1h_input_tokens"] != 55.0 {
		t.Errorf("message_start usage %v", su)
	}
	// Reassemble the blocks from their deltas.
	texts := map[int]string{}
	var sig string
	for _, e := range evs {
		if e.event != "content_block_delta" {
			continue
		}
		i := int(e.data["index"].(float64))
		d := e.data["delta"].(map[string]any)
		switch d["type"] {
		case "thinking_delta":
			texts[i] += d["thinking"].(string)
		case "signature_delta":
			sig = d["signature"].(string)
		case "text_delta":
			texts[i] += d["text"].(string)
		case "input_json_delta":
			texts[i] += d["partial_json"].(string)
		default:
			t.Errorf("delta type %v", d["type"])
		}
	}
	if texts[0] != "Ünïcode thought" || texts[1] != "Hello, 世界" || texts[2] != `{"command":"echo hi"}` || sig == "" {
		t.Errorf("reassembled %v, signature %q", texts, sig)
	}
	if cb := evs[11].data["content_block"].(map[string]any); cb["type"] != "tool_use" || cb["name"] != "Bash" || cb["id"] != x.Reply.Content[2].ID {
		t.Errorf("tool_use block start %v", cb)
	}
	md := evs[len(evs)-2].data
	if md["delta"].(map[string]any)["stop_reason"] != "tool_use" || md["usage"].(map[string]any)["output_tokens"] != 22.0 {
		t.Errorf("message_delta %v", md)
	}
	if srv.Usage() != u || srv.UsageByModel()["claude-test-model"] != u {
		t.Errorf("usage %+v by model %v", srv.Usage(), srv.UsageByModel())
	}

	body["stream"] = false
	resp = post(t, srv.URL, "/v1/messages", body)
	var msg struct {
		ID         string           `json:"id"`
		StopReason string           `json:"stop_reason"`
		Content    []map[string]any `json:"content"`
		Usage      map[string]any   `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil {
		t.Fatal(err)
	}
	if msg.ID == x.MessageID || msg.StopReason != "tool_use" || len(msg.Content) != 3 ||
		msg.Content[0]["thinking"] != "Ünïcode thought" || msg.Content[1]["text"] != "Hello, 世界" ||
		msg.Content[2]["input"].(map[string]any)["command"] != "echo hi" || msg.Usage["output_tokens"] != 22.0 {
		t.Errorf("non-streamed message %+v", msg)
	}
	if got := srv.Usage(); got != u.Add(u) {
		t.Errorf("usage after two answers %+v", got)
	}
}

// Everything else Claude Code may call gets a sensible answer and is
// recorded.
func TestServerOtherRoutes(t *testing.T) {
	srv := claudetest.NewServer(t, func(*claudetest.Request) claudetest.Reply { return claudetest.Reply{} })
	resp := post(t, srv.URL, "/v1/messages/count_tokens", map[string]any{"model": "m", "messages": []any{userMsg("hello there")}})
	var n struct {
		InputTokens int `json:"input_tokens"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&n); err != nil || resp.StatusCode != 200 || n.InputTokens <= 0 {
		t.Errorf("count_tokens: %d %+v %v", resp.StatusCode, n, err)
	}
	head, err := http.Head(srv.URL + "/")
	if err != nil || head.StatusCode != 200 {
		t.Errorf("HEAD /: %v %v", head, err)
	}
	for _, tt := range []struct {
		path string
		code int
	}{{"/v1/models", 200}, {"/api/hello", 404}} {
		path, code := tt.path, tt.code
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != code || !json.Valid(b) {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
		}
	}
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, r.Method+" "+r.Path)
	}
	if want := "POST /v1/messages/count_tokens,HEAD /,GET /v1/models,GET /api/hello"; strings.Join(got, ",") != want {
		t.Errorf("recorded %v, want %s", got, want)
	}
	if len(srv.Exchanges()) != 0 {
		t.Errorf("exchanges %v", srv.Exchanges())
	}
}

// errorTB records Errorf instead of failing, and runs its cleanups on
// demand.
type errorTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (e *errorTB) Errorf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}
func (e *errorTB) Cleanup(f func()) { e.cleanups = append(e.cleanups, f) }

// An answer the scenario did not script still answers, so the CLI goes on,
// but fails the test when it ends; an API error is answered as the API does.
func TestServerUnscriptedAndErrors(t *testing.T) {
	tb := &errorTB{TB: t}
	srv := claudetest.NewServer(tb, claudetest.Rules(
		claudetest.Rule{Name: "overloaded", When: func(r *claudetest.Request) bool { return r.FirstUserContains("busy") },
			Reply: func(*claudetest.Request) claudetest.Reply {
				return claudetest.Reply{Error: &claudetest.APIError{Status: 529, Type: "overloaded_error", Message: "Overloaded"}}
			}},
	))
	resp := post(t, srv.URL, "/v1/messages", map[string]any{"model": "m", "messages": []any{userMsg("are you busy?")}})
	var e struct {
		Type  string `json:"type"`
		Error struct{ Type, Message string }
	}
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 529 || e.Type != "error" || e.Error.Type != "overloaded_error" || resp.Header.Get("request-id") == "" {
		t.Errorf("error answer %d %+v", resp.StatusCode, e)
	}
	resp = post(t, srv.URL, "/v1/messages", map[string]any{"model": "m", "messages": []any{userMsg("something unplanned")}})
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "no scripted answer") {
		t.Errorf("unscripted answer %d %s", resp.StatusCode, b)
	}
	if srv.Usage() != claudetest.DefaultUsage {
		t.Errorf("usage %+v: the error must not count, the unscripted answer must", srv.Usage())
	}
	if len(tb.errs) != 0 {
		t.Fatalf("failed before the end: %v", tb.errs)
	}
	for i := len(tb.cleanups) - 1; i >= 0; i-- {
		tb.cleanups[i]()
	}
	if len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "something unplanned") {
		t.Errorf("errors at the end %q, want one naming the unscripted call", tb.errs)
	}
}

// Calls are answered concurrently: a Barrier holds two answers until both
// calls are in.
func TestServerConcurrentCallsAndBarrier(t *testing.T) {
	b := claudetest.NewBarrier(2)
	srv := claudetest.NewServer(t, func(r *claudetest.Request) claudetest.Reply {
		return claudetest.Reply{Content: []claudetest.Content{claudetest.Text("ok " + r.FirstUserText())}, Wait: b.Arrive()}
	})
	done := make(chan string, 2)
	for _, who := range []string{"A", "B"} {
		go func() {
			b, _ := json.Marshal(map[string]any{"model": "m", "messages": []any{userMsg(who)}})
			resp, err := http.Post(srv.URL+"/v1/messages", "application/json", bytes.NewReader(b))
			if err != nil {
				done <- err.Error()
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			done <- string(body)
		}()
	}
	got := []string{<-done, <-done}
	for _, who := range []string{"A", "B"} {
		if !strings.Contains(got[0]+got[1], `"text":"ok `+who+`"`) {
			t.Errorf("no answer for %s in %q", who, got)
		}
	}
	if len(srv.Exchanges()) != 2 {
		t.Errorf("%d exchanges", len(srv.Exchanges()))
	}

	// One party alone waits (until its request is cancelled).
	lone := claudetest.NewBarrier(2)
	srv2 := claudetest.NewServer(t, func(*claudetest.Request) claudetest.Reply {
		return claudetest.Reply{Content: []claudetest.Content{claudetest.Text("late")}, Wait: lone.Arrive()}
	})
	c := http.Client{Timeout: 300 * time.Millisecond}
	if _, err := c.Post(srv2.URL+"/v1/messages", "application/json", strings.NewReader(`{"model":"m","messages":[]}`)); err == nil {
		t.Errorf("a lone party was answered")
	}
}

// Requests decode both content shapes, and the helpers find the parts of
// the conversation a scenario decides on.
func TestRequestHelpers(t *testing.T) {
	got := make(chan *claudetest.Request, 1)
	srv := claudetest.NewServer(t, func(r *claudetest.Request) claudetest.Reply {
		got <- r
		return claudetest.TextReply("ok")
	})
	notification := "<task-notification>\n<task-id>a1b2</task-id>\n<tool-use-id>toolu_9</tool-use-id>\n<status>completed</status>\n" +
		"<summary>Agent \"Sub A\" completed</summary>\n<result>Result with <b>tags</b> inside.</result>\n" +
		"<usage><subagent_tokens>123</subagent_tokens><tool_uses>1</tool_uses><duration_ms>200</duration_ms></usage>\n</task-notification>"
	post(t, srv.URL, "/v1/messages", map[string]any{
		"model": "claude-opus-5-5", "system": "You are a test.",
		"tools": []any{map[string]any{"name": "Bash", "input_schema": map[string]any{"type": "object"}}, map[string]any{"name": "Agent"}},
		"messages": []any{
			userMsg([]any{map[string]any{"type": "text", "text": "<system-reminder>x</system-reminder>"}, map[string]any{"type": "text", "text": "SUBTASK-A go"}}),
			map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": map[string]any{"command": "false"}}}},
			userMsg([]any{map[string]any{"type": "tool_result", "tool_use_id": "toolu_1", "is_error": true, "content": "Exit code 1"}}),
			map[string]any{"role": "assistant", "content": "plain string answer"},
			userMsg([]any{
				map[string]any{"type": "tool_result", "tool_use_id": "toolu_2", "content": []any{map[string]any{"type": "text", "text": "part one"}, map[string]any{"type": "text", "text": "part two"}}},
				map[string]any{"type": "text", "text": notification},
			}),
			// Claude Code's mid-conversation system turn, after the user's.
			map[string]any{"role": "system", "content": "<system-reminder>y</system-reminder>"},
		},
	})
	r := <-got
	if r.Model != "claude-opus-5-5" || r.Stream || len(r.System) != 1 || r.System[0].Text != "You are a test." {
		t.Errorf("model %q stream %v system %+v", r.Model, r.Stream, r.System)
	}
	if !r.FirstUserContains("SUBTASK-A") || r.FirstUserContains("SUBTASK-B") || r.Turn() != 2 {
		t.Errorf("first user %q, turn %d", r.FirstUserText(), r.Turn())
	}
	if !r.HasTool("Agent") || r.HasTool("Write") || strings.Join(r.ToolNames(), ",") != "Bash,Agent" {
		t.Errorf("tools %v", r.ToolNames())
	}
	res := r.ToolResults()
	if len(res) != 1 || res[0].ToolUseID != "toolu_2" || res[0].IsError || res[0].AllText() != "part one\npart two" {
		t.Errorf("tool results %+v", res)
	}
	if _, ok := r.ToolResult("toolu_1"); ok {
		t.Errorf("toolu_1 is not in the last user message")
	}
	if b := r.Messages[2].Content[0]; !b.IsError || b.AllText() != "Exit code 1" {
		t.Errorf("earlier tool result %+v", b)
	}
	if r.Messages[3].Content[0].Text != "plain string answer" {
		t.Errorf("string content %+v", r.Messages[3])
	}
	ns := r.TaskNotifications()
	if !r.IsTaskNotification() || len(ns) != 1 {
		t.Fatalf("notifications %+v", ns)
	}
	n := ns[0]
	if n.TaskID != "a1b2" || n.ToolUseID != "toolu_9" || n.Status != "completed" || n.Summary != `Agent "Sub A" completed` || n.Result != "Result with <b>tags</b> inside." {
		t.Errorf("notification %+v", n)
	}
}
