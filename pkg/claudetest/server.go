package claudetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the Messages API stand-in: an httptest server on a loopback port
// that answers POST /v1/messages from its Scenario, streamed as the real API
// streams (or as one JSON message when the request does not ask for a
// stream), and records every call it gets.
type Server struct {
	URL string // http://127.0.0.1:PORT, for ANTHROPIC_BASE_URL

	tb       testing.TB
	scenario Scenario
	srv      *httptest.Server

	mu        sync.Mutex
	requests  []*Request
	exchanges []Exchange
	ids       int
}

// Exchange is one answered Messages API call: the request, the reply as
// sent (ids filled in, usage resolved) and the ids it carried.
type Exchange struct {
	Request    *Request
	Reply      Reply
	MessageID  string // msg_…
	RequestID  string // the request-id header
	Model      string // the model the answer names
	Usage      Usage  // the usage it reported
	StopReason string // the stop_reason it reported
	Scripted   bool   // false: the scenario had no answer
}

// NewServer starts a stand-in answering from sc; it is closed when the test
// ends, and the test fails if a Messages API call was not scripted.
func NewServer(tb testing.TB, sc Scenario) *Server {
	tb.Helper()
	s := &Server{tb: tb, scenario: sc}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(func() {
		s.srv.CloseClientConnections()
		s.srv.Close()
		for _, x := range s.Exchanges() {
			if !x.Scripted {
				tb.Errorf("claudetest: call %d (model %s, turn %d) had no scripted answer; its last user message: %.300q",
					x.Request.Seq, x.Request.Model, x.Request.Turn(), x.Request.LastUserText())
			}
		}
	})
	return s
}

// Requests are every call received so far, of any method and path, in order.
func (s *Server) Requests() []*Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Request(nil), s.requests...)
}

// Exchanges are the answered Messages API calls so far, in the order their
// answers were decided.
func (s *Server) Exchanges() []Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Exchange(nil), s.exchanges...)
}

// Usage is the sum of the usage of every message answered so far: what
// Claude Code should count for the session (subagents included).
func (s *Server) Usage() Usage {
	var u Usage
	for _, x := range s.Exchanges() {
		if x.Reply.Error == nil {
			u = u.Add(x.Usage)
		}
	}
	return u
}

// UsageByModel is Usage split by the answering model.
func (s *Server) UsageByModel() map[string]Usage {
	out := map[string]Usage{}
	for _, x := range s.Exchanges() {
		if x.Reply.Error == nil {
			out[x.Model] = out[x.Model].Add(x.Usage)
		}
	}
	return out
}

func (s *Server) nextID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids++
	return s.ids
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	req := &Request{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	req.Seq = len(s.requests)
	s.mu.Unlock()

	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case req.IsMessages():
		s.answer(w, r.Context(), req)
	case r.Method == http.MethodPost && path == "/v1/messages/count_tokens":
		// Roughly a token per four bytes, like the real count's order of magnitude.
		writeJSON(w, http.StatusOK, "", map[string]any{"input_tokens": len(body)/4 + 1})
	case r.Method == http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet && path == "/v1/models":
		writeJSON(w, http.StatusOK, "", map[string]any{"data": []any{}, "has_more": false, "first_id": nil, "last_id": nil})
	default:
		writeJSON(w, http.StatusNotFound, "", apiError(&APIError{Type: "not_found_error", Message: "claudetest: no route for " + r.Method + " " + r.URL.Path}))
	}
}

func (s *Server) answer(w http.ResponseWriter, ctx context.Context, req *Request) {
	if err := req.decode(); err != nil {
		writeJSON(w, http.StatusBadRequest, "", apiError(&APIError{Type: "invalid_request_error", Message: "claudetest: " + err.Error()}))
		return
	}
	reply := s.scenario(req)
	x := Exchange{Request: req, Scripted: reply.scripted()}
	if !x.Scripted {
		reply = TextReply("claudetest: this call has no scripted answer.")
	}
	n := s.nextID()
	x.MessageID = fmt.Sprintf("msg_claudetest%04d", n)
	x.RequestID = fmt.Sprintf("req_claudetest%04d", n)
	x.Model = reply.Model
	if x.Model == "" {
		x.Model = req.Model
	}
	x.Usage = reply.Usage
	if x.Usage.IsZero() {
		x.Usage = DefaultUsage
	}
	reply.Content = append([]Content(nil), reply.Content...)
	for i, c := range reply.Content {
		switch c.Type {
		case "tool_use":
			if c.ID == "" {
				reply.Content[i].ID = fmt.Sprintf("toolu_claudetest%04d%02d", n, i)
			}
			if len(c.Input) == 0 {
				reply.Content[i].Input = json.RawMessage("{}")
			}
		case "thinking":
			if c.Signature == "" {
				reply.Content[i].Signature = "claudetest-signature-" + x.MessageID
			}
		}
	}
	x.Reply = reply
	x.StopReason = reply.stopReason()
	s.mu.Lock()
	s.exchanges = append(s.exchanges, x)
	s.mu.Unlock()

	if reply.Wait != nil {
		select {
		case <-reply.Wait:
		case <-ctx.Done():
			return
		case <-time.After(replyWaitCap):
			s.tb.Errorf("claudetest: call %d waited %s for its Wait channel", req.Seq, replyWaitCap)
		}
	}
	if reply.Error != nil {
		status := reply.Error.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		writeJSON(w, status, x.RequestID, apiError(reply.Error))
		return
	}
	if !req.Stream {
		writeJSON(w, http.StatusOK, x.RequestID, message(x, x.Usage.OutputTokens, true))
		return
	}
	stream(w, x)
}

// message is the Message object of an exchange: empty content (as
// message_start carries it) or the full one.
func message(x Exchange, outputTokens int64, full bool) map[string]any {
	content := []any{}
	var stop any
	if full {
		for _, c := range x.Reply.Content {
			content = append(content, blockJSON(c, true))
		}
		stop = x.Reply.stopReason()
	}
	return map[string]any{
		"id": x.MessageID, "type": "message", "role": "assistant", "model": x.Model,
		"content": content, "stop_reason": stop, "stop_sequence": nil,
		"usage": usageJSON(x.Usage, outputTokens),
	}
}

func usageJSON(u Usage, outputTokens int64) map[string]any {
	return map[string]any{
		"input_tokens":                u.InputTokens,
		"cache_creation_input_tokens": u.CacheCreationInputTokens(),
		"cache_read_input_tokens":     u.CacheReadInputTokens,
		"cache_creation": map[string]any{
			"ephemeral_5m_input_tokens": u.CacheCreation5mInputTokens,
			"ephemeral_1h_input_tokens": u.CacheCreation1hInputTokens,
		},
		"output_tokens": outputTokens,
		"service_tier":  "standard",
	}
}

// blockJSON is a content block as content_block_start carries it (empty)
// or as a non-streamed message holds it (full).
func blockJSON(c Content, full bool) map[string]any {
	switch c.Type {
	case "thinking":
		if full {
			return map[string]any{"type": "thinking", "thinking": c.Text, "signature": c.Signature}
		}
		return map[string]any{"type": "thinking", "thinking": "", "signature": ""}
	case "tool_use":
		input := json.RawMessage("{}")
		if full {
			input = c.Input
		}
		return map[string]any{"type": "tool_use", "id": c.ID, "name": c.Name, "input": input}
	default:
		text := ""
		if full {
			text = c.Text
		}
		return map[string]any{"type": "text", "text": text}
	}
}

// halves splits s in two at a rune boundary, so a block streams as two deltas
// like real answers do (an empty second half is dropped).
func halves(s string) []string {
	rs := []rune(s)
	if len(rs) < 2 {
		return []string{s}
	}
	return []string{string(rs[:len(rs)/2]), string(rs[len(rs)/2:])}
}

// stream writes the exchange's answer as the Messages API's server-sent
// events.
func stream(w http.ResponseWriter, x Exchange) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("request-id", x.RequestID)
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	send := func(event string, data map[string]any) {
		data["type"] = event
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		if fl != nil {
			fl.Flush()
		}
	}
	send("message_start", map[string]any{"message": message(x, 1, false)})
	send("ping", map[string]any{})
	for i, c := range x.Reply.Content {
		send("content_block_start", map[string]any{"index": i, "content_block": blockJSON(c, false)})
		switch c.Type {
		case "thinking":
			for _, part := range halves(c.Text) {
				send("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "thinking_delta", "thinking": part}})
			}
			send("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "signature_delta", "signature": c.Signature}})
		case "tool_use":
			for _, part := range halves(string(c.Input)) {
				send("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "input_json_delta", "partial_json": part}})
			}
		default:
			for _, part := range halves(c.Text) {
				send("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "text_delta", "text": part}})
			}
		}
		send("content_block_stop", map[string]any{"index": i})
	}
	send("message_delta", map[string]any{
		"delta": map[string]any{"stop_reason": x.Reply.stopReason(), "stop_sequence": nil},
		"usage": usageJSON(x.Usage, x.Usage.OutputTokens),
	})
	send("message_stop", map[string]any{})
}

func apiError(e *APIError) map[string]any {
	return map[string]any{"type": "error", "error": map[string]any{"type": e.Type, "message": e.Message}}
}

func writeJSON(w http.ResponseWriter, status int, requestID string, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	if requestID != "" {
		w.Header().Set("request-id", requestID)
	}
	w.WriteHeader(status)
	w.Write(b)
}
