package session

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"time"
)

// Snapshots: the whole model written out and read back, so mpmd can start
// from the model as it stood instead of replaying every stored event (at a
// million events a replay takes tens of seconds; reading a snapshot, well
// under one). A snapshot holds the model exactly: restoring it and applying
// the events after its Seq gives the model a full replay would. It is only
// good for the code that wrote it — the caller keeps it with the build
// that made it and replays in full when the build changes, so a fix to the
// derivation still reaches old history once.

// snapshotFormat changes whenever what is written changes.
const snapshotFormat = 2

// ErrSnapshotFormat is Restore's answer for a snapshot of another format.
var ErrSnapshotFormat = errors.New("session snapshot: not this format")

// A snapshot is a gob stream: a snapHeader, then one snapState per
// session (small messages: one big one costs copies as gob reads it).
type snapHeader struct {
	Format   int
	Seq      int64
	Sessions int
}

type snapState struct {
	S          Session
	PrevStatus Status
	Agents     []snapAgent // in agentOrder
	ToolKeys   []string    // st.tools' keys, in toolOrder
	Tools      []ToolCall  // toolOrder
	Spawns     []snapSpawn
	TodoLists  map[string][]Task
	TaskTools  map[string]Task
	TaskOrder  []string
	Messages   map[string]snapMessage
	Requests   []string
	Usage      snapUsage
	CostState  *snapCost
	Entries    []snapEntry
	Texts      int
	LastError  *Failure
}

type snapAgent struct {
	Run           AgentRun
	Usage         snapUsage
	Foreground    bool
	Switched      bool
	CompletedSent bool
}

type snapSpawn struct {
	ToolUseID, Parent, AgentType, Description string
	HasBackground, Background                 bool
	Time                                      time.Time
	AgentID                                   string
}

type snapMessage struct {
	Model        string
	Time         time.Time
	Agent        string
	Tokens       Tokens
	Cost         float64
	Priced, OTel bool
}

type snapUsage struct {
	Tokens  Tokens
	ByModel map[string]snapModelAcc
	FromLog int
	OTel    int
}

type snapModelAcc struct {
	Tokens             Tokens
	Cost               float64
	Unpriced, Messages int
}

type snapCost struct {
	Time    time.Time
	Total   float64
	Tokens  Tokens
	ByModel map[string]snapModelCost
	Unknown bool
}

type snapModelCost struct {
	Tokens Tokens
	Cost   float64
}

type snapEntry struct {
	E         Entry
	ToolUseID string
}

// Snapshot writes the model to w. Apply waits while it runs; readers do not.
func (m *Model) Snapshot(w io.Writer) error {
	m.mu.RLock()
	defer m.mu.RUnlock() // what snap shares with the model is encoded before Apply may change it
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := gob.NewEncoder(bw)
	if err := enc.Encode(snapHeader{Format: snapshotFormat, Seq: m.seq, Sessions: len(m.sessions)}); err != nil {
		return fmt.Errorf("session snapshot: %w", err)
	}
	for _, st := range m.sessions {
		s := st.snap()
		if err := enc.Encode(&s); err != nil {
			return fmt.Errorf("session snapshot: %w", err)
		}
	}
	return bw.Flush()
}

// Restore replaces the model's state with the snapshot read from r; on an
// error the model is left as it was.
func (m *Model) Restore(r io.Reader) error {
	dec := gob.NewDecoder(bufio.NewReaderSize(r, 256<<10))
	var h snapHeader
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("session snapshot: %w", err)
	}
	if h.Format != snapshotFormat {
		return fmt.Errorf("%w (format %d, want %d)", ErrSnapshotFormat, h.Format, snapshotFormat)
	}
	if h.Sessions < 0 {
		return fmt.Errorf("session snapshot: %d sessions", h.Sessions)
	}
	sessions := make(map[string]*state, min(h.Sessions, 1<<16))
	for range h.Sessions {
		var s snapState
		if err := dec.Decode(&s); err != nil {
			return fmt.Errorf("session snapshot: %w", err)
		}
		st := s.state()
		sessions[st.s.ID] = st
	}
	m.mu.Lock()
	m.seq, m.sessions = h.Seq, sessions
	m.mu.Unlock()
	return nil
}

func (st *state) snap() snapState {
	s := snapState{
		S: st.s, PrevStatus: st.prevStatus, TodoLists: st.todoLists, TaskOrder: st.taskOrder,
		Texts: st.texts, LastError: st.lastError, Usage: st.usage.snap(),
		TaskTools: make(map[string]Task, len(st.taskTools)),
		Messages:  make(map[string]snapMessage, len(st.messages)),
		Requests:  make([]string, 0, len(st.requests)),
		Entries:   make([]snapEntry, len(st.entries)),
		Tools:     make([]ToolCall, 0, len(st.toolOrder)),
		ToolKeys:  make([]string, 0, len(st.toolOrder)),
	}
	for _, id := range st.agentOrder {
		as := st.agents[id]
		s.Agents = append(s.Agents, snapAgent{Run: as.run, Usage: as.usage.snap(), Foreground: as.foreground, Switched: as.switched, CompletedSent: as.completedSent})
	}
	key := make(map[*ToolCall]string, len(st.tools))
	for k, tc := range st.tools {
		key[tc] = k
	}
	for _, tc := range st.toolOrder {
		s.Tools = append(s.Tools, *tc)
		s.ToolKeys = append(s.ToolKeys, key[tc])
	}
	for _, sp := range st.spawns {
		ss := snapSpawn{ToolUseID: sp.toolUseID, Parent: sp.parent, AgentType: sp.agentType, Description: sp.description, Time: sp.time, AgentID: sp.agentID}
		if sp.background != nil {
			ss.HasBackground, ss.Background = true, *sp.background
		}
		s.Spawns = append(s.Spawns, ss)
	}
	for k, t := range st.taskTools {
		s.TaskTools[k] = *t
	}
	for k, msg := range st.messages {
		s.Messages[k] = snapMessage{Model: msg.model, Time: msg.time, Agent: msg.agent, Tokens: msg.tokens, Cost: msg.cost, Priced: msg.priced, OTel: msg.otel}
	}
	for k, ok := range st.requests {
		if ok {
			s.Requests = append(s.Requests, k)
		}
	}
	if cs := st.costState; cs != nil {
		c := &snapCost{Time: cs.time, Total: cs.total, Tokens: cs.tokens, Unknown: cs.unknown, ByModel: make(map[string]snapModelCost, len(cs.byModel))}
		for k, mc := range cs.byModel {
			c.ByModel[k] = snapModelCost{Tokens: mc.tokens, Cost: mc.cost}
		}
		s.CostState = c
	}
	for i, e := range st.entries {
		s.Entries[i] = snapEntry{E: e, ToolUseID: e.toolUseID}
	}
	return s
}

func (s *snapState) state() *state {
	st := &state{
		s: s.S, prevStatus: s.PrevStatus, taskOrder: s.TaskOrder, texts: s.Texts, lastError: s.LastError,
		usage:     s.Usage.acc(),
		agents:    make(map[string]*agentState, len(s.Agents)),
		tools:     make(map[string]*ToolCall, len(s.Tools)),
		todoLists: s.TodoLists,
		taskTools: make(map[string]*Task, len(s.TaskTools)),
		messages:  make(map[string]*message, len(s.Messages)),
		requests:  make(map[string]bool, len(s.Requests)),
		entries:   make([]Entry, len(s.Entries)),
	}
	if st.todoLists == nil {
		st.todoLists = map[string][]Task{}
	}
	for _, a := range s.Agents {
		as := &agentState{run: a.Run, usage: a.Usage.acc(), foreground: a.Foreground, switched: a.Switched, completedSent: a.CompletedSent}
		st.agents[a.Run.AgentID] = as
		st.agentOrder = append(st.agentOrder, a.Run.AgentID)
	}
	for i := range s.Tools {
		tc := s.Tools[i]
		st.tools[s.ToolKeys[i]] = &tc
		st.toolOrder = append(st.toolOrder, &tc)
	}
	for _, sp := range s.Spawns {
		p := &spawn{toolUseID: sp.ToolUseID, parent: sp.Parent, agentType: sp.AgentType, description: sp.Description, time: sp.Time, agentID: sp.AgentID}
		if sp.HasBackground {
			b := sp.Background
			p.background = &b
		}
		st.spawns = append(st.spawns, p)
	}
	for k, t := range s.TaskTools {
		t := t
		st.taskTools[k] = &t
	}
	for k, msg := range s.Messages {
		st.messages[k] = &message{model: msg.Model, time: msg.Time, agent: msg.Agent, tokens: msg.Tokens, cost: msg.Cost, priced: msg.Priced, otel: msg.OTel}
	}
	for _, k := range s.Requests {
		st.requests[k] = true
	}
	if c := s.CostState; c != nil {
		cs := &costState{time: c.Time, total: c.Total, tokens: c.Tokens, unknown: c.Unknown, byModel: make(map[string]modelCost, len(c.ByModel))}
		for k, mc := range c.ByModel {
			cs.byModel[k] = modelCost{tokens: mc.Tokens, cost: mc.Cost}
		}
		st.costState = cs
	}
	for i, e := range s.Entries {
		e.E.toolUseID = e.ToolUseID
		st.entries[i] = e.E
	}
	return st
}

func (u *usageAcc) snap() snapUsage {
	s := snapUsage{Tokens: u.tokens, FromLog: u.fromLog, OTel: u.otel}
	if u.byModel != nil {
		s.ByModel = make(map[string]snapModelAcc, len(u.byModel))
		for k, ma := range u.byModel {
			s.ByModel[k] = snapModelAcc{Tokens: ma.tokens, Cost: ma.cost, Unpriced: ma.unpriced, Messages: ma.messages}
		}
	}
	return s
}

func (s snapUsage) acc() usageAcc {
	u := usageAcc{tokens: s.Tokens, fromLog: s.FromLog, otel: s.OTel}
	if s.ByModel != nil {
		u.byModel = make(map[string]*modelAcc, len(s.ByModel))
		for k, ma := range s.ByModel {
			u.byModel[k] = &modelAcc{tokens: ma.Tokens, cost: ma.Cost, unpriced: ma.Unpriced, messages: ma.Messages}
		}
	}
	return u
}
