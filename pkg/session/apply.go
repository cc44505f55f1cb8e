package session

import (
	"fmt"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
)

// applier applies one event to one session's state.
type applier struct {
	m    *Model
	st   *state
	ev   *event.Event
	data map[string]any
	out  []Derived
}

// emit adds a derived event; every one carries the session, the source's
// time and the source event's id.
func (a *applier) emit(ns, name string, fields map[string]any) {
	fields["session_id"] = a.st.s.ID
	fields["timestamp"] = event.FormatTime(a.ev.Time)
	fields["source_event_id"] = a.ev.ID
	a.out = append(a.out, Derived{Namespace: ns, Name: name, Data: fields})
}

// agent is the agent the event belongs to: its agent_id, else the main one.
func (a *applier) agent() string {
	if id := str(a.data, "agent_id"); id != "" {
		return id
	}
	return MainAgent
}

// agentState returns the event's subagent (created when first seen), or
// nil for the main agent.
func (a *applier) agentState() *agentState {
	id := a.agent()
	if id == MainAgent {
		return nil
	}
	return a.st.agent(id, str(a.data, "agent_type"), a.ev.Time)
}

func (st *state) agent(id, typ string, t time.Time) *agentState {
	as, ok := st.agents[id]
	if !ok {
		as = &agentState{run: AgentRun{AgentID: id, AgentType: typ, ParentID: MainAgent, Status: AgentRunning, StartedAt: t}}
		st.agents[id] = as
		st.agentOrder = append(st.agentOrder, id)
	}
	if as.run.AgentType == "" {
		as.run.AgentType = typ
	}
	return as
}

func (a *applier) pid() any {
	if a.st.s.PID > 0 {
		return a.st.s.PID
	}
	return nil
}

// setStatus moves the session to status, announcing a real change.
func (a *applier) setStatus(status Status, message string) {
	st := a.st
	if st.s.Status == status {
		return
	}
	prev := st.s.Status
	st.s.Status = status
	a.emit("/session", "status_changed", map[string]any{"status": string(status), "previous_status": string(prev)})
	a.emit("/claude", "status_changed", map[string]any{"status": string(status), "message": message, "pid": a.pid()})
}

// busy is the status of a session whose main agent is not waiting for
// anything: running while it or any subagent works.
func (a *applier) busy(message string) {
	if a.st.s.Status == StatusEnded {
		return
	}
	a.setStatus(StatusRunning, message)
}

func (a *applier) clearPermission() {
	if at := a.st.s.Attention; at != nil && at.Kind == "permission" {
		a.st.s.Attention = nil
	}
}

func (a *applier) fail(kind, msg string) {
	a.st.s.Errors++
	a.st.lastError = &Failure{Kind: kind, Message: clip(msg, 2000), Time: a.ev.Time, Seq: a.ev.Seq}
}

// hook applies a raw Claude Code hook event.
func (a *applier) hook() {
	st, d := a.st, a.data
	hook := str(d, "hook_event_name")
	if hook == "" {
		hook = hookFromEventName(a.ev.Name)
	}
	if cwd := str(d, "cwd"); cwd != "" {
		st.s.CWD = cwd
		if st.s.Project == "" {
			st.s.Project = projectOf(cwd)
		}
	}
	if pm := str(d, "permission_mode"); pm != "" {
		st.s.PermissionMode = pm
	}
	if pid, ok := num(d["claude_pid"]); ok && pid > 0 {
		st.s.PID = int64(pid)
	}
	if p := str(d, "transcript_path"); p != "" && a.agent() == MainAgent {
		st.s.TranscriptPath = p
	}
	as := a.agentState()

	switch hook {
	case event.HookSessionStart:
		a.sessionStart()
	case event.HookSessionEnd:
		a.sessionEnd()
	case event.HookUserPromptSubmit:
		prompt := str(d, "prompt")
		if isTaskNotification(prompt) {
			a.taskNotification(prompt)
			return
		}
		st.s.Prompts++
		if st.s.Title == "" {
			st.s.Title = title(prompt)
		}
		a.m.addEntry(st, Entry{Kind: EntryPrompt, Seq: a.ev.Seq, Time: a.ev.Time, AgentID: a.agent()})
		a.clearPermission()
		a.busy("Processing a prompt")
	case event.HookPreToolUse:
		a.preTool(as)
	case event.HookPostToolUse, event.HookPostToolUseFailure:
		a.postTool(hook == event.HookPostToolUseFailure)
	case event.HookNotification:
		a.notification()
	case event.HookPermissionRequest:
		tool := str(d, "tool_name")
		msg := "Claude wants to use " + orDefault(tool, "a tool")
		st.s.Attention = &Attention{Kind: "permission", Message: msg, ToolName: tool, Since: a.ev.Time, Seq: a.ev.Seq}
		a.setStatus(StatusWaiting, msg)
	case event.HookPermissionDenied:
		a.permissionDenied()
	case event.HookStop:
		a.stop()
	case event.HookStopFailure:
		msg := orDefault(firstString(d, "error", "error_message", "message", "reason"), "the turn ended with an API error")
		a.fail("api", msg)
		st.s.Attention = &Attention{Kind: "failure", Message: clip(msg, 500), Since: a.ev.Time, Seq: a.ev.Seq}
		a.m.addEntry(st, Entry{Kind: EntryFailure, Seq: a.ev.Seq, Time: a.ev.Time, AgentID: a.agent(), Text: clip(msg, 2000)})
		if st.s.Status != StatusEnded {
			a.setStatus(StatusIdle, "Claude stopped: "+clip(msg, 200))
		}
	case event.HookSubagentStart:
		a.subagentStart()
	case event.HookSubagentStop:
		a.subagentStop()
	case event.HookPreCompact:
		if st.s.Status != StatusCompacting && st.s.Status != StatusEnded {
			st.prevStatus = st.s.Status
			a.setStatus(StatusCompacting, "Compacting the conversation ("+orDefault(str(d, "trigger"), "auto")+")")
		}
	case event.HookPostCompact:
		if st.s.Status == StatusCompacting {
			a.setStatus(orStatus(st.prevStatus, StatusRunning), "Compaction finished")
		}
	case event.HookInstructionsLoaded:
		fields := map[string]any{
			"agent_id":    orDefault(str(d, "agent_type"), MainAgent),
			"file_path":   str(d, "file_path"),
			"memory_type": str(d, "memory_type"),
			"load_reason": str(d, "load_reason"),
		}
		if c, ok := d["content"].(string); ok {
			fields["memory_size"] = len(c)
			fields["sections_count"] = strings.Count("\n"+c, "\n#")
		}
		a.emit("/memory", "loaded", fields)
	case event.HookTaskCreated, event.HookTaskCompleted:
		a.taskHook(hook == event.HookTaskCompleted)
	case event.HookPostModelSwitch:
		if m := firstString(d, "model", "new_model", "to_model"); m != "" && a.agent() == MainAgent {
			st.s.Model = m
		}
	}
}

func (a *applier) sessionStart() {
	st, d := a.st, a.data
	src := orDefault(str(d, "source"), "startup")
	st.s.Source = src
	if st.s.Status == StatusEnded {
		st.s.EndedAt, st.s.EndReason = nil, ""
	}
	if m, ok := d["model"].(string); ok && m != "" {
		st.s.Model = m
	}
	a.emit("/session", "start", map[string]any{
		"start_time":        event.FormatTime(a.ev.Time),
		"launch_method":     src,
		"working_directory": str(d, "cwd"),
		"model":             d["model"],
		"transcript_path":   str(d, "transcript_path"),
	})
	if st.s.Status != StatusIdle || st.s.LastSeq == a.ev.Seq {
		prev := st.s.Status
		st.s.Status = StatusIdle // a new session waits for its first prompt
		if prev != StatusIdle {
			a.emit("/session", "status_changed", map[string]any{"status": string(StatusIdle), "previous_status": string(prev)})
		}
		a.emit("/claude", "status_changed", map[string]any{
			"pid": a.pid(), "status": string(StatusIdle), "message": fmt.Sprintf("Claude Code session started (%s)", src),
		})
	}
}

func (a *applier) sessionEnd() {
	st, d := a.st, a.data
	t := a.ev.Time
	st.s.EndedAt = &t
	st.s.EndReason = str(d, "reason")
	a.emit("/session", "end", map[string]any{
		"end_time":         event.FormatTime(t),
		"reason":           st.s.EndReason,
		"start_time":       event.FormatTime(st.s.StartedAt),
		"duration_seconds": t.Sub(st.s.StartedAt).Seconds(),
	})
	for _, id := range st.agentOrder {
		if as := st.agents[id]; as.run.Status == AgentRunning {
			a.endAgent(as, AgentFailed, "the session ended before it finished", true)
		}
	}
	for _, tc := range st.toolOrder {
		if tc.Status == ToolRunning {
			tc.Status = ToolInterrupted
			tc.EndedAt = &t
		}
	}
	st.s.Attention = nil
	a.setStatus(StatusEnded, "Claude Code session ended: "+orDefault(st.s.EndReason, "unknown reason"))
}

func (a *applier) preTool(as *agentState) {
	st, d := a.st, a.data
	id := str(d, "tool_use_id")
	if id == "" {
		id = "seq:" + fmt.Sprint(a.ev.Seq)
	}
	name := str(d, "tool_name")
	input, _ := d["tool_input"].(map[string]any)
	tc, seen := st.tools[id]
	if !seen {
		if len(st.toolOrder) >= a.m.limits.Tools {
			return
		}
		tc = &ToolCall{ToolUseID: id, AgentID: a.agent(), ToolName: name, Status: ToolRunning, StartedAt: a.ev.Time}
		st.tools[id] = tc
		st.toolOrder = append(st.toolOrder, tc)
		st.s.ToolCalls++
		if as != nil {
			as.run.ToolCalls++
		}
		a.m.addEntry(st, Entry{Kind: EntryTool, Seq: a.ev.Seq, Time: a.ev.Time, AgentID: a.agent(), toolUseID: id})
	}
	tc.PreSeq, tc.Summary = a.ev.Seq, summarize(name, input)
	if st.s.Status == StatusIdle {
		a.busy("Running " + orDefault(name, "a tool"))
	}
	switch {
	case isAgentTool(name):
		sp := &spawn{toolUseID: id, parent: a.agent(), agentType: orDefault(str(input, "subagent_type"), "general-purpose"),
			description: str(input, "description"), time: a.ev.Time}
		if b, ok := input["run_in_background"].(bool); ok {
			sp.background = &b
		}
		st.spawns = append(st.spawns, sp)
		fields := map[string]any{
			"agent":       sp.agentType,
			"task":        sp.description,
			"prompt":      str(input, "prompt"),
			"status":      "started",
			"tool_use_id": id,
			"parent_id":   sp.parent,
		}
		if sp.background != nil {
			fields["background"] = *sp.background
		}
		a.emit("/agent", "task_delegated", fields)
	case name == "TodoWrite":
		a.todoWrite(input)
	}
}

func (a *applier) postTool(failed bool) {
	st, d := a.st, a.data
	id := str(d, "tool_use_id")
	name := str(d, "tool_name")
	input, _ := d["tool_input"].(map[string]any)
	tc, ok := st.tools[id]
	if !ok && id != "" && len(st.toolOrder) < a.m.limits.Tools {
		// mpmd missed the PreToolUse (it started after it, or a spool lost it)
		tc = &ToolCall{ToolUseID: id, AgentID: a.agent(), ToolName: name, StartedAt: a.ev.Time, Summary: summarize(name, input)}
		st.tools[id] = tc
		st.toolOrder = append(st.toolOrder, tc)
		st.s.ToolCalls++
		if as := a.agentState(); as != nil {
			as.run.ToolCalls++
		}
		a.m.addEntry(st, Entry{Kind: EntryTool, Seq: a.ev.Seq, Time: a.ev.Time, AgentID: a.agent(), toolUseID: id})
	}
	if tc != nil && tc.PostSeq == 0 {
		t := a.ev.Time
		tc.EndedAt, tc.PostSeq = &t, a.ev.Seq
		if ms, ok := num(d["duration_ms"]); ok {
			tc.Duration = ms
		} else {
			tc.Duration = float64(t.Sub(tc.StartedAt).Milliseconds())
		}
		switch {
		case failed && truthy(d["is_interrupt"]):
			tc.Status = ToolInterrupted
		case failed:
			tc.Status = ToolFailed
			tc.Error = clip(orDefault(str(d, "error"), "the tool failed"), 2000)
			a.fail("tool", name+": "+tc.Error)
		default:
			tc.Status = ToolCompleted
		}
	}
	if st.s.Status == StatusWaiting {
		a.clearPermission()
		a.setStatus(StatusRunning, "Permission answered; running")
	}
	switch {
	case isAgentTool(name):
		a.agentToolDone(id, input, failed)
	case name == "TaskCreate" || name == "TaskUpdate" || name == "TaskStop":
		if !failed {
			a.taskTool(name, input)
		}
	case !failed && isMemoryWrite(name, input):
		a.emit("/memory", "updated", map[string]any{
			"agent_id":      orDefault(str(d, "agent_type"), MainAgent),
			"file_path":     str(input, "file_path"),
			"learning_type": strings.ToLower(name),
			"content":       clip(memoryContent(input), 2000),
			"section":       baseName(str(input, "file_path")),
		})
	}
}

func (a *applier) notification() {
	d := a.data
	msg := str(d, "message")
	switch str(d, "notification_type") {
	case "permission_prompt":
		a.waitForPermission(orDefault(msg, "Claude needs your permission"))
	case "idle_prompt":
		if a.st.s.Status != StatusEnded {
			a.setStatus(StatusIdle, orDefault(msg, "Claude is waiting for your input"))
		}
	default:
		if strings.Contains(strings.ToLower(msg), "permission") {
			a.waitForPermission(msg)
		} else {
			a.emit("/claude", "output", map[string]any{"content": msg, "stream": "notification"})
		}
	}
}

func (a *applier) waitForPermission(msg string) {
	st := a.st
	if st.s.Attention == nil || st.s.Attention.Kind != "permission" {
		st.s.Attention = &Attention{Kind: "permission", Message: msg, Since: a.ev.Time, Seq: a.ev.Seq}
	} else {
		st.s.Attention.Message = msg
	}
	a.setStatus(StatusWaiting, msg)
}

func (a *applier) permissionDenied() {
	st, d := a.st, a.data
	tool := str(d, "tool_name")
	reason := orDefault(firstString(d, "reason", "message", "error"), "permission denied")
	if tc, ok := st.tools[str(d, "tool_use_id")]; ok && tc.PostSeq == 0 {
		t := a.ev.Time
		tc.Status, tc.EndedAt, tc.PostSeq, tc.Error = ToolDenied, &t, a.ev.Seq, clip(reason, 2000)
	}
	a.fail("denied", orDefault(tool, "a tool")+": "+reason)
	a.clearPermission()
	if st.s.Status == StatusWaiting {
		a.setStatus(StatusRunning, "Permission denied; running")
	}
}

func (a *applier) stop() {
	st, d := a.st, a.data
	if msg := str(d, "last_assistant_message"); msg != "" {
		a.m.addEntry(st, Entry{Kind: EntryFinal, Seq: a.ev.Seq, Time: a.ev.Time, AgentID: a.agent()})
	}
	a.clearPermission()
	if st.s.Status == StatusEnded {
		return
	}
	if n := runningBackground(d["background_tasks"]); n > 0 {
		a.setStatus(StatusRunning, fmt.Sprintf("Claude finished responding; %d background task(s) still running", n))
		return
	}
	a.setStatus(StatusIdle, "Claude finished responding")
}

// runningBackground counts the running entries of Stop's background_tasks.
func runningBackground(v any) int {
	list, _ := v.([]any)
	n := 0
	for _, t := range list {
		if m, ok := t.(map[string]any); ok && orDefault(str(m, "status"), "running") == "running" {
			n++
		}
	}
	return n
}

// transcript applies a /claude event read from a transcript.
func (a *applier) transcript() {
	st := a.st
	switch a.ev.Name {
	case "output", "thinking":
		kind := EntryText
		if a.ev.Name == "thinking" {
			kind = EntryThinking
		}
		a.agentState()
		a.m.addEntry(st, Entry{Kind: kind, Seq: a.ev.Seq, Time: a.ev.Time, AgentID: a.agent(),
			MessageID: str(a.data, "message_id"), Model: str(a.data, "model")})
		if m := str(a.data, "model"); m != "" && m != "<synthetic>" && a.agent() == MainAgent {
			st.s.Model = m
		}
	case "usage":
		a.applyUsage(false)
	case "api_request":
		a.applyUsage(true)
	case "cost_state":
		a.applyCostState()
	}
}

func orStatus(s, def Status) Status {
	if s == "" {
		return def
	}
	return s
}

// summarize is a short line about a tool call's input for lists.
func summarize(tool string, input map[string]any) string {
	for _, k := range []string{"command", "file_path", "pattern", "url", "description", "query", "path", "subject", "prompt"} {
		if s := str(input, k); s != "" {
			return clip(firstLine(s), 160)
		}
	}
	if tool == "TodoWrite" {
		if l, ok := input["todos"].([]any); ok {
			return fmt.Sprintf("%d todos", len(l))
		}
	}
	return ""
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func title(prompt string) string { return clip(firstLine(prompt), 120) }
