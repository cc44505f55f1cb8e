package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/server"
	"github.com/mpm-dev/mpm/pkg/store"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runOnce starts a server with build on st, returns everything its
// session API shows and its "session model rebuilt" log line, and stops
// it (which saves the snapshot).
func runOnce(t *testing.T, st *store.Store, build string, during func(*server.Server)) (view, rebuilt string) {
	t.Helper()
	var logs syncBuffer
	srv := server.New(server.Config{Heartbeat: time.Hour, ModelBuild: build}, st, slog.New(slog.NewTextHandler(&logs, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	eventually(t, 10*time.Second, "mpmd to serve", func() bool {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	if during != nil {
		during(srv)
	}
	// What the rebuild derived comes back through the stream: wait for the
	// model to have applied it.
	last, stable := int64(-1), 0
	eventually(t, 5*time.Second, "the model to settle", func() bool {
		if seq := srv.Sessions().Seq(); seq == last {
			stable++
		} else {
			last, stable = seq, 0
		}
		return stable >= 20
	})
	var list struct {
		Sessions []struct {
			ID string `json:"session_id"`
		} `json:"sessions"`
	}
	var b bytes.Buffer
	getJSON(t, url+"/api/sessions", &list)
	for _, s := range list.Sessions {
		for _, p := range []string{"", "/transcript?limit=2000", "/tools?limit=2000"} {
			var v any
			getJSON(t, url+"/api/sessions/"+s.ID+p, &v)
			_ = json.NewEncoder(&b).Encode(v)
		}
	}
	var all any
	getJSON(t, url+"/api/sessions", &all)
	_ = json.NewEncoder(&b).Encode(all)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, line := range bytes.Split([]byte(logs.String()), []byte("\n")) {
		if bytes.Contains(line, []byte("session model rebuilt")) {
			rebuilt = string(line)
		}
	}
	return b.String(), rebuilt
}

var replayedRE = regexp.MustCompile(`events=(\d+)`)

func replayed(t *testing.T, line string) int {
	t.Helper()
	m := replayedRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no event count in %q", line)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// appendHooks commits hook inputs as the pipeline would while no mpmd
// runs (mpm-hook's spool replayed by another process, say), under a
// session id of their own.
func appendHooks(t *testing.T, st *store.Store, inputs []map[string]any, session string, at time.Time) int {
	t.Helper()
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range inputs {
		data := map[string]any{}
		for k, v := range in {
			data[k] = v
		}
		data["session_id"] = session
		ev := &event.Event{Namespace: "/hook", Name: event.HookEventName(in["hook_event_name"].(string)), Data: data, ID: fmt.Sprintf("%s-%02d", session, i)}
		if err := ev.Prepare(at.Add(time.Duration(i) * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return len(inputs)
}

// mpmd starts from the session model's snapshot: a start with the same
// build restores it and replays only the events stored after it, and the
// model it shows is the one a full replay builds; another build, a
// snapshot that does not decode, or one ahead of the store is not used
// (every event is replayed, and the model is the same).
func TestStartupRestoresTheModelSnapshot(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	inputs := hookInputs(t)
	t0 := time.Date(2026, 12, 3, 11, 33, 41, 0, time.UTC)

	// First run: the events arrive live; stopping saves the snapshot.
	_, line := runOnce(t, st, "build-1", func(srv *server.Server) {
		// As mpm-hook sends them: with a timestamp (in ms, as stored).
		for i, in := range inputs {
			data := map[string]any{"event_id": fmt.Sprintf("hook-%03d", i), "timestamp": event.FormatTime(t0.Add(time.Duration(i) * time.Millisecond))}
			for k, v := range in {
				data[k] = v
			}
			if _, err := srv.Ingest(context.Background(), &event.Event{Namespace: "/hook", Name: event.HookEventName(in["hook_event_name"].(string)), Data: data}); err != nil {
				t.Fatal(err)
			}
		}
		// Stop once everything is applied and derived (stopping while a
		// batch's derived events are in flight saves no snapshot: the
		// next start would not derive them again).
		eventually(t, 5*time.Second, "the derived events", func() bool {
			return storedCount(t, st, store.Filter{Namespace: "/agent", Event: "task_completed"}) == 2 &&
				storedCount(t, st, store.Filter{Namespace: "/session", Event: "end"}) == 1
		})

	})
	if !bytes.Contains([]byte(line), []byte("snapshot=none")) {
		t.Errorf("first start: %s", line)
	}
	var snap store.Snapshot
	ok, err := st.LoadSnapshot(context.Background(), "session_model", func(s store.Snapshot) error {
		snap = s
		snap.Data = bytes.Clone(s.Data)
		return nil
	})
	if err != nil || !ok || snap.Build != "build-1" || snap.Seq <= 0 {
		t.Fatalf("after the first run: snapshot %v (seq %d, build %q), %v", ok, snap.Seq, snap.Build, err)
	}

	// While mpmd is down, another session's events are committed.
	added := appendHooks(t, st, inputs, "later-session", t0.Add(time.Hour))

	replay, line := runOnce(t, st, "", nil)
	all := replayed(t, line)
	if !bytes.Contains([]byte(line), []byte("snapshot=off")) || all < 2*added {
		t.Fatalf("a start without a build replays everything: %s", line)
	}

	// After the snapshot: the events committed meanwhile, and the derived
	// /claude events the first run stored after its last apply.
	after := storedCount(t, st, store.Filter{Namespaces: []string{"/hook", "/claude"}, SinceSeq: snap.Seq})
	if after < added || after >= all {
		t.Fatalf("%d model events after the snapshot, %d added, %d in all", after, added, all)
	}
	restored, line := runOnce(t, st, "build-1", nil)
	if n := replayed(t, line); !bytes.Contains([]byte(line), []byte("restored at seq")) || n != after {
		t.Fatalf("a start with the snapshot's build replayed %d events (want the %d after it): %s", n, after, line)
	}
	if restored != replay {
		t.Fatalf("the model restored from the snapshot differs from the replayed one:\n%s\n---\n%s", restored, replay)
	}

	// The snapshot saved by that run covers everything: nothing to replay.
	again, line := runOnce(t, st, "build-1", nil)
	if n := replayed(t, line); n != 0 || again != replay {
		t.Fatalf("a second restored start replayed %d events, model equal %v: %s", n, again == replay, line)
	}

	modelInputs := store.Filter{Namespaces: []string{"/hook", "/claude"}}
	all = storedCount(t, st, modelInputs) // the replays stored the new session's derived /claude events
	other, line := runOnce(t, st, "build-2", nil)
	if n := replayed(t, line); !bytes.Contains([]byte(line), []byte("other build")) || n != all || other != replay {
		t.Fatalf("another build replayed %d of %d, model equal %v: %s", n, all, other == replay, line)
	}

	for name, bad := range map[string]store.Snapshot{
		"bad":                {Seq: 5, Build: "build-3", Data: []byte("not a snapshot")},
		"ahead of the store": {Seq: st.LastSeq() + 100, Build: "build-3", Data: snap.Data},
	} {
		if err := st.SaveSnapshot(context.Background(), "session_model", bad); err != nil {
			t.Fatal(err)
		}
		all = storedCount(t, st, modelInputs)
		got, line := runOnce(t, st, "build-3", nil)
		if n := replayed(t, line); !bytes.Contains([]byte(line), []byte(name)) || n != all || got != replay {
			t.Fatalf("%s snapshot: replayed %d of %d, model equal %v: %s", name, n, all, got == replay, line)
		}
	}
}
