package session

import (
	"strconv"
)

// A session's todo list comes from one of two tool families: TodoWrite,
// which sends the agent's whole list each time, or the task tools of Claude
// Code 2.1 (TaskCreate, TaskUpdate; TaskList and TaskGet only read), with
// the TaskCreated and TaskCompleted hook events. /todo updated carries the
// list the change belongs to: the agent's TodoWrite list, or the session's
// task-tool tasks.

const (
	sourceTodoWrite = "todo_write"
	sourceTaskTools = "task_tools"
)

func (a *applier) todoWrite(input map[string]any) {
	st := a.st
	agent := a.agent()
	prev := map[string]string{}
	for _, t := range st.todoLists[agent] {
		prev[t.Content] = t.Status
	}
	raw, _ := input["todos"].([]any)
	list := make([]Task, 0, len(raw))
	var added, completed []Task
	for i, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		t := Task{
			ID:         orDefault(str(m, "id"), strconv.Itoa(i+1)),
			AgentID:    agent,
			Content:    str(m, "content"),
			ActiveForm: str(m, "activeForm"),
			Status:     orDefault(str(m, "status"), "pending"),
			Source:     sourceTodoWrite,
		}
		if was, ok := prev[t.Content]; !ok {
			added = append(added, t)
		} else if t.Status == "completed" && was != "completed" {
			completed = append(completed, t)
		}
		list = append(list, t)
	}
	st.todoLists[agent] = list
	a.emitTodos(list, added, completed, sourceTodoWrite)
}

// taskTool applies a task tool's successful PostToolUse.
func (a *applier) taskTool(name string, input map[string]any) {
	resp, _ := a.data["tool_response"].(map[string]any)
	switch name {
	case "TaskCreate":
		task, _ := resp["task"].(map[string]any)
		id := firstString(task, "id")
		if id == "" {
			return
		}
		a.upsertTask(id, orDefault(str(task, "subject"), str(input, "subject")), str(input, "activeForm"), "", true)
	case "TaskUpdate":
		id := firstString(input, "taskId", "task_id")
		if id == "" {
			return
		}
		if ok, present := resp["success"].(bool); present && !ok {
			return
		}
		a.upsertTask(id, str(input, "subject"), str(input, "activeForm"), str(input, "status"), false)
	case "TaskStop":
		// stops a background task: a subagent among them
		id := firstString(resp, "task_id")
		if id == "" {
			id = firstString(input, "task_id", "shell_id")
		}
		if as := a.st.agents[id]; as != nil && as.run.Status == AgentRunning {
			a.endAgent(as, AgentFailed, "stopped with TaskStop", false)
		}
	}
}

// taskHook applies TaskCreated / TaskCompleted.
func (a *applier) taskHook(completed bool) {
	d := a.data
	id := firstString(d, "task_id", "taskId", "id")
	if id == "" {
		if t, ok := d["task"].(map[string]any); ok {
			id = firstString(t, "id", "task_id")
			if id != "" {
				d = t
			}
		}
	}
	if id == "" {
		return
	}
	subject := firstString(d, "task_subject", "subject", "content")
	status := ""
	if completed {
		status = "completed"
	}
	a.upsertTask(id, subject, "", status, !completed)
}

// upsertTask creates or changes a task-tool task; a status "deleted"
// removes it.
func (a *applier) upsertTask(id, subject, activeForm, status string, creating bool) {
	st := a.st
	t, ok := st.taskTools[id]
	if status == "deleted" {
		if ok {
			delete(st.taskTools, id)
			a.emitTodos(st.toolTasks(), nil, nil, sourceTaskTools)
		}
		return
	}
	var added, completed []Task
	if !ok {
		t = &Task{ID: id, AgentID: a.agent(), Status: "pending", Source: sourceTaskTools}
		st.taskTools[id] = t
		st.taskOrder = append(st.taskOrder, id)
		added = append(added, *t)
	}
	changed := !ok
	if subject != "" && subject != t.Content {
		t.Content, changed = subject, true
	}
	if activeForm != "" && activeForm != t.ActiveForm {
		t.ActiveForm, changed = activeForm, true
	}
	if status != "" && status != t.Status {
		if status == "completed" {
			completed = append(completed, *t)
			completed[0].Status = status
		}
		t.Status, changed = status, true
	}
	if len(added) > 0 {
		added[0] = *t
	}
	if changed || creating && len(added) > 0 {
		a.emitTodos(st.toolTasks(), added, completed, sourceTaskTools)
	}
}

func (st *state) toolTasks() []Task {
	out := make([]Task, 0, len(st.taskTools))
	kept := st.taskOrder[:0]
	for _, id := range st.taskOrder {
		if t, ok := st.taskTools[id]; ok {
			out = append(out, *t)
			kept = append(kept, id)
		}
	}
	st.taskOrder = kept
	return out
}

// emitTodos sends /todo updated with the list, then task_added and
// task_completed for what changed.
func (a *applier) emitTodos(list, added, completed []Task, source string) {
	stats := map[string]any{"total": len(list), "completed": 0, "in_progress": 0, "pending": 0}
	counts := map[string]int{}
	todos := make([]any, 0, len(list))
	for _, t := range list {
		counts[t.Status]++
		todos = append(todos, todoJSON(t))
	}
	for _, k := range []string{"completed", "in_progress", "pending"} {
		stats[k] = counts[k]
	}
	a.emit("/todo", "updated", map[string]any{"todos": todos, "stats": stats, "agent_id": a.agent(), "source": source})
	for _, t := range added {
		a.emit("/todo", "task_added", map[string]any{"task": todoJSON(t), "stats": stats, "agent_id": a.agent(), "source": source})
	}
	for _, t := range completed {
		a.emit("/todo", "task_completed", map[string]any{"task": todoJSON(t), "stats": stats, "agent_id": a.agent(), "source": source})
	}
}

func todoJSON(t Task) map[string]any {
	m := map[string]any{"id": t.ID, "content": t.Content, "status": t.Status, "agent_id": t.AgentID}
	if t.ActiveForm != "" {
		m["activeForm"] = t.ActiveForm
	}
	return m
}
