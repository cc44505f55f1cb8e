package fault_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// Many mpm-hook processes at once while mpmd is down, plus a corrupt record
// in the spool: every hook spools its event; when mpmd starts it drains the
// spool — while more hooks arrive and drain it too — and every hook's event
// is stored exactly once, each session's spooled events in the order the
// hooks ran; the corrupt record is quarantined, not blocking the others.
func TestHooksSpoolConcurrentlyWhileDown(t *testing.T) {
	d := mpmdtest.Start(t)
	d.Kill(t) // its env now points hooks at a port nothing listens on

	const sessions, perSession = 6, 8
	var wg sync.WaitGroup
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func(s int) { // each session's hooks one after another, sessions side by side
			defer wg.Done()
			for i := 0; i < perSession; i++ {
				runHookInSession(t, d.Env, s, fmt.Sprintf("sp-%d-%d", s, i))
			}
		}(s)
	}
	wg.Wait()
	spoolDir := filepath.Join(d.Root, "state", "mpm", "spool")
	if n := mpmdtest.SpoolLen(t, spoolDir); n != sessions*perSession {
		t.Fatalf("%d records spooled by %d hooks", n, sessions*perSession)
	}
	// A line cut short in the log, and a corrupt record file of the
	// file-per-record format earlier versions wrote (left by an upgrade).
	cut := `{"namespace":"/hook","event":"user_prompt","data":{"prompt":"cut`
	f, err := os.OpenFile(filepath.Join(spoolDir, "spool.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(cut + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	corrupt := filepath.Join(spoolDir, "0000000000000-0000000000000000000-corrupt.json")
	if err := os.WriteFile(corrupt, []byte(`{"namespace":"/hook","event":`), 0o600); err != nil {
		t.Fatal(err)
	}

	d2 := mpmdtest.Start(t, mpmdtest.WithRoot(d.Root))
	// More hooks at once, racing the start-up drain (each delivers, then
	// drains what it can; the drain lock keeps them from sending a record twice).
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for i := perSession; i < perSession+2; i++ {
				runHookInSession(t, d2.Env, s, fmt.Sprintf("sp-%d-%d", s, i))
			}
		}(s)
	}
	wg.Wait()
	eventually(t, 20*time.Second, "the spool to drain", func() bool {
		return mpmdtest.SpoolLen(t, spoolDir) == 0
	})
	if _, err := os.Stat(filepath.Join(spoolDir, "bad", filepath.Base(corrupt))); err != nil {
		t.Errorf("the corrupt record file was not quarantined: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(spoolDir, "bad", "lines.log")); err != nil || !strings.Contains(string(b), cut) {
		t.Errorf("the cut line was not quarantined: %q, %v", b, err)
	}

	seen := map[string]int{}
	order := map[string][]string{}
	for _, e := range export(t, d2, "namespace=hook&event=user_prompt") {
		data, _ := e["data"].(map[string]any)
		p, _ := data["prompt"].(string)
		seen[p]++
		sid, _ := data["session_id"].(string)
		order[sid] = append(order[sid], p)
	}
	for s := 0; s < sessions; s++ {
		for i := 0; i < perSession+2; i++ {
			if m := fmt.Sprintf("sp-%d-%d", s, i); seen[m] != 1 {
				t.Errorf("hook %s stored %d times, want once", m, seen[m])
			}
		}
		// The spooled ones (0..perSession-1) in the order their hooks ran.
		var spooled []string
		for _, p := range order[fmt.Sprintf("fault-sp-%d", s)] {
			var ss, i int
			if _, err := fmt.Sscanf(p, "sp-%d-%d", &ss, &i); err == nil && i < perSession {
				spooled = append(spooled, p)
			}
		}
		for i, p := range spooled {
			if want := fmt.Sprintf("sp-%d-%d", s, i); p != want {
				t.Errorf("session %d: spooled events stored in the order %v, want sp-%d-0 … sp-%d-%d", s, spooled, s, s, perSession-1)
				break
			}
		}
	}
}

// runHookInSession runs mpm-hook with a UserPromptSubmit of session
// fault-sp-<s> whose prompt is marker.
func runHookInSession(tb testing.TB, env []string, s int, marker string) {
	runHook(tb, env, hookInputIn(fmt.Sprintf("fault-sp-%d", s), marker))
}
