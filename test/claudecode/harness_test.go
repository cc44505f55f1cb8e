// Package claudecode_test runs the real Claude Code CLI (the npm package
// pinned beside this file) against a scripted Messages API stand-in
// (pkg/claudetest), with hooks put into its temporary HOME by the real
// `mpm-hook install`, reporting to the real bin/mpmd; then it checks what
// mpmd stored and serves.
//
// Each scenario returns an outcome: the session, its transcripts, every hook
// input Claude Code fed (recorded by a second hook installed beside
// mpm-hook), the stand-in's recorded calls and the tokens it reported. The
// assertions on mpmd's session model go in each scenario's test, after the
// common check that every hook event reached /hook exactly once, in order.
package claudecode_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/claudetest"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
	"github.com/mpm-dev/mpm/pkg/settings"
)

// recordedEvents are the hook events the recording hook is registered for:
// every hook event of Claude Code 2.1.332 but the two whose hook replaces
// Claude Code's own work (WorktreeCreate, WorktreeRemove).
var recordedEvents = []string{
	"PreToolUse", "PostToolUse", "PostToolUseFailure", "PostToolBatch", "Notification",
	"UserPromptSubmit", "UserPromptExpansion", "SessionStart", "SessionEnd", "Stop",
	"StopFailure", "SubagentStart", "SubagentStop", "PreCompact", "PostCompact",
	"PreModelSwitch", "PostModelSwitch", "PermissionRequest", "PermissionDenied", "Setup",
	"TeammateIdle", "TaskCreated", "TaskCompleted", "Elicitation", "ElicitationResult",
	"ConfigChange", "InstructionsLoaded", "CwdChanged", "FileChanged", "DirectoryAdded",
	"MessageDisplay", "PreSkillShellCommand",
}

// toolMatcherEvents take a matcher on the tool name.
var toolMatcherEvents = map[string]bool{
	"PreToolUse": true, "PostToolUse": true, "PostToolUseFailure": true,
	"PermissionRequest": true, "PermissionDenied": true,
}

// world is one scenario's machine: a root holding HOME and the XDG dirs
// (shared by the CLI, mpm-hook and mpmd), a stand-in, and the CLI with
// hooks installed.
type world struct {
	root   string
	srv    *claudetest.Server
	claude *claudetest.Claude
	daemon *mpmdtest.Daemon // nil while mpmd is down
	port   int              // the port mpmd uses (or will use)
}

type worldOpts struct {
	mpmdDown bool     // do not start mpmd (the hooks spool)
	env      []string // extra env for the CLI
	claudeMD string   // the project's CLAUDE.md, if any
}

// newWorld starts mpmd (unless o.mpmdDown) and a stand-in answering from
// the scenario script(w) returns, and installs the hooks.
func newWorld(t *testing.T, script func(*world) claudetest.Scenario, o worldOpts) *world {
	t.Helper()
	claudetest.Bin(t) // fails (or skips) before anything starts
	w := &world{root: t.TempDir()}
	w.srv = claudetest.NewServer(t, script(w))
	if o.mpmdDown {
		w.port = freePort(t)
	} else {
		w.daemon = mpmdtest.Start(t, mpmdtest.WithRoot(w.root))
		w.port = w.daemon.Port
	}
	// SOCKETIO_PORT keeps mpm-hook off the default port while mpmd is down
	// (another mpmd may listen there); with mpmd up the discovery file wins.
	env := append([]string{"SOCKETIO_PORT=" + strconv.Itoa(w.port)}, o.env...)
	w.claude = claudetest.New(t, w.srv, claudetest.WithRoot(w.root), claudetest.WithEnv(env...))
	if w.claude.Project != w.project() {
		t.Fatalf("the CLI runs in %s, not %s", w.claude.Project, w.project())
	}
	if o.claudeMD != "" {
		if err := os.WriteFile(filepath.Join(w.project(), "CLAUDE.md"), []byte(o.claudeMD), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.installHooks(t)
	return w
}

// freePort is a loopback port nothing listens on (just now).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// project is the directory the CLI runs in (known before the CLI is set up,
// so a script can name files in it).
func (w *world) project() string { return filepath.Join(w.root, "project") }

func (w *world) recordDir() string { return filepath.Join(w.root, "hooks-recorded") }

// installHooks writes the recording hook into the user settings, then runs
// the real `mpm-hook install` on them (which must keep it).
func (w *world) installHooks(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(w.recordDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(w.root, "record-hook")
	// One file per hook input, named by the time it started (ns) and pid:
	// the order Claude Code ran the hooks in.
	body := "#!/bin/sh\nf=\"" + w.recordDir() + "/$(date +%s%N)-$$\"\ncat > \"$f.tmp\" && mv \"$f.tmp\" \"$f.json\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	hooks := map[string]any{}
	for _, ev := range recordedEvents {
		g := map[string]any{"hooks": []any{map[string]any{"type": "command", "command": script, "timeout": 10}}}
		if toolMatcherEvents[ev] {
			g["matcher"] = "*"
		}
		hooks[ev] = []any{g}
	}
	b, _ := json.MarshalIndent(map[string]any{"hooks": hooks}, "", "  ")
	if err := os.MkdirAll(filepath.Dir(w.claude.SettingsPath()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.claude.SettingsPath(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mpmdtest.HookBin(t), "install", "--command", mpmdtest.HookBin(t))
	cmd.Env = mpmdtest.Env(w.root)
	cmd.Dir = w.claude.Project
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mpm-hook install: %v\n%s", err, out)
	}
	if got := w.relayedEvents(t); len(got) == 0 {
		t.Fatalf("mpm-hook install registered no event in %s", w.claude.SettingsPath())
	}
	for _, ev := range recordedEvents {
		if !w.hasHandler(t, ev, script) {
			t.Fatalf("mpm-hook install dropped the recording hook of %s", ev)
		}
	}
}

// settingsHandlers maps each event to the commands registered for it.
func (w *world) settingsHandlers(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(w.claude.SettingsPath())
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Hooks map[string][]struct {
			Hooks []struct {
				Command string `json:"command"`
			} `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", w.claude.SettingsPath(), err)
	}
	out := map[string][]string{}
	for ev, groups := range s.Hooks {
		for _, g := range groups {
			for _, h := range g.Hooks {
				out[ev] = append(out[ev], h.Command)
			}
		}
	}
	return out
}

func (w *world) hasHandler(t *testing.T, ev, command string) bool {
	for _, c := range w.settingsHandlers(t)[ev] {
		if c == command {
			return true
		}
	}
	return false
}

// relayedEvents are the hook events mpm-hook is registered for.
func (w *world) relayedEvents(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for ev, cmds := range w.settingsHandlers(t) {
		for _, c := range cmds {
			if settings.IsOwn(c) {
				out[ev] = true
			}
		}
	}
	return out
}

// run runs the CLI once and requires a clean exit.
func (w *world) run(t *testing.T, prompt string, args ...string) *claudetest.Result {
	t.Helper()
	r := w.claude.Run(t, prompt, args...)
	if r.ExitCode != 0 || r.SessionID == "" {
		t.Fatalf("claude -p %q: exit %d, session %q\nstdout:\n%s\nstderr:\n%s", prompt, r.ExitCode, r.SessionID, r.Stdout, r.Stderr)
	}
	return r
}

// hookInput is one hook input Claude Code fed to the hooks.
type hookInput struct {
	Name    string         // hook_event_name
	Session string         // session_id
	Agent   string         // agent_id ("" for the main agent)
	Fields  map[string]any // the whole input
	Raw     []byte
	File    string // the recording's file name (its start time and pid)
}

// recordedHooks are the hook inputs recorded so far, in the order the hooks
// started.
func (w *world) recordedHooks(t *testing.T) []hookInput {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(w.recordDir(), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(paths, func(i, j int) bool { return recordKey(paths[i]) < recordKey(paths[j]) })
	var out []hookInput
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h := hookInput{Raw: b, File: filepath.Base(p)}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&h.Fields); err != nil {
			t.Fatalf("recorded hook input %s is not JSON: %v\n%s", p, err, b)
		}
		h.Name, _ = h.Fields["hook_event_name"].(string)
		h.Session, _ = h.Fields["session_id"].(string)
		h.Agent, _ = h.Fields["agent_id"].(string)
		out = append(out, h)
	}
	return out
}

// recordKey orders recordings by start time (ns), then pid.
func recordKey(path string) string {
	ns, pid, _ := strings.Cut(strings.TrimSuffix(filepath.Base(path), ".json"), "-")
	return fmt.Sprintf("%020s-%010s", ns, pid)
}

// outcome is what a scenario produced: everything an assertion on mpmd's
// picture of the session needs.
type outcome struct {
	World        *world
	Daemon       *mpmdtest.Daemon // the mpmd that holds the session now
	Runs         []*claudetest.Result
	SessionID    string
	Transcript   string   // the main transcript
	Subagents    []string // the subagents' transcripts
	Hooks        []hookInput
	Exchanges    []claudetest.Exchange       // the Messages API calls the stand-in answered
	Usage        claudetest.Usage            // the tokens it reported: the session's expected total
	UsageByModel map[string]claudetest.Usage // the same by model
}

// finish collects a scenario's outcome after its last run; mpmd must be up.
func (w *world) finish(t *testing.T, runs ...*claudetest.Result) *outcome {
	t.Helper()
	w.settle(t)
	last := runs[len(runs)-1]
	o := &outcome{
		World: w, Daemon: w.daemon, Runs: runs,
		SessionID: last.SessionID, Transcript: last.TranscriptPath, Subagents: last.SubagentTranscripts(),
		Hooks: w.recordedHooks(t), Exchanges: w.srv.Exchanges(),
		Usage: w.srv.Usage(), UsageByModel: w.srv.UsageByModel(),
	}
	if _, err := os.Stat(o.Transcript); err != nil {
		t.Fatalf("transcript: %v", err)
	}
	return o
}

// settle empties the hook spool into mpmd: a hook too slow to reach mpmd
// on a loaded machine spools its event, and the next hook delivers it; after
// the session's last hook, one more (of another session) does.
func (w *world) settle(t *testing.T) {
	t.Helper()
	dir := filepath.Join(w.root, "state", "mpm", "spool")
	for try := 0; mpmdtest.SpoolLen(t, dir) > 0; try++ {
		if try == 5 {
			t.Fatalf("the spool still holds %d events after %d more hooks", mpmdtest.SpoolLen(t, dir), try)
		}
		cmd := exec.Command(mpmdtest.HookBin(t))
		cmd.Env = w.daemon.Env
		cmd.Stdin = strings.NewReader(`{"hook_event_name":"Stop","session_id":"claudetest-flush"}`)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Fatalf("mpm-hook (flush): %v %s", err, out)
		}
	}
}

// hooksOf are the outcome's recorded hook inputs called name.
func (o *outcome) hooksOf(name string) []hookInput {
	var out []hookInput
	for _, h := range o.Hooks {
		if h.Name == name {
			out = append(out, h)
		}
	}
	return out
}

// storedHook is one /hook event as /api/events serves it.
type storedHook struct {
	Seq   int64
	Event string
	Data  map[string]any
}

// storedHooks polls /api/events until it holds at least n /hook events of
// the session (or 10 s pass), and returns them in seq order.
func storedHooks(t *testing.T, d *mpmdtest.Daemon, session string, n int) []storedHook {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, b := d.Do(t, "GET", "/api/events?namespace=hook&limit=10000&session_id="+session, nil)
		if code != 200 {
			t.Fatalf("GET /api/events: %d %s", code, b)
		}
		var r struct {
			Events []struct {
				Seq   int64           `json:"seq"`
				Event string          `json:"event"`
				Data  json.RawMessage `json:"data"`
			} `json:"events"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Events) >= n || time.Now().After(deadline) {
			out := make([]storedHook, len(r.Events))
			for i, e := range r.Events {
				out[i] = storedHook{Seq: e.Seq, Event: e.Event}
				dec := json.NewDecoder(bytes.NewReader(e.Data))
				dec.UseNumber()
				if err := dec.Decode(&out[i].Data); err != nil {
					t.Fatal(err)
				}
			}
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkHooksStored is the check every scenario makes today: every hook
// input Claude Code fed for an event mpm-hook is registered for reached
// mpmd's /hook namespace exactly once, with all its fields, nothing else is
// stored for the session, and each agent's events (main and every subagent)
// are stored in the order Claude Code fed them. Hooks that Claude Code runs
// at once (those of the tool calls of one assistant message; SessionStart
// and InstructionsLoaded) have no order among each other; each call's
// PreToolUse still precedes its PostToolUse. It returns the stored events.
func checkHooksStored(t *testing.T, o *outcome) []storedHook {
	t.Helper()
	relayed := o.World.relayedEvents(t)
	var want []hookInput
	for _, h := range o.Hooks {
		if relayed[h.Name] && h.Session == o.SessionID {
			want = append(want, h)
		}
	}
	if len(want) == 0 {
		t.Fatalf("no hook input recorded for session %s", o.SessionID)
	}
	got := storedHooks(t, o.Daemon, o.SessionID, len(want))

	// Exactly once: pair every input with the first unpaired stored event
	// holding all its fields.
	pair := make([]int, len(want)) // want index → got index, -1 if none
	used := make([]bool, len(got))
	for i, h := range want {
		pair[i] = -1
		for j := range got {
			if !used[j] && fieldDiff(h.Fields, got[j].Data) == "" {
				pair[i], used[j] = j, true
				break
			}
		}
		if pair[i] < 0 {
			t.Errorf("hook input %d (%s, agent %q, recorded as %s) never reached /hook%s", i, h.Name, h.Agent, h.File, closest(h, got))
		}
	}
	for j, g := range got {
		if !used[j] {
			t.Errorf("/hook holds an extra %s (seq %d, agent %v) that Claude Code never fed", g.Event, g.Seq, g.Data["agent_id"])
		}
	}

	// In order per agent, but for the hooks of tool calls that ran at once.
	span := parallelSpans(want, toolBatches(o.Exchanges))
	for i := range want {
		for k := i + 1; k < len(want); k++ {
			a, b := want[i], want[k]
			if a.Agent != b.Agent || pair[i] < 0 || pair[k] < 0 {
				continue
			}
			sameCall := str(a.Fields, "tool_use_id") != "" && str(a.Fields, "tool_use_id") == str(b.Fields, "tool_use_id")
			if span[i] != "" && span[i] == span[k] && !sameCall {
				continue
			}
			if got[pair[i]].Seq > got[pair[k]].Seq {
				t.Errorf("agent %q: %s (%s) was fed before %s (%s) but stored after it (seq %d > %d)",
					a.Agent, a.Name, a.File, b.Name, b.File, got[pair[i]].Seq, got[pair[k]].Seq)
			}
		}
	}
	if t.Failed() {
		for i, h := range want {
			t.Logf("fed %3d %-20s agent=%-18s tool_use_id=%-22s %s", i, h.Name, h.Agent, str(h.Fields, "tool_use_id"), h.File)
		}
		for _, g := range got {
			t.Logf("stored seq %4d %-20s agent=%v tool_use_id=%v", g.Seq, g.Event, g.Data["agent_id"], g.Data["tool_use_id"])
		}
	}
	return got
}

// toolBatches maps every tool call the stand-in scripted to the message
// that made it, for messages making more than one: Claude Code runs those
// calls at once.
func toolBatches(xs []claudetest.Exchange) map[string]string {
	out := map[string]string{}
	for _, x := range xs {
		var ids []string
		for _, c := range x.Reply.Content {
			if c.Type == "tool_use" {
				ids = append(ids, c.ID)
			}
		}
		for _, id := range ids {
			if len(ids) > 1 {
				out[id] = x.MessageID
			}
		}
	}
	return out
}

// parallelSpans marks the hook inputs Claude Code fires at the same time,
// in no defined order: those of a batch of parallel tool calls (from the
// batch's first PreToolUse up to its PostToolBatch, the events without a
// tool_use_id among them — TaskCreated, TaskCompleted — included) get the
// batch's message id; those of a run's start-up (SessionStart,
// InstructionsLoaded: everything up to the first UserPromptSubmit) get
// "startup" and their index. Other inputs get "".
func parallelSpans(hs []hookInput, batch map[string]string) []string {
	out := make([]string, len(hs))
	open := map[string]string{"": "startup 0"} // agent → the span running
	for i, h := range hs {
		switch b := batch[str(h.Fields, "tool_use_id")]; {
		case h.Name == "PreToolUse" && b != "":
			open[h.Agent] = b
		case h.Name == "PostToolBatch" || h.Name == "UserPromptSubmit":
			delete(open, h.Agent) // it comes after every event of the span
		}
		out[i] = open[h.Agent]
		if h.Name == "SessionEnd" {
			open[h.Agent] = fmt.Sprintf("startup %d", i+1) // a resumed run's
		}
	}
	return out
}

// closest describes how the stored event most like h differs from it.
func closest(h hookInput, got []storedHook) string {
	for _, g := range got {
		if g.Data["hook_event_name"] == h.Name && str(g.Data, "tool_use_id") == str(h.Fields, "tool_use_id") && g.Data["agent_id"] == h.Fields["agent_id"] {
			return fmt.Sprintf(" (seq %d comes closest: %s)", g.Seq, fieldDiff(h.Fields, g.Data))
		}
	}
	return ""
}

// fieldDiff says which of want's fields data lacks or holds differently
// ("" when data has them all; mpm-hook and mpmd may add fields).
func fieldDiff(want, data map[string]any) string {
	var diffs []string
	for k, v := range want {
		g, _ := json.Marshal(data[k])
		w, _ := json.Marshal(v)
		if !bytes.Equal(g, w) {
			diffs = append(diffs, fmt.Sprintf("%s = %.200s, want %.200s", k, g, w))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

// checkTranscripts checks the files Claude Code wrote: the main transcript
// and one transcript (+ meta.json) per subagent, each line JSON; and that
// Claude Code's own cost-state counts exactly the tokens the stand-in
// reported (so o.Usage is the total a session model must arrive at).
func checkTranscripts(t *testing.T, o *outcome, subagents int) {
	t.Helper()
	if len(claudetest.ReadTranscript(t, o.Transcript)) == 0 {
		t.Errorf("%s is empty", o.Transcript)
	}
	cs, ok := claudetest.ReadCostState(t, o.Transcript)
	if !ok {
		t.Errorf("%s has no cost-state", o.Transcript)
	} else if fmt.Sprint(cs.ModelUsage) != fmt.Sprint(o.UsageByModel) {
		t.Errorf("cost-state counts %+v, the stand-in reported %+v", cs.ModelUsage, o.UsageByModel)
	}
	if len(o.Subagents) != subagents {
		t.Errorf("%d subagent transcripts, want %d: %v", len(o.Subagents), subagents, o.Subagents)
	}
	for _, p := range o.Subagents {
		if len(claudetest.ReadTranscript(t, p)) == 0 {
			t.Errorf("%s is empty", p)
		}
		if _, err := os.Stat(strings.TrimSuffix(p, ".jsonl") + ".meta.json"); err != nil {
			t.Errorf("subagent meta: %v", err)
		}
	}
}
