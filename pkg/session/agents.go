package session

import (
	"strings"
	"time"
)

// Subagents run in the background and in parallel in Claude Code 2.1: the
// Agent tool's PostToolUse fires at launch (tool_response status
// "async_launched", with the agentId), the subagent's own hook events carry
// its agent_id, SubagentStop fires when it ends, and then the parent gets a
// <task-notification> as a user prompt. Older versions ran Task/Agent in the
// foreground only: PostToolUse fired at the end, with no agent ids anywhere.
// Both are handled here; task_completed is sent once per run, when the run
// really ends.

func isAgentTool(tool string) bool { return tool == "Task" || tool == "Agent" }

// claimSpawn ties the subagent agentID to the Agent call that spawned it.
// SubagentStart does not name the call, so the oldest untied call for the
// same agent type is taken; the Agent call's PostToolUse (agentId), the task
// notification (tool-use-id) and the subagent's meta file correct it.
func (st *state) claimSpawn(agentID, typ string) *spawn {
	for _, sp := range st.spawns {
		if sp.agentID == agentID {
			return sp
		}
	}
	for _, sp := range st.spawns {
		if sp.agentID == "" && (typ == "" || sp.agentType == typ) {
			sp.agentID = agentID
			return sp
		}
	}
	return nil
}

func (st *state) spawnOf(toolUseID string) *spawn {
	if toolUseID == "" {
		return nil
	}
	for _, sp := range st.spawns {
		if sp.toolUseID == toolUseID {
			return sp
		}
	}
	return nil
}

// tie records that as was spawned by sp, undoing a wrong guess either side.
func (st *state) tie(sp *spawn, as *agentState) {
	if sp == nil {
		return
	}
	for _, o := range st.spawns {
		if o != sp && o.agentID == as.run.AgentID {
			o.agentID = "" // the guess was wrong: that call's agent is still to come
		}
	}
	if sp.agentID != "" && sp.agentID != as.run.AgentID {
		if other := st.agents[sp.agentID]; other != nil && other.run.ToolUseID == sp.toolUseID {
			other.run.ToolUseID, other.run.ParentID = "", MainAgent
		}
	}
	sp.agentID = as.run.AgentID
	as.run.ParentID = sp.parent
	as.run.ToolUseID = sp.toolUseID
	if as.run.Description == "" {
		as.run.Description = sp.description
	}
	if as.run.AgentType == "" {
		as.run.AgentType = sp.agentType
	}
	if sp.background != nil {
		as.run.Background = *sp.background
		as.foreground = !*sp.background
	}
	if tc := st.tools[sp.toolUseID]; tc != nil {
		tc.SpawnedID = as.run.AgentID
	}
}

func (a *applier) parentName(as *agentState) string {
	if p := a.st.agents[as.run.ParentID]; p != nil && p.run.AgentType != "" {
		return p.run.AgentType
	}
	return MainAgent
}

func (a *applier) subagentStart() {
	st := a.st
	id := str(a.data, "agent_id")
	if id == "" {
		return
	}
	as := st.agent(id, str(a.data, "agent_type"), a.ev.Time)
	if as.run.Status != AgentRunning || as.completedSent {
		// a finished subagent resumed (SendMessage): a new run
		as.run.Status, as.run.StartedAt, as.run.EndedAt = AgentRunning, a.ev.Time, nil
		as.completedSent, as.switched = false, false
	}
	as.run.StartedAt = minTime(as.run.StartedAt, a.ev.Time)
	st.tie(st.claimSpawn(id, as.run.AgentType), as)
	a.m.addEntry(st, Entry{Kind: EntryAgentStart, Seq: a.ev.Seq, Time: a.ev.Time, AgentID: as.run.ParentID, Agent: &AgentRun{AgentID: id}})
	if as.foreground && !as.switched {
		as.switched = true
		a.emit("/agent", "agent_switched", map[string]any{
			"agent": orDefault(as.run.AgentType, "subagent"), "agent_id": id, "from": a.parentName(as),
			"status": "started", "tool_use_id": as.run.ToolUseID,
		})
	}
	a.busy("Subagent " + orDefault(as.run.AgentType, id) + " started")
}

func (a *applier) subagentStop() {
	id := str(a.data, "agent_id")
	as := a.st.agents[id]
	if as == nil {
		return // an older Claude Code: the Task call's PostToolUse ends it
	}
	if p := str(a.data, "agent_transcript_path"); p != "" {
		as.run.Transcript = p
	}
	if as.run.Status == AgentRunning {
		a.endAgent(as, AgentCompleted, str(a.data, "last_assistant_message"), false)
	}
}

// endAgent finishes a run and sends task_completed (once per run).
func (a *applier) endAgent(as *agentState, status, result string, silent bool) {
	t := a.ev.Time
	as.run.Status = status
	as.run.EndedAt = &t
	as.run.Duration = float64(t.Sub(as.run.StartedAt).Milliseconds())
	if result != "" {
		as.run.Result = clip(result, 4000)
	}
	a.m.addEntry(a.st, Entry{Kind: EntryAgentEnd, Seq: a.ev.Seq, Time: t, AgentID: as.run.ParentID, Agent: &AgentRun{AgentID: as.run.AgentID}})
	if !as.completedSent {
		as.completedSent = true
		fields := map[string]any{
			"agent":       orDefault(as.run.AgentType, "subagent"),
			"agent_id":    as.run.AgentID,
			"task":        as.run.Description,
			"status":      status,
			"tool_use_id": as.run.ToolUseID,
			"duration_ms": as.run.Duration,
			"background":  as.run.Background,
		}
		if result != "" {
			fields["result"] = clip(result, 2000)
		}
		if status == AgentFailed {
			fields["error"] = clip(orDefault(result, "the subagent failed"), 2000)
		}
		a.emit("/agent", "task_completed", fields)
	}
	if as.foreground && as.switched && !silent {
		as.switched = false
		a.emit("/agent", "agent_switched", map[string]any{
			"agent": a.parentName(as), "agent_id": as.run.AgentID, "from": orDefault(as.run.AgentType, "subagent"),
			"status": "stopped", "tool_use_id": as.run.ToolUseID,
		})
	}
}

// agentToolDone handles the Agent/Task tool's PostToolUse(Failure).
func (a *applier) agentToolDone(toolUseID string, input map[string]any, failed bool) {
	st := a.st
	resp, _ := a.data["tool_response"].(map[string]any)
	status := str(resp, "status")
	agentID := firstString(resp, "agentId", "agent_id")
	sp := st.spawnOf(toolUseID)
	if sp == nil {
		sp = &spawn{toolUseID: toolUseID, parent: a.agent(), agentType: orDefault(str(input, "subagent_type"), "general-purpose"),
			description: str(input, "description"), time: a.ev.Time}
		st.spawns = append(st.spawns, sp)
	}
	if !failed && (status == "async_launched" || status == "remote_launched") {
		if agentID == "" {
			agentID = str(resp, "taskId")
		}
		if agentID == "" {
			return
		}
		as := st.agent(agentID, sp.agentType, sp.time)
		st.tie(sp, as)
		as.run.Background = true
		as.foreground = false
		return
	}
	var as *agentState
	switch {
	case agentID != "":
		as = st.agent(agentID, sp.agentType, sp.time)
	case sp.agentID != "":
		as = st.agents[sp.agentID]
	}
	if as != nil {
		st.tie(sp, as)
		switch {
		case failed:
			if as.run.Status == AgentRunning || !as.completedSent {
				a.endAgent(as, AgentFailed, str(a.data, "error"), false)
			}
		case as.run.Status == AgentRunning:
			a.endAgent(as, AgentCompleted, resultText(resp), false)
		}
		return
	}
	// No agent ids (an older Claude Code): the call itself was the run.
	fields := map[string]any{
		"agent":       sp.agentType,
		"task":        sp.description,
		"status":      AgentCompleted,
		"tool_use_id": toolUseID,
	}
	if failed {
		fields["status"] = AgentFailed
		fields["error"] = clip(str(a.data, "error"), 2000)
	}
	if ms, ok := num(a.data["duration_ms"]); ok {
		fields["duration_ms"] = ms
	} else {
		fields["duration_ms"] = float64(a.ev.Time.Sub(sp.time).Milliseconds())
	}
	a.emit("/agent", "task_completed", fields)
}

// resultText is the text of a synchronous Agent call's tool_response.
func resultText(resp map[string]any) string {
	blocks, _ := resp["content"].([]any)
	var b strings.Builder
	for _, bl := range blocks {
		if m, ok := bl.(map[string]any); ok && str(m, "type") == "text" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(str(m, "text"))
		}
	}
	return b.String()
}

// isTaskNotification reports a UserPromptSubmit that is Claude Code telling
// the agent a background task ended, not something the user typed.
func isTaskNotification(prompt string) bool {
	p := strings.TrimSpace(prompt)
	if strings.HasPrefix(p, "<task-notification>") {
		return true
	}
	// The transcript's copy comes wrapped in a system reminder; a hook may
	// one day send it so too.
	return strings.HasPrefix(p, "<system-reminder>") && strings.Contains(p, "<task-notification>") && strings.Contains(p, "</task-notification>")
}

// taskNotification turns a <task-notification> prompt into an /agent
// task_notification, and ends the run it reports when nothing else did.
func (a *applier) taskNotification(prompt string) {
	st := a.st
	n := parseNotification(prompt)
	fields := map[string]any{
		"task_id":     n.taskID,
		"tool_use_id": n.toolUseID,
		"status":      n.status,
		"summary":     n.summary,
		"result":      clip(n.result, 4000),
		"output_file": n.outputFile,
	}
	if len(n.usage) > 0 {
		fields["usage"] = n.usage
	}
	a.emit("/agent", "task_notification", fields)
	as := st.agents[n.taskID]
	sp := st.spawnOf(n.toolUseID)
	if as == nil && sp != nil && sp.agentID != "" {
		as = st.agents[sp.agentID]
	}
	if as == nil && n.taskID != "" && sp != nil {
		as = st.agent(n.taskID, sp.agentType, sp.time)
	}
	if as != nil {
		st.tie(sp, as)
		if as.run.Status == AgentRunning {
			status := AgentCompleted
			if n.status != "" && n.status != "completed" {
				status = AgentFailed
			}
			a.endAgent(as, status, n.result, false)
		}
	}
	parent := MainAgent
	if as != nil {
		parent = as.run.ParentID
	}
	a.m.addEntry(st, Entry{Kind: EntryNotification, Seq: a.ev.Seq, Time: a.ev.Time, AgentID: parent, Text: clip(n.summary, 500)})
	a.busy("Processing a task notification")
}

type notification struct {
	taskID, toolUseID, outputFile, status, summary, result string
	usage                                                  map[string]any
}

func parseNotification(s string) notification {
	n := notification{
		taskID:     tag(s, "task-id"),
		toolUseID:  tag(s, "tool-use-id"),
		outputFile: tag(s, "output-file"),
		status:     tag(s, "status"),
		summary:    tag(s, "summary"),
		result:     lastTag(s, "result"),
	}
	if u := tag(s, "usage"); u != "" {
		n.usage = map[string]any{}
		for _, k := range []string{"subagent_tokens", "total_tokens", "tool_uses", "duration_ms"} {
			if v := tag(u, k); v != "" {
				if f, ok := num(v); ok {
					n.usage[k] = f
				}
			}
		}
	}
	return n
}

// tag is the text of the first <name>…</name>.
func tag(s, name string) string {
	open, closing := "<"+name+">", "</"+name+">"
	i := strings.Index(s, open)
	if i < 0 {
		return ""
	}
	rest := s[i+len(open):]
	j := strings.Index(rest, closing)
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(rest[:j])
}

// lastTag is like tag but ends at the last closing tag, for a free text
// that may itself hold the tag.
func lastTag(s, name string) string {
	open, closing := "<"+name+">", "</"+name+">"
	i := strings.Index(s, open)
	if i < 0 {
		return ""
	}
	rest := s[i+len(open):]
	j := strings.LastIndex(rest, closing)
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(rest[:j])
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}
