package claudecode_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/claudetest"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
	"github.com/mpm-dev/mpm/pkg/session"
)

// Every scenario below runs the CLI once or twice in its own world and
// returns an outcome; its test makes the common checks (checkHooksStored,
// checkTranscripts), the scenario's own, and saves or compares its fixture.
// Assertions on mpmd's session model (GET /api/sessions/{id}: agents, tool
// calls, usage against o.Usage) belong in each test where it says
// "session model".

// Shorthands for the scenarios' scripts.
var (
	text     = claudetest.Text
	thinking = claudetest.Thinking
	toolUse  = claudetest.ToolUse
)

func reply(u claudetest.Usage, c ...claudetest.Content) claudetest.Reply {
	return claudetest.Reply{Content: c, Usage: u}
}

// usage is a Usage with every count set, distinct per reply so a total
// proves which replies were counted.
func usage(in, out, read, w5m, w1h int64) claudetest.Usage {
	return claudetest.Usage{InputTokens: in, OutputTokens: out, CacheReadInputTokens: read, CacheCreation5mInputTokens: w5m, CacheCreation1hInputTokens: w1h}
}

// byTurn answers an agent's n-th call (Turn() == n) with replies[n]; a call
// past the last is not scripted (and fails the test).
func byTurn(replies ...claudetest.Reply) func(*claudetest.Request) claudetest.Reply {
	return func(r *claudetest.Request) claudetest.Reply {
		if n := r.Turn(); n < len(replies) {
			return replies[n]
		}
		return claudetest.Reply{}
	}
}

// agent matches the calls of the agent (main or subagent) whose first user
// message holds marker.
func agent(marker string) func(*claudetest.Request) bool {
	return func(r *claudetest.Request) bool { return r.FirstUserContains(marker) }
}

// notified matches calls whose last user message is a task notification.
func notified(r *claudetest.Request) bool { return r.IsTaskNotification() }

// --- (a) tool success and failure ---------------------------------------

const toolsPrompt = "TOOLS-SCENARIO: run a command, a failing one, and a bad call."

func toolsScenario(*world) claudetest.Scenario {
	return claudetest.Rules(claudetest.Rule{Name: "main", When: agent("TOOLS-SCENARIO"), Reply: byTurn(
		reply(usage(200, 30, 1000, 300, 0),
			thinking("First a command that works."), text("Running echo."),
			toolUse("Bash", map[string]any{"command": "echo hello-from-bash", "description": "Say hello"})),
		reply(usage(50, 20, 1300, 0, 40),
			toolUse("Bash", map[string]any{"command": "echo about-to-fail >&2; exit 3", "description": "Fail on purpose"})),
		// Read without its required file_path: Claude Code rejects the input.
		reply(usage(60, 15, 1340, 0, 0), toolUse("Read", map[string]any{"path": "/nowhere"})),
		reply(usage(70, 5, 1400, 0, 0), text("All three done.")),
	)})
}

func TestToolSuccessAndFailure(t *testing.T) {
	t.Parallel()
	w := newWorld(t, toolsScenario, worldOpts{claudeMD: "# Project rules\nAnswer briefly.\n"})
	o := w.finish(t, w.run(t, toolsPrompt))
	checkHooksStored(t, o)
	checkTranscripts(t, o, 0)

	if il := o.hooksOf("InstructionsLoaded"); len(il) != 1 || str(il[0].Fields, "file_path") != filepath.Join(w.project(), "CLAUDE.md") {
		t.Errorf("InstructionsLoaded %v, want one for the project's CLAUDE.md", il)
	}
	// What Claude Code sent: the failing command is a PostToolUseFailure; the
	// bad input never reaches Pre/PostToolUse, only PostToolBatch carries it.
	if pre := o.hooksOf("PreToolUse"); len(pre) != 2 {
		t.Errorf("%d PreToolUse, want 2 (the bad call has none)", len(pre))
	}
	if post := o.hooksOf("PostToolUse"); len(post) != 1 || str(post[0].Fields, "tool_response", "stdout") != "hello-from-bash" {
		t.Errorf("PostToolUse %v", post)
	}
	if fail := o.hooksOf("PostToolUseFailure"); len(fail) != 1 || !strings.Contains(str(fail[0].Fields, "error"), "Exit code 3") {
		t.Errorf("PostToolUseFailure %v", fail)
	}
	if batch := o.hooksOf("PostToolBatch"); len(batch) != 3 || !strings.Contains(string(batch[2].Raw), "InputValidationError") {
		t.Errorf("PostToolBatch %v, want 3, the last with the InputValidationError", batch)
	}
	errs := 0
	for _, x := range o.Exchanges {
		for _, b := range x.Request.ToolResults() {
			if b.IsError {
				errs++
			}
		}
	}
	if errs != 2 {
		t.Errorf("%d tool results with is_error, want 2", errs)
	}
	checkToolsModel(t, o)
	fixture(t, "tools", o)
}

// --- (b) a file written with non-ASCII content ---------------------------

const writeContent = "Grüße aus Köln — 日本語のテキスト 🎉\nzweite Zeile: ✓ naïve café\n"

func writeFile(w *world) string { return filepath.Join(w.project(), "grüße-日本.txt") }

func writeScenario(w *world) claudetest.Scenario {
	return claudetest.Rules(claudetest.Rule{Name: "main", When: agent("WRITE-SCENARIO"), Reply: byTurn(
		reply(usage(120, 40, 0, 500, 0), text("Writing the file."),
			toolUse("Write", map[string]any{"file_path": writeFile(w), "content": writeContent})),
		reply(usage(30, 8, 500, 0, 0), text("Wrote it: Grüße ✓.")),
	)})
}

func TestWriteNonASCII(t *testing.T) {
	t.Parallel()
	w := newWorld(t, writeScenario, worldOpts{})
	o := w.finish(t, w.run(t, "WRITE-SCENARIO: write a file with umlauts and kanji."))
	stored := checkHooksStored(t, o)
	checkTranscripts(t, o, 0)
	if b, err := os.ReadFile(writeFile(w)); err != nil || string(b) != writeContent {
		t.Errorf("file on disk: %q, %v; want %q", b, err, writeContent)
	}
	n := 0
	for _, e := range stored {
		if e.Event == "pre_tool" || e.Event == "post_tool" {
			if str(e.Data, "tool_input", "content") != writeContent || str(e.Data, "tool_input", "file_path") != writeFile(w) {
				t.Errorf("%s stored tool_input %v", e.Event, e.Data["tool_input"])
			}
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d stored pre_tool/post_tool events, want 2", n)
	}
	d := ended(t, o)
	if tcs := tools(t, o); len(tcs) != 1 || tcs[0].ToolName != "Write" || tcs[0].Status != session.ToolCompleted || tcs[0].Summary != writeFile(w) {
		t.Errorf("tool calls:%s", describeTools(tcs))
	}
	for _, e := range conversation(t, o) {
		if e.Tool != nil && !strings.Contains(string(e.Tool.Input), "Grüße aus Köln — 日本語のテキスト 🎉") {
			t.Errorf("the Write call's input in the conversation: %s", e.Tool.Input)
		}
	}
	checkUsage(t, o, d)
	fixture(t, "write", o)
}

// --- (c) one background subagent -----------------------------------------

func oneAgentScenario(*world) claudetest.Scenario {
	return claudetest.Rules(
		claudetest.Rule{Name: "subagent", When: agent("SUBAGENT-ONE"), Reply: byTurn(
			reply(usage(300, 25, 0, 200, 100), thinking("The subagent plans."),
				toolUse("Bash", map[string]any{"command": "echo sub-one-was-here", "description": "Subagent work"})),
			reply(usage(40, 12, 600, 0, 0), text("Subagent one: the answer is 42.")),
		)},
		claudetest.Rule{Name: "main: notification", When: func(r *claudetest.Request) bool { return agent("ONE-AGENT-SCENARIO")(r) && notified(r) },
			Reply: func(*claudetest.Request) claudetest.Reply {
				return reply(usage(80, 9, 900, 0, 0), text("The agent says 42."))
			}},
		claudetest.Rule{Name: "main", When: agent("ONE-AGENT-SCENARIO"), Reply: byTurn(
			reply(usage(500, 60, 0, 700, 0), thinking("Delegate it."), text("Starting an agent."),
				toolUse("Agent", map[string]any{"description": "Find the answer", "prompt": "SUBAGENT-ONE: find the answer.",
					"subagent_type": "general-purpose", "run_in_background": true})),
			reply(usage(60, 10, 700, 0, 0), text("The agent runs in the background.")),
		)},
	)
}

func TestOneBackgroundSubagent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, oneAgentScenario, worldOpts{})
	o := w.finish(t, w.run(t, "ONE-AGENT-SCENARIO: ask an agent."))
	checkHooksStored(t, o)
	checkTranscripts(t, o, 1)
	checkSubagents(t, o, 1)
	d := ended(t, o)
	checkAgents(t, o, d, 1)
	checkUsage(t, o, d)
	fixture(t, "one-agent", o)
}

// --- (d) two parallel background subagents -------------------------------

func twoAgentsScenario(*world) claudetest.Scenario {
	both := claudetest.NewBarrier(2) // the two subagents' first calls overlap
	sub := func(tag string, u claudetest.Usage) claudetest.Rule {
		return claudetest.Rule{Name: "subagent " + tag, When: agent("SUBAGENT-" + tag), Reply: func(r *claudetest.Request) claudetest.Reply {
			switch r.Turn() {
			case 0:
				rep := reply(u, thinking("Subagent "+tag+" thinks."),
					toolUse("Bash", map[string]any{"command": "echo sub-" + tag, "description": "Subagent " + tag + " work"}))
				rep.Wait = both.Arrive()
				return rep
			case 1:
				return reply(usage(10, 5, 100, 0, 0), text("Subagent "+tag+" result."))
			}
			return claudetest.Reply{}
		}}
	}
	return claudetest.Rules(
		sub("A", usage(301, 21, 0, 201, 0)),
		sub("B", usage(302, 22, 0, 0, 202)),
		claudetest.Rule{Name: "main: notification", When: func(r *claudetest.Request) bool { return agent("TWO-AGENTS-SCENARIO")(r) && notified(r) },
			Reply: func(*claudetest.Request) claudetest.Reply { return reply(usage(20, 4, 1000, 0, 0), text("Noted.")) }},
		claudetest.Rule{Name: "main", When: agent("TWO-AGENTS-SCENARIO"), Reply: byTurn(
			reply(usage(600, 70, 0, 800, 0), thinking("Two at once."), text("Launching two agents."),
				toolUse("Agent", map[string]any{"description": "Sub A", "prompt": "SUBAGENT-A: do a.", "subagent_type": "general-purpose", "run_in_background": true}),
				toolUse("Agent", map[string]any{"description": "Sub B", "prompt": "SUBAGENT-B: do b.", "subagent_type": "general-purpose", "run_in_background": true})),
			reply(usage(70, 11, 800, 0, 0), text("Both run; waiting.")),
		)},
	)
}

func TestTwoParallelSubagents(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoAgentsScenario, worldOpts{})
	o := w.finish(t, w.run(t, "TWO-AGENTS-SCENARIO: run two agents in parallel."))
	checkHooksStored(t, o)
	checkTranscripts(t, o, 2)
	checkSubagents(t, o, 2)
	d := ended(t, o)
	checkAgents(t, o, d, 2)
	// they ran side by side
	a, b := d.Agents[0], d.Agents[1]
	if !a.StartedAt.Before(*b.EndedAt) || !b.StartedAt.Before(*a.EndedAt) {
		t.Errorf("the two runs did not overlap: %v–%v and %v–%v", a.StartedAt, a.EndedAt, b.StartedAt, b.EndedAt)
	}
	checkUsage(t, o, d)
	fixture(t, "two-agents", o)
}

// checkSubagents checks what Claude Code sent about n background subagents:
// the Agent calls' PostToolUse at launch (async_launched), a SubagentStart
// and SubagentStop per agent, the agents' own events carrying agent_id and
// agent_type, and a task notification per agent reaching the main agent.
func checkSubagents(t *testing.T, o *outcome, n int) {
	t.Helper()
	launched := map[string]string{} // agentId → tool_use_id
	for _, h := range o.hooksOf("PostToolUse") {
		if str(h.Fields, "tool_name") == "Agent" {
			if got := str(h.Fields, "tool_response", "status"); got != "async_launched" {
				t.Errorf("Agent PostToolUse status %q, want async_launched", got)
			}
			launched[str(h.Fields, "tool_response", "agentId")] = str(h.Fields, "tool_use_id")
		}
	}
	starts, stops := o.hooksOf("SubagentStart"), o.hooksOf("SubagentStop")
	if len(launched) != n || len(starts) != n || len(stops) != n {
		t.Fatalf("%d agents launched, %d SubagentStart, %d SubagentStop; want %d each", len(launched), len(starts), len(stops), n)
	}
	for _, s := range stops {
		if _, ok := launched[s.Agent]; !ok {
			t.Errorf("SubagentStop of %q, which no Agent call launched", s.Agent)
		}
		if p := str(s.Fields, "agent_transcript_path"); !strings.HasSuffix(p, "/subagents/agent-"+s.Agent+".jsonl") {
			t.Errorf("SubagentStop agent_transcript_path %q", p)
		}
	}
	for _, h := range o.Hooks {
		if h.Agent != "" && str(h.Fields, "agent_type") != "general-purpose" {
			t.Errorf("%s of agent %s: agent_type %q", h.Name, h.Agent, str(h.Fields, "agent_type"))
		}
	}
	// Each subagent ran its Bash call under its own agent_id.
	for id := range launched {
		found := false
		for _, h := range o.hooksOf("PreToolUse") {
			found = found || h.Agent == id && str(h.Fields, "tool_name") == "Bash"
		}
		if !found {
			t.Errorf("no PreToolUse of Bash with agent_id %s", id)
		}
	}
	// The notifications: as UserPromptSubmit (hooks) and as user messages
	// (the stand-in), one per agent, naming the Agent call.
	notes := map[string]bool{}
	for _, x := range o.Exchanges {
		for _, tn := range x.Request.TaskNotifications() {
			if tn.Status != "completed" {
				t.Errorf("task notification status %q", tn.Status)
			}
			notes[tn.ToolUseID] = true
		}
	}
	prompts := 0
	for _, h := range o.hooksOf("UserPromptSubmit") {
		if strings.HasPrefix(str(h.Fields, "prompt"), "<task-notification>") {
			prompts++
		}
	}
	for _, tu := range launched {
		if !notes[tu] {
			t.Errorf("no task notification for the Agent call %s reached the main agent (got %v)", tu, notes)
		}
	}
	if prompts < 1 {
		t.Errorf("no UserPromptSubmit carried a <task-notification>")
	}
}

// --- (e) a session mpmd first sees after it ended ------------------------

func TestSessionSeenAfterItEnded(t *testing.T) {
	t.Parallel()
	w := newWorld(t, toolsScenario, worldOpts{mpmdDown: true})
	r := w.run(t, toolsPrompt)
	relayed := w.relayedEvents(t)
	want := 0
	for _, h := range w.recordedHooks(t) {
		if relayed[h.Name] {
			want++
		}
	}
	if got := mpmdtest.SpoolLen(t, filepath.Join(w.root, "state", "mpm", "spool")); got != want {
		t.Errorf("spool holds %d events after the session, want the %d hook inputs", got, want)
	}
	w.daemon = mpmdtest.Start(t, mpmdtest.WithRoot(w.root))
	o := w.finish(t, r)
	checkHooksStored(t, o) // mpmd drained the spool at start
	checkTranscripts(t, o, 0)
	checkToolsModel(t, o)
}

// --- (f) mpmd restarted in the middle of a session -----------------------

func restartScenario(*world) claudetest.Scenario {
	return claudetest.Rules(claudetest.Rule{Name: "main", When: agent("RESTART-SCENARIO"), Reply: func(r *claudetest.Request) claudetest.Reply {
		switch last := r.LastUserText(); {
		case strings.Contains(last, "part one") && r.Turn() == 0:
			return reply(usage(100, 10, 0, 100, 0), toolUse("Bash", map[string]any{"command": "echo part-one", "description": "One"}))
		case r.Turn() == 1:
			return reply(usage(20, 5, 100, 0, 0), text("Part one done."))
		case strings.Contains(last, "part two"):
			return reply(usage(30, 6, 120, 0, 60), toolUse("Bash", map[string]any{"command": "echo part-two", "description": "Two"}))
		case r.Turn() == 3:
			return reply(usage(40, 7, 180, 0, 0), text("Part two done."))
		}
		return claudetest.Reply{}
	}})
}

func TestMpmdRestartMidSession(t *testing.T) {
	t.Parallel()
	w := newWorld(t, restartScenario, worldOpts{})
	first := w.run(t, "RESTART-SCENARIO: part one.")
	w.daemon = w.daemon.Restart(t)
	second := w.run(t, "RESTART-SCENARIO: part two.", "--resume", first.SessionID)
	if second.SessionID != first.SessionID || second.TranscriptPath != first.TranscriptPath {
		t.Fatalf("--resume went to session %s (%s), want %s", second.SessionID, second.TranscriptPath, first.SessionID)
	}
	o := w.finish(t, first, second)
	checkHooksStored(t, o)
	checkTranscripts(t, o, 0)
	var sources []string
	for _, h := range o.hooksOf("SessionStart") {
		sources = append(sources, str(h.Fields, "source"))
	}
	if strings.Join(sources, ",") != "startup,resume" {
		t.Errorf("SessionStart sources %v, want startup then resume", sources)
	}
	if ends := o.hooksOf("SessionEnd"); len(ends) != 2 {
		t.Errorf("%d SessionEnd, want one per run", len(ends))
	}
	d := ended(t, o)
	if d.Prompts != 2 || d.ToolCalls != 2 || d.Source != "resume" {
		t.Errorf("prompts %d, tool calls %d, source %q; want 2, 2, resume", d.Prompts, d.ToolCalls, d.Source)
	}
	checkUsage(t, o, d)
	fixture(t, "resume", o)
}

// --- todos: TodoWrite, and the task tools -------------------------------

// The todo tools are offered (through ToolSearch) only when
// CLAUDE_CODE_ENABLE_TODO_TOOLS=1 (or for older models); with it, the task
// tools (TaskCreate, TaskUpdate, TaskList, TaskGet) replace TodoWrite unless
// CLAUDE_CODE_ENABLE_TASKS=0.
var (
	todoWriteEnv = []string{"CLAUDE_CODE_ENABLE_TODO_TOOLS=1", "CLAUDE_CODE_ENABLE_TASKS=0"}
	taskToolsEnv = []string{"CLAUDE_CODE_ENABLE_TODO_TOOLS=1"}
)

func todo(content, status, active string) map[string]any {
	return map[string]any{"content": content, "status": status, "activeForm": active}
}

func todoWriteScenario(*world) claudetest.Scenario {
	list := func(s1, s2 string) map[string]any {
		return map[string]any{"todos": []any{todo("Write the plan", s1, "Writing the plan"), todo("Check ünïcode", s2, "Checking ünïcode")}}
	}
	return claudetest.Rules(claudetest.Rule{Name: "main", When: agent("TODOWRITE-SCENARIO"), Reply: byTurn(
		reply(usage(100, 10, 0, 0, 0), toolUse("ToolSearch", map[string]any{"query": "select:TodoWrite"})),
		reply(usage(110, 11, 0, 0, 0), text("Planning."), toolUse("TodoWrite", list("in_progress", "pending"))),
		reply(usage(120, 12, 0, 0, 0), toolUse("TodoWrite", list("completed", "in_progress"))),
		reply(usage(130, 13, 0, 0, 0), toolUse("TodoWrite", list("completed", "completed"))),
		reply(usage(140, 14, 0, 0, 0), text("All todos done.")),
	)})
}

func TestTodoWrite(t *testing.T) {
	t.Parallel()
	w := newWorld(t, todoWriteScenario, worldOpts{env: todoWriteEnv})
	o := w.finish(t, w.run(t, "TODOWRITE-SCENARIO: plan with todos."))
	checkHooksStored(t, o)
	checkTranscripts(t, o, 0)
	if n := countTool(o, "PostToolUse", "TodoWrite"); n != 3 {
		t.Errorf("%d TodoWrite PostToolUse, want 3 (is TodoWrite still offered through ToolSearch?)", n)
	}
	checkTodos(t, o, "todo_write")
	fixture(t, "todowrite", o)
}

func taskToolsScenario(*world) claudetest.Scenario {
	return claudetest.Rules(claudetest.Rule{Name: "main", When: agent("TASKS-SCENARIO"), Reply: byTurn(
		reply(usage(100, 10, 0, 0, 0), toolUse("ToolSearch", map[string]any{"query": "select:TaskCreate,TaskUpdate,TaskList"})),
		reply(usage(110, 11, 0, 0, 0), text("Planning."),
			toolUse("TaskCreate", map[string]any{"subject": "Write the plan", "description": "Draft it", "activeForm": "Writing the plan"}),
			toolUse("TaskCreate", map[string]any{"subject": "Check ünïcode", "description": "Make sure", "activeForm": "Checking ünïcode"})),
		reply(usage(120, 12, 0, 0, 0), toolUse("TaskUpdate", map[string]any{"taskId": "1", "status": "in_progress"})),
		reply(usage(130, 13, 0, 0, 0), toolUse("TaskUpdate", map[string]any{"taskId": "1", "status": "completed"}),
			toolUse("TaskUpdate", map[string]any{"taskId": "2", "status": "completed"})),
		reply(usage(140, 14, 0, 0, 0), toolUse("TaskList", map[string]any{})),
		reply(usage(150, 15, 0, 0, 0), text("All tasks done.")),
	)})
}

func TestTaskTools(t *testing.T) {
	t.Parallel()
	w := newWorld(t, taskToolsScenario, worldOpts{env: taskToolsEnv})
	o := w.finish(t, w.run(t, "TASKS-SCENARIO: plan with tasks."))
	checkHooksStored(t, o)
	checkTranscripts(t, o, 0)
	if n := countTool(o, "PostToolUse", "TaskCreate"); n != 2 {
		t.Errorf("%d TaskCreate PostToolUse, want 2 (are the task tools still offered through ToolSearch?)", n)
	}
	if n := countTool(o, "PostToolUse", "TaskUpdate"); n != 3 {
		t.Errorf("%d TaskUpdate PostToolUse, want 3", n)
	}
	if len(o.hooksOf("TaskCreated")) != 2 || len(o.hooksOf("TaskCompleted")) != 2 {
		t.Errorf("%d TaskCreated, %d TaskCompleted; want 2 each", len(o.hooksOf("TaskCreated")), len(o.hooksOf("TaskCompleted")))
	}
	checkTodos(t, o, "task_tools")
	fixture(t, "tasks", o)
}

// countTool counts the hook inputs of event for tool.
func countTool(o *outcome, event, tool string) int {
	n := 0
	for _, h := range o.hooksOf(event) {
		if str(h.Fields, "tool_name") == tool {
			n++
		}
	}
	return n
}

// str digs a string out of nested objects ("" if absent).
func str(m map[string]any, path ...string) string {
	var v any = m
	for _, k := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = o[k]
	}
	switch s := v.(type) {
	case string:
		return s
	case json.Number:
		return s.String()
	}
	return ""
}
