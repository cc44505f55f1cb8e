package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/server"
	"github.com/mpm-dev/mpm/pkg/session"
	"github.com/mpm-dev/mpm/pkg/store"
)

// testServer is an in-process mpmd on a loopback port.
type testServer struct {
	*server.Server
	url  string
	stop func()
}

func startServer(tb testing.TB, st *store.Store) *testServer {
	tb.Helper()
	srv := server.New(server.Config{Heartbeat: time.Hour}, st, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	ts := &testServer{Server: srv, url: "http://" + ln.Addr().String()}
	ts.stop = func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	}
	tb.Cleanup(func() {
		if ts.stop != nil {
			ts.stop()
		}
	})
	// Run rebuilds the session model before it serves: wait for it.
	eventually(tb, 5*time.Second, "mpmd to serve", func() bool {
		resp, err := http.Get(ts.url + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return ts
}

func (ts *testServer) close() { ts.stop(); ts.stop = nil }

func eventually(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getJSON(tb testing.TB, url string, v any) int {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			tb.Fatalf("GET %s: %v in %s", url, err, b)
		}
	}
	return resp.StatusCode
}

func hookInputs(tb testing.TB) []map[string]any {
	tb.Helper()
	f, err := os.Open("../session/testdata/two-background-agents.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

const recordedSession = "d7e48aee-9368-4c80-a16b-8747364778e8"

func ingestHooks(tb testing.TB, srv *server.Server, inputs []map[string]any) {
	tb.Helper()
	for i, in := range inputs {
		name := event.HookEventName(in["hook_event_name"].(string))
		data := map[string]any{"event_id": fmt.Sprintf("hook-%03d", i)}
		for k, v := range in {
			data[k] = v
		}
		if _, err := srv.Ingest(context.Background(), &event.Event{Namespace: "/hook", Name: name, Data: data}); err != nil {
			tb.Fatal(err)
		}
	}
}

func storedCount(tb testing.TB, st *store.Store, f store.Filter) int {
	tb.Helper()
	evs, err := st.Query(context.Background(), f)
	if err != nil {
		tb.Fatal(err)
	}
	return len(evs)
}

// The session API serves the model built from a recorded session with two
// background subagents, and the derived events are stored after their
// source, once.
func TestSessionsAPI(t *testing.T) {
	st, err := store.Open(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := startServer(t, st)
	ingestHooks(t, ts.Server, hookInputs(t))
	eventually(t, 5*time.Second, "the session to end in the model", func() bool {
		var d session.Detail
		return getJSON(t, ts.url+"/api/sessions/"+recordedSession, &d) == 200 && d.Status == session.StatusEnded
	})
	var list struct{ Sessions []session.Session }
	getJSON(t, ts.url+"/api/sessions", &list)
	if len(list.Sessions) != 1 || len(list.Sessions[0].Agents) != 2 || list.Sessions[0].Prompts != 1 || list.Sessions[0].Title != "run two agents" {
		t.Fatalf("sessions = %+v", list.Sessions)
	}
	var changed struct {
		Sessions []session.Session
		Seq      int64
	}
	getJSON(t, ts.url+"/api/sessions?changed_since=0", &changed)
	if len(changed.Sessions) != 1 || changed.Seq < changed.Sessions[0].LastSeq {
		t.Errorf("changed_since=0: %+v", changed)
	}
	getJSON(t, fmt.Sprintf("%s/api/sessions?changed_since=%d", ts.url, changed.Sessions[0].LastSeq), &changed)
	if len(changed.Sessions) != 0 {
		t.Errorf("changed since its last event: %+v", changed.Sessions)
	}
	eventually(t, 5*time.Second, "two task_completed events", func() bool {
		return storedCount(t, st, store.Filter{Namespace: "/agent", Event: "task_completed"}) == 2
	})
	// Each derived event comes after its source.
	evs, _ := st.Query(context.Background(), store.Filter{Namespace: "/agent"})
	for _, ev := range evs {
		src, _ := ev.Data["source_event_id"].(string)
		all, _ := st.Query(context.Background(), store.Filter{Namespace: "/hook"})
		for _, s := range all {
			if s.ID == src && s.Seq >= ev.Seq {
				t.Errorf("%s %s (seq %d) stored before its source (seq %d)", ev.Namespace, ev.Name, ev.Seq, s.Seq)
			}
		}
	}

	var page session.Page
	getJSON(t, ts.url+"/api/sessions/"+recordedSession+"/transcript?limit=3", &page)
	if page.Total < 10 || len(page.Entries) != 3 || page.Entries[0].Kind != session.EntryPrompt || page.Entries[0].Text != "run two agents" {
		t.Errorf("transcript page = %+v", page)
	}
	getJSON(t, ts.url+"/api/sessions/"+recordedSession+"/transcript?limit=2000", &page)
	var bash *session.ToolView
	for _, e := range page.Entries {
		if e.Tool != nil && e.Tool.ToolUseID == "toolu_msg_0002_1" {
			bash = e.Tool
		}
	}
	if bash == nil || bash.AgentID != "aa154b8ada56de8c7" || !strings.Contains(string(bash.Input), "echo subA") || !strings.Contains(string(bash.Result), `"stdout":"subA"`) {
		t.Errorf("subagent A's Bash call in the conversation = %+v", bash)
	}
	var tools struct {
		Total int
		Tools []session.ToolCall
	}
	getJSON(t, ts.url+"/api/sessions/"+recordedSession+"/tools", &tools)
	if tools.Total != 4 || len(tools.Tools) != 4 {
		t.Errorf("tools = %+v", tools)
	}
	for url, want := range map[string]int{
		"/api/sessions/nope":                                        404,
		"/api/sessions/nope/transcript":                             404,
		"/api/sessions/" + recordedSession + "/transcript?limit=0":  400,
		"/api/sessions/" + recordedSession + "/transcript?offset=x": 400,
		"/api/sessions/" + recordedSession + "/tools?limit=99999":   400,
		"/api/sessions?changed_since=-1":                            400,
	} {
		var body map[string]any
		if code := getJSON(t, ts.url+url, &body); code != want || body["error"] == nil {
			t.Errorf("GET %s = %d %v, want %d with an error", url, code, body, want)
		}
	}
}

// A crash between a hook event's commit and its derived events' loses
// nothing: on the next start mpmd derives again from derived_seq, and a
// start after that stores nothing twice. The model comes back the same.
func TestRestartDerivesWhatWasLost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// The hook events, committed as the pipeline would, but no derived ones:
	// what a kill -9 right after the commit leaves.
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range hookInputs(t) {
		ev := &event.Event{Namespace: "/hook", Name: event.HookEventName(in["hook_event_name"].(string)), Data: in, ID: fmt.Sprintf("h%02d", i)}
		if err := ev.Prepare(time.Date(2026, 12, 3, 11, 33, 41, i*int(time.Millisecond), time.UTC)); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, st)
	eventually(t, 5*time.Second, "the derived events", func() bool {
		return storedCount(t, st, store.Filter{Namespace: "/agent", Event: "task_completed"}) == 2 &&
			storedCount(t, st, store.Filter{Namespace: "/session", Event: "end"}) == 1
	})
	var before session.Detail
	getJSON(t, ts.url+"/api/sessions/"+recordedSession, &before)
	ts.close()
	notLog := store.Filter{Namespaces: []string{"/hook", "/session", "/claude", "/agent", "/todo", "/memory"}}
	n := storedCount(t, st, notLog)

	ts = startServer(t, st)
	var after session.Detail
	getJSON(t, ts.url+"/api/sessions/"+recordedSession, &after)
	ts.close()
	if got := storedCount(t, st, notLog); got != n {
		t.Errorf("a second start stored %d more events", got-n)
	}
	if after.Status != before.Status || after.ToolCalls != before.ToolCalls || len(after.Agents) != len(before.Agents) || after.LastSeq != before.LastSeq {
		t.Errorf("the model after a restart differs:\n%+v\n%+v", before.Session, after.Session)
	}
	st.Close()
}

// GET /api/sessions?brief=1 lists the sessions without their agents (the
// dashboard's list shows only their count, agents_count, which every
// list has); anything but 1/0 for brief is refused.
func TestSessionsListBrief(t *testing.T) {
	st, err := store.Open(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := startServer(t, st)
	ingestHooks(t, ts.Server, hookInputs(t))
	eventually(t, 5*time.Second, "the session", func() bool {
		d, ok := ts.Sessions().Get(recordedSession)
		return ok && len(d.Agents) == 2
	})
	for _, q := range []string{"", "?brief=0", "?brief=1", "?brief=true&changed_since=0"} {
		var list struct {
			Sessions []map[string]any `json:"sessions"`
		}
		if code := getJSON(t, ts.url+"/api/sessions"+q, &list); code != 200 || len(list.Sessions) != 1 {
			t.Fatalf("%s: %d, %d sessions", q, code, len(list.Sessions))
		}
		s := list.Sessions[0]
		agents, has := s["agents"].([]any)
		brief := strings.Contains(q, "brief=1") || strings.Contains(q, "brief=true")
		if s["agents_count"] != 2.0 || has == brief || (!brief && len(agents) != 2) {
			t.Errorf("%s: agents_count %v, agents %v", q, s["agents_count"], s["agents"])
		}
	}
	if code := getJSON(t, ts.url+"/api/sessions?brief=yes", nil); code != 400 {
		t.Errorf("brief=yes: %d", code)
	}
}
