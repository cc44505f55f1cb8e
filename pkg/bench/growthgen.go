package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/session"
	"github.com/mpm-dev/mpm/pkg/store"
)

// The growth generator: a realistic history of Claude Code sessions
// written straight through pkg/store's batch path, the way mpmd's pipeline
// writes it (batches of genBatch events), with what the session model
// derives from it stored too, so a database of any size can be made in
// minutes instead of the hours a real ingest would take.
//
// A history is several thousand sessions (one for every ≈2,000 events),
// about twenty running at once, interleaved. Each session starts, then
// runs turns: a typed prompt, assistant text and usage from its
// transcript, tool calls (Bash, Read, Edit, Grep, Glob, Write; some fail,
// some wait for a permission), now and then a background subagent with
// its own tool calls, SubagentStop and the task notification, and a Stop;
// after 30–120 turns it ends. Payloads are the size real ones are: a few
// hundred bytes to a few KB (tool results are clipped to 1 KB, as long
// outputs are in practice the larger part of a store).

// genBatch is the events per store batch: what the pipeline's group commit
// writes under load.
const genBatch = 256

// genConcurrent is how many sessions run at once.
const genConcurrent = 20

// genEventsPerSession sizes the number of sessions to the history.
const genEventsPerSession = 2000

// genInterval is the mean time between two generated events (so 10 M events span
// about three weeks, inside mpmd's default 30-day retention).
const genInterval = 150 * time.Millisecond

// GenStats is what generating cost.
type GenStats struct {
	Stored   int64         // events in the store afterwards
	Raw      int64         // raw events generated (the rest were derived)
	Sessions int           // sessions started
	Took     time.Duration // wall time
	// Append is the store's cost per event (Begin … Append … Commit), over
	// the last window before each milestone.
	Append map[int64]time.Duration
}

// Generate appends events to st until it holds target events, calling
// milestone (if not nil) whenever the count passes one of at, with the
// append cost per event over the window of window events before it.
// It continues a history already in st: sessions and seqs go on from
// where they are, and derived_seq is kept at the head (everything stored
// was derived already), as mpmd's pipeline keeps it.
func Generate(ctx context.Context, st *store.Store, target int64, at []int64, window int64, milestone func(n int64, perEvent time.Duration) error) (GenStats, error) {
	start := time.Now()
	g := newGenerator(st.LastSeq(), target)
	stats := GenStats{Append: map[int64]time.Duration{}}
	next := 0
	for next < len(at) && at[next] <= st.Count() {
		next++
	}
	var winBusy time.Duration
	var winN int64
	for st.Count() < target {
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		n := min(int64(genBatch), target-st.Count())
		evs := g.batch(int(n))
		t0 := time.Now()
		tx, err := st.Begin(ctx)
		if err != nil {
			return stats, err
		}
		for _, ev := range evs {
			if _, err := tx.Append(ctx, ev); err != nil {
				tx.Rollback()
				return stats, err
			}
		}
		tx.RaiseMeta("derived_seq", tx.Head())
		if err := tx.Commit(); err != nil {
			return stats, err
		}
		busy := time.Since(t0)
		stats.Raw += int64(g.raw)
		g.raw = 0
		if next < len(at) && st.Count() > at[next]-window {
			winBusy += busy
			winN += int64(len(evs))
		}
		for next < len(at) && st.Count() >= at[next] {
			var per time.Duration
			if winN > 0 {
				per = winBusy / time.Duration(winN)
			}
			stats.Append[at[next]] = per
			if milestone != nil {
				if err := milestone(at[next], per); err != nil {
					return stats, err
				}
			}
			next++
			winBusy, winN = 0, 0
		}
	}
	stats.Stored = st.Count()
	stats.Sessions = g.started
	stats.Took = time.Since(start)
	return stats, nil
}

// generator makes the interleaved history.
type generator struct {
	rng     *rand.Rand
	model   *session.Model // derives what mpmd would store beside the raw events
	seq     int64          // the model's seq (ids only; the store assigns seqs)
	clock   time.Time
	live    []*genSession
	started int
	raw     int
	pending []*event.Event
	// randomIDs makes hook event ids 32 random hex digits, as event.NewID
	// made them before it put the time first (the cached databases of
	// earlier runs hold such ids).
	randomIDs bool
}

func newGenerator(head, target int64) *generator {
	// The history ends about now: the dashboard and retention see it as recent.
	span := time.Duration(target) * genInterval
	return &generator{
		rng:   rand.New(rand.NewPCG(uint64(head)+1, 42)),
		model: session.New(nil, session.Limits{}),
		seq:   head,
		clock: time.Now().Add(-span).Add(time.Duration(head) * genInterval).Truncate(time.Millisecond),
	}
}

// genSession is one simulated Claude Code session.
type genSession struct {
	id, cwd, transcript string
	pathHash            string // the transcript watcher's ids name the file
	turns, turn         int
	queue               []genStep
}

// genStep is one hook input or transcript event still to come.
type genStep struct {
	ns, name string
	data     map[string]any
}

// batch returns the next n events (raw and derived, in order).
func (g *generator) batch(n int) []*event.Event {
	for len(g.pending) < n {
		g.one()
	}
	out := g.pending[:n:n]
	g.pending = append([]*event.Event(nil), g.pending[n:]...)
	return out
}

// one makes one raw event and what the model derives from it.
func (g *generator) one() {
	for len(g.live) < genConcurrent {
		g.live = append(g.live, g.newSession())
	}
	i := g.rng.IntN(len(g.live))
	s := g.live[i]
	for len(s.queue) == 0 {
		if s.turn >= s.turns {
			g.live[i] = g.newSession()
			s = g.live[i]
			continue
		}
		g.planTurn(s)
	}
	step := s.queue[0]
	s.queue = s.queue[1:]
	g.clock = g.clock.Add(genInterval/2 + time.Duration(g.rng.Int64N(int64(genInterval))))
	g.seq++
	data := step.data
	data["session_id"] = s.id
	data["timestamp"] = event.FormatTime(g.clock)
	if step.ns == "/hook" {
		data["transcript_path"] = s.transcript
		data["cwd"] = s.cwd
	}
	ev := &event.Event{
		Seq:       g.seq,
		ID:        g.id(s, step.ns),
		Namespace: step.ns,
		Name:      step.name,
		Time:      g.clock,
		SessionID: s.id,
		Data:      data,
	}
	g.raw++
	g.pending = append(g.pending, ev)
	for j, d := range g.model.Apply(ev) {
		g.seq++
		g.pending = append(g.pending, &event.Event{
			Seq:       g.seq,
			ID:        ev.ID + "/" + strconv.Itoa(j) + d.Namespace + "/" + d.Name,
			Namespace: d.Namespace,
			Name:      d.Name,
			Time:      ev.Time,
			SessionID: ev.SessionID,
			Data:      d.Data,
		})
	}
}

func (g *generator) newSession() *genSession {
	g.started++
	id := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.rng.Uint32(), g.rng.IntN(1<<16), g.rng.IntN(1<<12), g.rng.IntN(1<<12), g.rng.Uint64()&(1<<48-1))
	proj := genProjects[g.rng.IntN(len(genProjects))]
	cwd := "/home/dev/src/" + proj
	s := &genSession{
		id:         id,
		cwd:        cwd,
		transcript: "/home/dev/.claude/projects/-home-dev-src-" + proj + "/" + id + ".jsonl",
		turns:      30 + g.rng.IntN(90),
		pathHash:   fmt.Sprintf("%016x", g.rng.Uint64()),
	}
	s.queue = append(s.queue, hookStep("SessionStart", map[string]any{"source": "startup", "model": "claude-opus-4-5"}))
	return s
}

var genProjects = []string{"api-gateway", "billing", "dashboard", "ingest", "mobile-app", "search", "infra", "docs-site", "ml-pipeline", "auth"}

var genTools = []string{"Bash", "Bash", "Bash", "Read", "Read", "Read", "Edit", "Edit", "Grep", "Glob", "Write"}

func hookStep(name string, fields map[string]any) genStep {
	fields["hook_event_name"] = name
	return genStep{ns: "/hook", name: event.HookEventName(name), data: fields}
}

// planTurn queues one turn of s.
func (g *generator) planTurn(s *genSession) {
	s.turn++
	last := s.turn >= s.turns
	q := s.queue[:0]
	q = append(q, hookStep("UserPromptSubmit", map[string]any{"permission_mode": "default", "prompt": g.text(60, 400)}))
	calls := 2 + g.rng.IntN(10)
	msg := 0
	for c := 0; c < calls; c++ {
		msg++
		q = append(q, g.transcriptSteps(s, msg, "")...)
		q = append(q, g.toolCall(s, "")...)
	}
	if g.rng.IntN(6) == 0 { // a background subagent
		agent := fmt.Sprintf("a%016x", g.rng.Uint64())
		tu := fmt.Sprintf("toolu_%020x", g.rng.Uint64())
		input := map[string]any{"description": g.text(20, 60), "prompt": g.text(200, 800), "subagent_type": "general-purpose", "run_in_background": true}
		q = append(q, hookStep("PreToolUse", map[string]any{"tool_name": "Agent", "tool_input": input, "tool_use_id": tu}))
		q = append(q, hookStep("PostToolUse", map[string]any{"tool_name": "Agent", "tool_input": input, "tool_use_id": tu,
			"tool_response": map[string]any{"isAsync": true, "status": "async_launched", "agentId": agent, "description": input["description"]}}))
		q = append(q, hookStep("SubagentStart", map[string]any{"agent_id": agent, "agent_type": "general-purpose"}))
		for c := 0; c < 3+g.rng.IntN(8); c++ {
			msg++
			q = append(q, g.transcriptSteps(s, msg, agent)...)
			q = append(q, g.toolCall(s, agent)...)
		}
		q = append(q, hookStep("SubagentStop", map[string]any{"agent_id": agent, "agent_type": "general-purpose",
			"agent_transcript_path": strings.TrimSuffix(s.transcript, ".jsonl") + "/subagents/agent-" + agent + ".jsonl", "last_assistant_message": g.text(100, 500)}))
		q = append(q, hookStep("UserPromptSubmit", map[string]any{"prompt": "<task-notification>\n<task-id>" + agent + "</task-id>\n<tool-use-id>" + tu + "</tool-use-id>\n<status>completed</status>\n<summary>Agent \"" + input["description"].(string) + "\" completed</summary>\n</task-notification>"}))
	}
	msg++
	q = append(q, g.transcriptSteps(s, msg, "")...)
	q = append(q, hookStep("Stop", map[string]any{"stop_hook_active": false, "last_assistant_message": g.text(80, 600)}))
	if last {
		q = append(q, hookStep("SessionEnd", map[string]any{"reason": "prompt_input_exit"}))
	}
	s.queue = q
}

// transcriptSteps are the /claude events the transcript watcher reads for
// one assistant message: its text and its usage.
func (g *generator) transcriptSteps(s *genSession, msg int, agent string) []genStep {
	mid := fmt.Sprintf("msg_%s%06d", s.id[:8], s.turn*1000+msg)
	rid := fmt.Sprintf("req_%s%06d", s.id[:8], s.turn*1000+msg)
	base := func() map[string]any {
		m := map[string]any{"message_id": mid, "request_id": rid, "model": "claude-opus-4-5", "uuid": fmt.Sprintf("%016x", g.rng.Uint64())}
		if agent != "" {
			m["agent_id"] = agent
		}
		return m
	}
	out := base()
	out["stream"] = "assistant"
	out["content"] = g.text(40, 500)
	u := base()
	for k, v := range map[string]any{"input_tokens": 2 + g.rng.IntN(50), "output_tokens": 20 + g.rng.IntN(800),
		"cache_creation_input_tokens": g.rng.IntN(5000), "cache_read_input_tokens": 10000 + g.rng.IntN(90000),
		"cache_creation_5m_input_tokens": 0, "cache_creation_1h_input_tokens": 0, "web_search_requests": 0,
		"service_tier": "standard", "inference_geo": "", "speed": ""} {
		u[k] = v
	}
	return []genStep{{ns: "/claude", name: "output", data: out}, {ns: "/claude", name: "usage", data: u}}
}

// toolCall is one tool use: PreToolUse, maybe a permission wait, and its
// PostToolUse (or PostToolUseFailure).
func (g *generator) toolCall(s *genSession, agent string) []genStep {
	tool := genTools[g.rng.IntN(len(genTools))]
	tu := fmt.Sprintf("toolu_%020x", g.rng.Uint64())
	var input map[string]any
	switch tool {
	case "Bash":
		input = map[string]any{"command": "go test ./pkg/" + genProjects[g.rng.IntN(len(genProjects))] + "/... -run Test" + g.word(), "description": g.text(10, 60)}
	case "Read":
		input = map[string]any{"file_path": s.cwd + "/pkg/" + g.word() + "/" + g.word() + ".go"}
	case "Edit":
		input = map[string]any{"file_path": s.cwd + "/pkg/" + g.word() + ".go", "old_string": g.text(20, 300), "new_string": g.text(20, 300)}
	case "Write":
		input = map[string]any{"file_path": s.cwd + "/docs/" + g.word() + ".md", "content": g.text(200, 1000)}
	default:
		input = map[string]any{"pattern": g.word(), "path": s.cwd}
	}
	with := func(m map[string]any) map[string]any {
		m["tool_name"], m["tool_input"], m["tool_use_id"] = tool, input, tu
		if agent != "" {
			m["agent_id"], m["agent_type"] = agent, "general-purpose"
		}
		return m
	}
	steps := []genStep{hookStep("PreToolUse", with(map[string]any{"permission_mode": "default"}))}
	if g.rng.IntN(40) == 0 && agent == "" {
		steps = append(steps, hookStep("Notification", map[string]any{"message": "Claude needs your permission to use " + tool, "notification_type": "permission_prompt"}))
	}
	if g.rng.IntN(25) == 0 {
		steps = append(steps, hookStep("PostToolUseFailure", with(map[string]any{"error": "Exit code 1\n" + g.text(40, 300), "is_interrupt": false})))
	} else {
		steps = append(steps, hookStep("PostToolUse", with(map[string]any{"tool_response": map[string]any{"stdout": g.text(0, 1000), "stderr": "", "interrupted": false}, "duration_ms": g.rng.IntN(4000)})))
	}
	return steps
}

var genWords = strings.Fields(`the session store index query handler event model agent tool call result
	error retry batch commit schema migration config server client socket stream replay cursor page
	token cost usage prompt transcript record decode encode buffer cache latency budget test fixture
	func return value struct field method package import build deploy review change diff patch file`)

func (g *generator) word() string { return genWords[g.rng.IntN(len(genWords))] }

// id is a raw event's id as its producer makes them: event.NewID's for
// mpm-hook's (the time in ms, then random), tx:<path hash>:<uuid> for the
// transcript watcher's (random within the file's range).
func (g *generator) id(s *genSession, ns string) string {
	if ns == "/claude" {
		return "tx:" + s.pathHash + fmt.Sprintf(":%016x%016x", g.rng.Uint64(), g.rng.Uint64())
	}
	if g.randomIDs {
		return fmt.Sprintf("%016x%016x", g.rng.Uint64(), g.rng.Uint64())
	}
	// event.NewID's form: the time in ms, then 80 random bits.
	return fmt.Sprintf("%012x%04x%016x", g.clock.UnixMilli(), g.rng.IntN(1<<16), g.rng.Uint64())
}

// text is min–max bytes of words.
func (g *generator) text(lo, hi int) string {
	n := lo
	if hi > lo {
		n += g.rng.IntN(hi - lo)
	}
	var b strings.Builder
	b.Grow(n + 12)
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.word())
	}
	return b.String()
}

// AppendCost appends n generated events to st in batches of genBatch, the
// way mpmd's pipeline writes, and returns the median batch's wall time per
// event and the appending thread's CPU time per event (the goroutine is
// locked to its thread; SQLite runs on it). The events stay in st: the
// caller removes them (RemoveAfter) to leave a cached database as it was.
func AppendCost(ctx context.Context, st *store.Store, n int) (wall, cpu time.Duration, err error) {
	return appendCost(ctx, st, n, false)
}

func appendCost(ctx context.Context, st *store.Store, n int, randomIDs bool) (wall, cpu time.Duration, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g := newGenerator(st.LastSeq(), st.Count()+int64(n))
	g.randomIDs = randomIDs
	var walls []time.Duration
	var cpuSum time.Duration
	total := 0
	for total < n {
		evs := g.batch(min(genBatch, n-total))
		c0 := threadCPU()
		t0 := time.Now()
		tx, err := st.Begin(ctx)
		if err != nil {
			return 0, 0, err
		}
		for _, ev := range evs {
			if _, err := tx.Append(ctx, ev); err != nil {
				tx.Rollback()
				return 0, 0, err
			}
		}
		if err := tx.Commit(); err != nil {
			return 0, 0, err
		}
		walls = append(walls, time.Since(t0)/time.Duration(len(evs)))
		cpuSum += threadCPU() - c0
		total += len(evs)
	}
	slices.Sort(walls)
	return walls[len(walls)/2], cpuSum / time.Duration(total), nil
}

// RemoveAfter deletes the events after seq from the database at path
// (closed), undoing AppendCost.
func RemoveAfter(path string, seq int64) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM events WHERE seq > ?`, seq); err != nil {
		return err
	}
	_, err = db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
