package session

import (
	"cmp"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
)

// Derived is an event the model derives from one it applied; the caller
// stores and broadcasts it (with the source's session_id and time).
type Derived struct {
	Namespace string
	Name      string
	Data      map[string]any
}

// Pricer prices one API message's usage; ok is false for a model it has
// no price for.
type Pricer interface {
	Cost(r PriceRequest) (usd float64, ok bool)
}

// PriceRequest is one API message's usage as the pricer needs it.
type PriceRequest struct {
	Model        string
	Tokens       Tokens
	InferenceGeo string
	Speed        string
	ServiceTier  string
}

// Limits bound what the model keeps.
type Limits struct {
	Sessions int // sessions kept; the least recently active ended ones go first (0: 4096)
	Entries  int // conversation entries per session (0: 200,000)
	Tools    int // tool calls per session (0: 100,000)
}

// Model is the session read model. Apply feeds it events in seq order; the
// query methods may be called concurrently with Apply.
type Model struct {
	mu       sync.RWMutex
	seq      int64 // the highest seq applied
	sessions map[string]*state
	pricer   Pricer
	limits   Limits
}

// New returns an empty model; pricer may be nil (every cost is then unknown).
func New(pricer Pricer, limits Limits) *Model {
	if limits.Sessions <= 0 {
		limits.Sessions = 4096
	}
	if limits.Entries <= 0 {
		limits.Entries = 200_000
	}
	if limits.Tools <= 0 {
		limits.Tools = 100_000
	}
	return &Model{sessions: map[string]*state{}, pricer: pricer, limits: limits}
}

// state is everything the model keeps of one session.
type state struct {
	s          Session
	prevStatus Status // before compacting
	agents     map[string]*agentState
	agentOrder []string
	tools      map[string]*ToolCall
	toolOrder  []*ToolCall
	spawns     []*spawn          // Agent/Task calls not yet tied to a subagent
	todoLists  map[string][]Task // TodoWrite, per agent
	taskTools  map[string]*Task  // the task tools' tasks, by id
	taskOrder  []string
	messages   map[string]*message
	requests   map[string]bool // request ids a transcript reported
	usage      usageAcc
	costState  *costState
	entries    []Entry
	texts      int // transcript text entries: when there are some, Stop's final message is not shown
	lastError  *Failure
}

type agentState struct {
	run           AgentRun
	usage         usageAcc
	foreground    bool // its spawning call said run_in_background: false
	switched      bool // agent_switched started was sent
	completedSent bool
}

// spawn is an Agent or Task tool call: a subagent about to start, or one
// started whose agent_id is not known yet.
type spawn struct {
	toolUseID   string
	parent      string
	agentType   string
	description string
	background  *bool // run_in_background as given; nil when not given
	time        time.Time
	agentID     string // once tied
}

// Apply applies one committed event and returns what it derives. Events the
// model does not consume (its own derived events among them) change nothing.
func (m *Model) Apply(ev *event.Event) []Derived {
	m.mu.Lock()
	m.seq = max(m.seq, ev.Seq)
	m.mu.Unlock()
	if ev.SessionID == "" {
		return nil
	}
	switch ev.Namespace {
	case "/hook":
	case "/claude":
		if _, derived := ev.Data["source_event_id"]; derived {
			return nil
		}
		switch ev.Name {
		case "output", "thinking", "usage", "cost_state", "api_request":
		default:
			return nil
		}
	default:
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.session(ev)
	a := &applier{m: m, st: st, ev: ev, data: ev.Data}
	if ev.Namespace == "/hook" {
		a.hook()
	} else {
		a.transcript()
	}
	return a.out
}

func (m *Model) session(ev *event.Event) *state {
	st, ok := m.sessions[ev.SessionID]
	if !ok {
		if len(m.sessions) >= m.limits.Sessions {
			m.evict()
		}
		st = &state{
			s:         Session{ID: ev.SessionID, StartedAt: ev.Time, Status: StatusIdle},
			agents:    map[string]*agentState{},
			tools:     map[string]*ToolCall{},
			todoLists: map[string][]Task{},
			taskTools: map[string]*Task{},
			messages:  map[string]*message{},
			requests:  map[string]bool{},
		}
		m.sessions[ev.SessionID] = st
	}
	if ev.Time.After(st.s.LastActivity) {
		st.s.LastActivity = ev.Time
	}
	if ev.Time.Before(st.s.StartedAt) {
		st.s.StartedAt = ev.Time
	}
	st.s.LastSeq = max(st.s.LastSeq, ev.Seq)
	return st
}

// evict drops the least recently active session, preferring ended ones.
func (m *Model) evict() {
	var victim *state
	for _, st := range m.sessions {
		if victim == nil {
			victim = st
			continue
		}
		ve, se := victim.s.Status == StatusEnded, st.s.Status == StatusEnded
		if se != ve {
			if se {
				victim = st
			}
			continue
		}
		if st.s.LastActivity.Before(victim.s.LastActivity) {
			victim = st
		}
	}
	if victim != nil {
		delete(m.sessions, victim.s.ID)
	}
}

// Seq is the highest seq the model has applied: what it shows is as of
// that event.
func (m *Model) Seq() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.seq
}

// List returns every session: those that need the user first, then running
// ones, then by last activity, newest first.
func (m *Model) List() []Session { return m.ListChanged(0) }

// ListChanged is List of the sessions changed by an event after seq.
func (m *Model) ListChanged(seq int64) []Session {
	m.mu.RLock()
	out := make([]Session, 0, len(m.sessions))
	for _, st := range m.sessions {
		if st.s.LastSeq > seq {
			out = append(out, m.snapshot(st))
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b Session) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		if c := b.LastActivity.Compare(a.LastActivity); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func rank(s Session) int {
	switch {
	case s.Attention != nil && s.Status != StatusEnded:
		return 0
	case s.Status == StatusRunning || s.Status == StatusWaiting || s.Status == StatusCompacting:
		return 1
	case s.Status == StatusIdle:
		return 2
	}
	return 3
}

// Latest is the most recently active session that has not ended, else the
// most recently active one.
func (m *Model) Latest() (Session, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var best *state
	for _, st := range m.sessions {
		if best == nil || better(st, best) {
			best = st
		}
	}
	if best == nil {
		return Session{}, false
	}
	return m.snapshot(best), true
}

func better(a, b *state) bool {
	ae, be := a.s.Status == StatusEnded, b.s.Status == StatusEnded
	if ae != be {
		return be
	}
	return a.s.LastActivity.After(b.s.LastActivity)
}

// Get returns one session with its page-only details.
func (m *Model) Get(id string) (Detail, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st, ok := m.sessions[id]
	if !ok {
		return Detail{}, false
	}
	d := Detail{Session: m.snapshot(st), Tasks: st.allTasks(), InFlight: []ToolCall{}}
	for _, tc := range st.toolOrder {
		if tc.Status == ToolRunning {
			d.InFlight = append(d.InFlight, *tc)
		}
	}
	if st.lastError != nil {
		e := *st.lastError
		d.LastError = &e
	}
	return d, true
}

// Tools returns a session's tool calls in the order they started, from
// offset, at most limit (0: all), and how many there are.
func (m *Model) Tools(id string, offset, limit int) ([]ToolCall, int, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st, ok := m.sessions[id]
	if !ok {
		return nil, 0, false
	}
	lo, hi := window(len(st.toolOrder), offset, limit)
	out := make([]ToolCall, 0, hi-lo)
	for _, tc := range st.toolOrder[lo:hi] {
		out = append(out, *tc)
	}
	return out, len(st.toolOrder), true
}

// Entries returns a session's conversation from offset, at most limit (0:
// all), without the text and tool input/result the caller reads from the
// store (Entry.Seq; ToolView.PreSeq and PostSeq), and how many there are.
func (m *Model) Entries(id string, offset, limit int) ([]Entry, int, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st, ok := m.sessions[id]
	if !ok {
		return nil, 0, false
	}
	visible := st.entries
	if st.texts > 0 {
		// A session whose transcript mpmd reads shows Claude's text from
		// there; Stop's last_assistant_message would repeat it.
		visible = make([]Entry, 0, len(st.entries))
		for _, e := range st.entries {
			if e.Kind != EntryFinal {
				visible = append(visible, e)
			}
		}
	}
	lo, hi := window(len(visible), offset, limit)
	out := make([]Entry, 0, hi-lo)
	for _, e := range visible[lo:hi] {
		if e.toolUseID != "" {
			if tc, ok := st.tools[e.toolUseID]; ok {
				e.Tool = &ToolView{ToolCall: *tc}
			}
		}
		if e.Agent != nil {
			if as, ok := st.agents[e.Agent.AgentID]; ok {
				run := m.agentRun(as)
				e.Agent = &run
			}
		}
		out = append(out, e)
	}
	return out, len(visible), true
}

func window(n, offset, limit int) (int, int) {
	lo := min(max(offset, 0), n)
	hi := n
	if limit > 0 && lo+limit < n {
		hi = lo + limit
	}
	return lo, hi
}

// TranscriptsOf lists the transcript files a session named: the main one
// and every subagent's, so a reader can follow them.
func (m *Model) TranscriptsOf(id string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st, ok := m.sessions[id]
	if !ok {
		return nil
	}
	var out []string
	if st.s.TranscriptPath != "" {
		out = append(out, st.s.TranscriptPath)
	}
	for _, aid := range st.agentOrder {
		if p := st.agents[aid].run.Transcript; p != "" {
			out = append(out, p)
		}
	}
	return out
}

// snapshot is st's public view; the caller holds mu.
func (m *Model) snapshot(st *state) Session {
	s := st.s
	s.Agents = make([]AgentRun, 0, len(st.agentOrder))
	s.RunningAgents = 0
	for _, id := range st.agentOrder {
		run := m.agentRun(st.agents[id])
		if run.Status == AgentRunning {
			s.RunningAgents++
		}
		s.Agents = append(s.Agents, run)
	}
	s.Usage = st.usage.render(st.costState, st.messages)
	if s.Attention != nil {
		a := *s.Attention
		s.Attention = &a
	}
	if s.EndedAt != nil {
		t := *s.EndedAt
		s.EndedAt = &t
		s.Duration = t.Sub(s.StartedAt).Seconds()
	} else {
		s.Duration = s.LastActivity.Sub(s.StartedAt).Seconds()
	}
	if s.Title == "" {
		s.Title = s.Project
	}
	return s
}

func (m *Model) agentRun(as *agentState) AgentRun {
	run := as.run
	run.Usage = as.usage.render(nil, nil)
	if run.EndedAt != nil {
		t := *run.EndedAt
		run.EndedAt = &t
	}
	return run
}

func (st *state) allTasks() []Task {
	out := []Task{}
	agents := make([]string, 0, len(st.todoLists))
	for a := range st.todoLists {
		agents = append(agents, a)
	}
	sort.Strings(agents)
	for _, a := range agents {
		out = append(out, st.todoLists[a]...)
	}
	for _, id := range st.taskOrder {
		if t, ok := st.taskTools[id]; ok {
			out = append(out, *t)
		}
	}
	return out
}

// addEntry inserts e in time order (seq breaks ties), bounded.
func (m *Model) addEntry(st *state, e Entry) {
	if len(st.entries) >= m.limits.Entries {
		return
	}
	i := len(st.entries)
	for i > 0 {
		p := st.entries[i-1]
		if p.Time.Before(e.Time) || (p.Time.Equal(e.Time) && p.Seq <= e.Seq) {
			break
		}
		i--
	}
	st.entries = slices.Insert(st.entries, i, e)
	if e.Kind == EntryText {
		st.texts++
	}
}

func projectOf(cwd string) string {
	if cwd == "" {
		return ""
	}
	return filepath.Base(filepath.Clean(cwd))
}
