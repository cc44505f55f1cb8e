package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/session"
)

const (
	defaultPage = 200
	maxPage     = 2000
	// maxToolJSON bounds a tool's input or result in a conversation page;
	// the whole event is still in /api/events.
	maxToolJSON = 32 << 10
)

// handleSessions answers GET /api/sessions: every session the model knows,
// those that need the user and running ones first; with changed_since=N,
// only those an event after seq N changed (a live view's incremental
// update). seq is how far the model is.
func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	var since int64
	if v := r.URL.Query().Get("changed_since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("changed_since must be a non-negative integer (a seq), got %q", v))
			return
		}
		since = n
	}
	seq := s.sessions.Seq()
	list := s.sessions.ListChanged(since)
	if st := r.URL.Query().Get("status"); st != "" {
		kept := list[:0]
		for _, sess := range list {
			if string(sess.Status) == st {
				kept = append(kept, sess)
			}
		}
		list = kept
	}
	brief := r.URL.Query().Get("brief")
	if brief != "" && brief != "0" && brief != "1" && brief != "true" && brief != "false" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("brief must be 1 or 0, got %q", brief))
		return
	}
	out := make([]listedSession, len(list))
	for i, sess := range list {
		out[i] = listedSession{Session: sess, Agents: sess.Agents, AgentCount: len(sess.Agents)}
		if brief == "1" || brief == "true" {
			out[i].Agents = nil // a list shows the count; a session's page asks for the session
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out, "seq": seq})
}

// listedSession is a Session in GET /api/sessions: with agents_count, and
// without its agents when the list is asked brief (the dashboard's list:
// at a few hundred sessions with dozens of subagents each, the agents are
// most of the answer's megabytes).
type listedSession struct {
	session.Session
	Agents     []session.AgentRun `json:"agents,omitempty"`
	AgentCount int                `json:"agents_count"`
}

// handleSession answers GET /api/sessions/{id}: one session with its
// agents, todo list, tool calls in flight and latest failure.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	d, ok := s.sessions.Get(r.PathValue("id"))
	if !ok {
		noSession(w, r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		session.Detail
		Seq int64 `json:"seq"`
	}{d, s.sessions.Seq()})
}

func noSession(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("no session %q: GET /api/sessions lists the sessions mpmd knows", id))
}

// pageParams reads offset and limit.
func pageParams(q url.Values) (offset, limit int, err error) {
	read := func(name string, def int) (int, error) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return 0, fmt.Errorf("%s must be a non-negative integer, got %q", name, v)
		}
		return n, nil
	}
	if offset, err = read("offset", 0); err != nil {
		return
	}
	if limit, err = read("limit", defaultPage); err != nil {
		return
	}
	if limit == 0 || limit > maxPage {
		return 0, 0, fmt.Errorf("limit must be between 1 and %d", maxPage)
	}
	return offset, limit, nil
}

// handleTools answers GET /api/sessions/{id}/tools: the session's tool
// calls in the order they started.
func (s *Server) handleTools(w http.ResponseWriter, r *http.Request) {
	offset, limit, err := pageParams(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	tools, total, ok := s.sessions.Tools(r.PathValue("id"), offset, limit)
	if !ok {
		noSession(w, r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"session_id": r.PathValue("id"), "offset": offset, "total": total, "tools": tools})
}

// handleTranscript answers GET /api/sessions/{id}/transcript: the
// conversation in time order — typed prompts, assistant text, thinking,
// tool calls with input and result, subagents' starts and ends and task
// notifications — each with its agent_id, a page at a time.
func (s *Server) handleTranscript(w http.ResponseWriter, r *http.Request) {
	offset, limit, err := pageParams(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	id := r.PathValue("id")
	entries, total, ok := s.sessions.Entries(id, offset, limit)
	if !ok {
		noSession(w, id)
		return
	}
	var seqs []int64
	for _, e := range entries {
		if e.Tool != nil {
			for _, q := range []int64{e.Tool.PreSeq, e.Tool.PostSeq} {
				if q > 0 {
					seqs = append(seqs, q)
				}
			}
			continue
		}
		if e.Seq > 0 && e.Text == "" {
			seqs = append(seqs, e.Seq)
		}
	}
	stored := map[int64]*event.Event{}
	if err := s.store.BySeq(r.Context(), seqs, func(ev *event.Event) error { stored[ev.Seq] = ev; return nil }); err != nil {
		writeError(w, http.StatusInternalServerError, "could not read the event store: "+err.Error())
		return
	}
	for i := range entries {
		fillEntry(&entries[i], stored)
	}
	writeJSON(w, http.StatusOK, session.Page{SessionID: id, Offset: offset, Total: total, Entries: entries})
}

// fillEntry sets an entry's text, or a tool's input and result, from the
// stored events it points at.
func fillEntry(e *session.Entry, stored map[int64]*event.Event) {
	if e.Tool != nil {
		if pre := stored[e.Tool.PreSeq]; pre != nil {
			e.Tool.Input = boundedJSON(pre.Data["tool_input"])
		} else if post := stored[e.Tool.PostSeq]; post != nil {
			e.Tool.Input = boundedJSON(post.Data["tool_input"])
		}
		if post := stored[e.Tool.PostSeq]; post != nil {
			if v, ok := post.Data["tool_response"]; ok {
				e.Tool.Result = boundedJSON(v)
			} else if v, ok := post.Data["error"]; ok {
				e.Tool.Result = boundedJSON(v)
			}
		}
		return
	}
	ev := stored[e.Seq]
	if ev == nil || e.Text != "" {
		return
	}
	switch e.Kind {
	case session.EntryPrompt:
		e.Text, _ = ev.Data["prompt"].(string)
	case session.EntryText, session.EntryThinking:
		e.Text, _ = ev.Data["content"].(string)
	case session.EntryFinal:
		e.Text, _ = ev.Data["last_assistant_message"].(string)
	}
}

// boundedJSON is v as JSON, or a JSON string that says it was cut.
func boundedJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := event.AppendJSON(nil, v)
	if err != nil {
		return nil
	}
	if len(b) <= maxToolJSON {
		return b
	}
	cut := maxToolJSON
	for cut > 0 && b[cut]>>6 == 2 {
		cut--
	}
	s, _ := json.Marshal(string(b[:cut]) + fmt.Sprintf("…[truncated %d bytes; the whole event is in /api/events]", len(b)-cut))
	return s
}
