package plugin_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// messagesAPI is a minimal stand-in for the Anthropic Messages API, enough
// for one `claude -p` turn: the first request is answered with a text block
// and a Bash tool call, every later one (it carries the tool_result) with a
// closing text. It streams SSE like the real API. Kept small on purpose: the
// shared stand-in of pkg/claudetest replaces it once that exists.
func messagesAPI(tb testing.TB, command string) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Model    string `json:"model"`
			Stream   bool   `json:"stream"`
			Messages []struct {
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.NotFound(w, r)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/v1/messages") || strings.Contains(r.URL.Path, "count_tokens") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"input_tokens": 10}`)
			return
		}
		if !body.Stream { // model checks and other one-shot requests
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"id": "msg_oneshot", "type": "message", "role": "assistant", "model": body.Model,
				"content": []any{map[string]any{"type": "text", "text": "ok"}}, "stop_reason": "end_turn",
				"usage": map[string]any{"input_tokens": 5, "output_tokens": 1}})
			return
		}
		toolDone := false
		for _, m := range body.Messages {
			toolDone = toolDone || strings.Contains(string(m.Content), `"tool_result"`)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("request-id", "req_standin")
		sse := func(event string, data map[string]any) {
			b, _ := json.Marshal(data)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		}
		sse("message_start", map[string]any{"type": "message_start", "message": map[string]any{
			"id": "msg_standin", "type": "message", "role": "assistant", "model": body.Model, "content": []any{},
			"usage": map[string]any{"input_tokens": 100, "output_tokens": 1}}})
		text := func(i int, s string) {
			sse("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "text", "text": ""}})
			sse("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "text_delta", "text": s}})
			sse("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
		}
		stop := "end_turn"
		if toolDone {
			text(0, "The plugin's hooks ran.")
		} else {
			stop = "tool_use"
			text(0, "Running a command.")
			input, _ := json.Marshal(map[string]string{"command": command, "description": "run the test command"})
			sse("content_block_start", map[string]any{"type": "content_block_start", "index": 1, "content_block": map[string]any{
				"type": "tool_use", "id": "toolu_standin_1", "name": "Bash", "input": map[string]any{}}})
			sse("content_block_delta", map[string]any{"type": "content_block_delta", "index": 1, "delta": map[string]any{
				"type": "input_json_delta", "partial_json": string(input)}})
			sse("content_block_stop", map[string]any{"type": "content_block_stop", "index": 1})
		}
		sse("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop}, "usage": map[string]any{"output_tokens": 20}})
		sse("message_stop", map[string]any{"type": "message_stop"})
	})}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
