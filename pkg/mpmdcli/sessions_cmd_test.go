package mpmdcli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/mpmdcli"
	"github.com/mpm-dev/mpm/pkg/paths"
	"github.com/mpm-dev/mpm/pkg/session"
)

// fakeMpmd serves /api/sessions from a model fed with the recorded session
// of two background subagents, and names itself in a discovery file.
func fakeMpmd(t *testing.T) {
	t.Helper()
	m := session.New(nil, session.Limits{})
	f, err := os.Open("../session/testdata/two-background-agents.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	t0 := time.Now().Add(-time.Minute)
	for i := int64(1); sc.Scan(); i++ {
		var data map[string]any
		if err := json.Unmarshal(sc.Bytes(), &data); err != nil {
			t.Fatal(err)
		}
		ev := &event.Event{Seq: i, ID: fmt.Sprint(i), Namespace: "/hook", Name: event.HookEventName(data["hook_event_name"].(string)), Data: data}
		if err := ev.Prepare(t0.Add(time.Duration(i) * 100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		m.Apply(ev)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/sessions", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"sessions": m.List()})
	})
	mux.HandleFunc("GET /api/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := m.Get(r.PathValue("id"))
		if !ok {
			http.Error(w, `{"error":"no session"}`, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(d)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	root := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "run"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(root, "state"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(root, "config"))
	if err := paths.WriteDiscovery(paths.Resolve().Discovery(), paths.Discovery{PID: os.Getpid(), URL: srv.URL + "/"}); err != nil {
		t.Fatal(err)
	}
}

func run(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := mpmdcli.Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSessionsCommand(t *testing.T) {
	fakeMpmd(t)
	code, out, errOut := run("sessions")
	if code != 0 || !strings.Contains(out, "d7e48aee") || !strings.Contains(out, "run two agents") || !strings.Contains(out, "ended") {
		t.Fatalf("mpmd sessions: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run("sessions", "d7e4")
	if code != 0 || !strings.Contains(out, "Agents:") || !strings.Contains(out, "aa154b8a") || !strings.Contains(out, "Sub B") ||
		!strings.Contains(out, "(background)") || !strings.Contains(out, "1 prompts, 4 tool calls") {
		t.Fatalf("mpmd sessions d7e4: %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run("sessions", "--json")
	var list struct{ Sessions []session.Session }
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Sessions) != 1 {
		t.Errorf("mpmd sessions --json: %d %s", code, out)
	}
	code, _, errOut = run("sessions", "nope")
	if code == 0 || !strings.Contains(errOut, `no session "nope"`) {
		t.Errorf("mpmd sessions nope: %d %s", code, errOut)
	}
}

func TestSessionsCommandWithoutMpmd(t *testing.T) {
	root := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "run"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(root, "state"))
	code, _, errOut := run("sessions")
	if code != 3 || !strings.Contains(errOut, "mpmd is not running") {
		t.Errorf("without mpmd: %d %s", code, errOut)
	}
}
