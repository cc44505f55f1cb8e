package event

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Derived is an event that mpmd makes from a raw /hook event.
type Derived struct {
	Namespace string
	Name      string
	Data      map[string]any
}

// Session statuses used by /session status_changed and /claude status_changed.
const (
	StatusRunning    = "running"
	StatusWaiting    = "waiting_for_permission"
	StatusIdle       = "idle"
	StatusCompacting = "compacting"
	StatusEnded      = "ended"
)

// StartLookup finds when a session started, for sessions that began before
// this process did (mpmd restarted mid-session). It returns the zero time when
// it does not know.
type StartLookup func(sessionID string) time.Time

// Deriver applies the derivation table. It keeps a little state per session
// (start time, current status, the last todo list, when each Task started) so
// it can report durations and only real changes. It is safe for concurrent
// use, though mpmd calls it from its one pipeline goroutine.
type Deriver struct {
	mu       sync.Mutex
	sessions map[string]*sessionState
	lookup   StartLookup
}

type sessionState struct {
	pid    float64 // Claude Code's pid, when the relay could tell it
	start  time.Time
	status string
	todos  map[string]string // todo content → status
	tasks  map[string]time.Time
	seen   time.Time
}

// maxSessions bounds the state kept; the least recently seen sessions go first.
const maxSessions = 4096

// NewDeriver returns a Deriver; lookup may be nil.
func NewDeriver(lookup StartLookup) *Deriver {
	return &Deriver{sessions: map[string]*sessionState{}, lookup: lookup}
}

func (d *Deriver) session(id string, now time.Time) *sessionState {
	s, ok := d.sessions[id]
	if !ok {
		if len(d.sessions) >= maxSessions {
			d.evictOldest()
		}
		s = &sessionState{todos: map[string]string{}, tasks: map[string]time.Time{}}
		d.sessions[id] = s
	}
	s.seen = now
	return s
}

func (d *Deriver) evictOldest() {
	var oldID string
	var old time.Time
	for id, s := range d.sessions {
		if oldID == "" || s.seen.Before(old) {
			oldID, old = id, s.seen
		}
	}
	delete(d.sessions, oldID)
}

// Derive returns the events that the /hook event (name, data) at time ts
// gives rise to, per the table in docs/EVENTS.md. Every derived event carries
// the source's session_id, timestamp and source_event_id. Events of other
// namespaces derive nothing.
func (d *Deriver) Derive(name string, data map[string]any, ts time.Time, sourceID string) []Derived {
	d.mu.Lock()
	defer d.mu.Unlock()
	hook := str(data, "hook_event_name")
	if hook == "" {
		hook = hookFromEventName(name)
	}
	sid := str(data, "session_id")
	st := d.session(sid, ts)
	if pid, ok := num(data["claude_pid"]); ok && pid > 0 {
		st.pid = pid
	}
	var pid any
	if st.pid > 0 {
		pid = st.pid
	}
	stamp := FormatTime(ts)
	var out []Derived
	emit := func(ns, ev string, fields map[string]any) {
		fields["session_id"] = sid
		fields["timestamp"] = stamp
		fields["source_event_id"] = sourceID
		out = append(out, Derived{Namespace: ns, Name: ev, Data: fields})
	}
	setStatus := func(status, message string) {
		if st.status == status {
			return
		}
		prev := st.status
		st.status = status
		emit("/session", "status_changed", map[string]any{"status": status, "previous_status": prev})
		emit("/claude", "status_changed", map[string]any{"status": status, "message": message, "pid": pid})
	}

	switch hook {
	case HookSessionStart:
		st.start = ts
		st.status = StatusIdle // a new session waits for its first prompt
		emit("/session", "start", map[string]any{
			"start_time":        stamp,
			"launch_method":     orDefault(str(data, "source"), "startup"),
			"working_directory": str(data, "cwd"),
			"model":             data["model"],
			"transcript_path":   str(data, "transcript_path"),
		})
		emit("/claude", "status_changed", map[string]any{
			"pid":     pid,
			"status":  StatusIdle,
			"message": fmt.Sprintf("Claude Code session started (%s)", orDefault(str(data, "source"), "startup")),
		})
	case HookSessionEnd:
		fields := map[string]any{"end_time": stamp, "reason": str(data, "reason")}
		start := st.start
		if start.IsZero() && d.lookup != nil {
			start = d.lookup(sid)
		}
		if !start.IsZero() {
			fields["start_time"] = FormatTime(start)
			fields["duration_seconds"] = ts.Sub(start).Seconds()
		}
		emit("/session", "end", fields)
		setStatus(StatusEnded, "Claude Code session ended: "+orDefault(str(data, "reason"), "unknown reason"))
		delete(d.sessions, sid)
	case HookUserPromptSubmit:
		setStatus(StatusRunning, "Processing a prompt")
	case HookPreToolUse:
		tool := str(data, "tool_name")
		input, _ := data["tool_input"].(map[string]any)
		switch {
		case isAgentTool(tool):
			st.tasks[str(data, "tool_use_id")] = ts
			emit("/agent", "task_delegated", map[string]any{
				"agent":       orDefault(str(input, "subagent_type"), "general-purpose"),
				"task":        str(input, "description"),
				"prompt":      str(input, "prompt"),
				"status":      "started",
				"tool_use_id": str(data, "tool_use_id"),
			})
		case tool == "TodoWrite":
			todoEvents(st, input, emit)
		}
	case HookPostToolUse, HookPostToolUseFailure:
		failed := hook == HookPostToolUseFailure
		tool := str(data, "tool_name")
		input, _ := data["tool_input"].(map[string]any)
		if st.status == StatusWaiting {
			setStatus(StatusRunning, "Permission answered; running")
		}
		switch {
		case isAgentTool(tool):
			id := str(data, "tool_use_id")
			fields := map[string]any{
				"agent":       orDefault(str(input, "subagent_type"), "general-purpose"),
				"task":        str(input, "description"),
				"status":      "completed",
				"tool_use_id": id,
			}
			if failed {
				fields["status"] = "failed"
				fields["error"] = str(data, "error")
			}
			if ms, ok := num(data["duration_ms"]); ok {
				fields["duration_ms"] = ms
			} else if t0, ok := st.tasks[id]; ok {
				fields["duration_ms"] = float64(ts.Sub(t0).Milliseconds())
			}
			delete(st.tasks, id)
			emit("/agent", "task_completed", fields)
		case !failed && isMemoryWrite(tool, input):
			emit("/memory", "updated", map[string]any{
				"agent_id":      orDefault(str(data, "agent_type"), "main"),
				"file_path":     str(input, "file_path"),
				"learning_type": strings.ToLower(tool),
				"content":       clip(memoryContent(input), 2000),
				"section":       filepath.Base(str(input, "file_path")),
			})
		}
	case HookNotification:
		switch str(data, "notification_type") {
		case "permission_prompt":
			setStatus(StatusWaiting, orDefault(str(data, "message"), "Claude needs your permission"))
		case "idle_prompt":
			setStatus(StatusIdle, orDefault(str(data, "message"), "Claude is waiting for your input"))
		default:
			if strings.Contains(strings.ToLower(str(data, "message")), "permission") {
				setStatus(StatusWaiting, str(data, "message"))
			} else {
				emit("/claude", "output", map[string]any{"content": str(data, "message"), "stream": "notification"})
			}
		}
	case HookStop:
		if msg := str(data, "last_assistant_message"); msg != "" {
			emit("/claude", "output", map[string]any{"content": clip(msg, 4000), "stream": "assistant"})
		}
		setStatus(StatusIdle, "Claude finished responding")
	case HookSubagentStart:
		emit("/agent", "agent_switched", map[string]any{
			"agent": orDefault(str(data, "agent_type"), "subagent"), "agent_id": str(data, "agent_id"), "status": "started",
		})
	case HookSubagentStop:
		emit("/agent", "agent_switched", map[string]any{
			"agent": "main", "from": orDefault(str(data, "agent_type"), "subagent"), "agent_id": str(data, "agent_id"), "status": "stopped",
		})
	case HookPreCompact:
		setStatus(StatusCompacting, "Compacting the conversation ("+orDefault(str(data, "trigger"), "auto")+")")
	case HookInstructionsLoaded:
		fields := map[string]any{
			"agent_id":    orDefault(str(data, "agent_type"), "main"),
			"file_path":   str(data, "file_path"),
			"memory_type": str(data, "memory_type"),
			"load_reason": str(data, "load_reason"),
		}
		if c, ok := data["content"].(string); ok {
			fields["memory_size"] = len(c)
			fields["sections_count"] = strings.Count("\n"+c, "\n#")
		}
		emit("/memory", "loaded", fields)
	}
	return out
}

// todos turns a TodoWrite input into /todo updated plus task_added and
// task_completed for what changed since the session's previous list.
func todoEvents(st *sessionState, input map[string]any, emit func(string, string, map[string]any)) {
	raw, _ := input["todos"].([]any)
	todos := make([]any, 0, len(raw))
	stats := map[string]any{"total": 0, "completed": 0, "in_progress": 0, "pending": 0}
	counts := map[string]int{}
	next := map[string]string{}
	var added, completed []map[string]any
	for i, r := range raw {
		t, ok := r.(map[string]any)
		if !ok {
			continue
		}
		item := make(map[string]any, len(t)+1)
		for k, v := range t {
			item[k] = v
		}
		if _, ok := item["id"]; !ok {
			item["id"] = fmt.Sprint(i + 1)
		}
		status := orDefault(str(t, "status"), "pending")
		counts[status]++
		content := str(t, "content")
		next[content] = status
		if prev, ok := st.todos[content]; !ok {
			added = append(added, item)
		} else if status == "completed" && prev != "completed" {
			completed = append(completed, item)
		}
		todos = append(todos, item)
	}
	stats["total"] = len(todos)
	for _, k := range []string{"completed", "in_progress", "pending"} {
		stats[k] = counts[k]
	}
	st.todos = next
	emit("/todo", "updated", map[string]any{"todos": todos, "stats": stats})
	for _, t := range added {
		emit("/todo", "task_added", map[string]any{"task": t, "stats": stats})
	}
	for _, t := range completed {
		emit("/todo", "task_completed", map[string]any{"task": t, "stats": stats})
	}
}

func isAgentTool(tool string) bool { return tool == "Task" || tool == "Agent" }

// isMemoryWrite reports an edit of a Claude memory file: CLAUDE.md,
// CLAUDE.local.md, or anything in a .claude/memory or memories directory.
func isMemoryWrite(tool string, input map[string]any) bool {
	switch tool {
	case "Write", "Edit", "MultiEdit":
	default:
		return false
	}
	p := filepath.ToSlash(str(input, "file_path"))
	base := filepath.Base(p)
	return base == "CLAUDE.md" || base == "CLAUDE.local.md" || base == "MEMORY.md" ||
		strings.Contains(p, "/.claude/memory") || strings.Contains(p, "/memories/")
}

func memoryContent(input map[string]any) string {
	if c := str(input, "content"); c != "" {
		return c
	}
	return str(input, "new_string")
}

// hookFromEventName recovers the hook event from a /hook event name when the
// data lacks hook_event_name (a script that emitted by hand).
func hookFromEventName(name string) string {
	for hook, n := range hookNames {
		if n == name {
			return hook
		}
	}
	for _, h := range []string{HookSessionStart, HookSessionEnd, HookPostToolUseFailure, HookNotification,
		HookStop, HookSubagentStart, HookSubagentStop, HookPreCompact, HookInstructionsLoaded} {
		if SnakeCase(h) == name {
			return h
		}
	}
	return ""
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// cut on a rune boundary
	for n > 0 && n < len(s) && s[n]>>6 == 2 {
		n--
	}
	return s[:n] + "…"
}

// SessionInfo is what the Deriver knows of a live session.
type SessionInfo struct {
	SessionID string    `json:"session_id"`
	Status    string    `json:"status"`
	PID       float64   `json:"claude_pid,omitempty"`
	Start     time.Time `json:"start"`
	LastSeen  time.Time `json:"last_seen"`
}

// Sessions returns the sessions seen since start-up that have not ended,
// most recently active first.
func (d *Deriver) Sessions() []SessionInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]SessionInfo, 0, len(d.sessions))
	for id, s := range d.sessions {
		if id == "" {
			continue
		}
		out = append(out, SessionInfo{SessionID: id, Status: s.status, PID: s.pid, Start: s.start, LastSeen: s.seen})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out
}

// num reads a JSON number decoded either as float64 or as json.Number.
func num(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}
