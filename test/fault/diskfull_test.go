package fault_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mpm-dev/mpm/pkg/client"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// limitFileSize sets mpmd's RLIMIT_FSIZE (both soft and hard stay raisable:
// the test runs as the same user or root) and returns a func that lifts it.
// The Go runtime ignores SIGXFSZ, so writes past the limit fail with EFBIG
// instead of killing mpmd: from SQLite's side, the disk is full.
func limitFileSize(tb testing.TB, pid int, bytes uint64) (restore func()) {
	tb.Helper()
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, nil, &old); err != nil {
		tb.Skipf("prlimit is not available here: %v", err)
	}
	lim := unix.Rlimit{Cur: bytes, Max: old.Max}
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
		tb.Skipf("cannot limit mpmd's file size: %v", err)
	}
	return func() {
		if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &old, nil); err != nil {
			tb.Fatalf("lift the file-size limit: %v", err)
		}
	}
}

// immutable makes the store's files immutable (chattr +i): every write to
// them fails with EPERM, even through the descriptors mpmd already holds —
// a read-only store. Root cannot bypass it, unlike chmod. It needs a file
// system with the flag (ext4, xfs, btrfs; not tmpfs) and CAP_LINUX_IMMUTABLE;
// the test is skipped without them.
func immutable(tb testing.TB, dir string) (restore func()) {
	tb.Helper()
	if _, err := exec.LookPath("chattr"); err != nil {
		tb.Skip("chattr is not installed")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "events.db*"))
	files = append(files, dir)
	set := func(flag string) error {
		out, err := exec.Command("chattr", append([]string{flag}, files...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("chattr %s: %v: %s", flag, err, out)
		}
		return nil
	}
	if err := set("+i"); err != nil {
		_ = set("-i")
		tb.Skipf("cannot make the store read-only here: %v", err)
	}
	var once sync.Once
	restore = func() {
		once.Do(func() {
			if err := set("-i"); err != nil {
				tb.Errorf("make the store writable again: %v", err)
			}
		})
	}
	tb.Cleanup(restore) // before TempDir's removal, which would fail on immutable files
	return restore
}

// The store's disk fills up (mpmd may not grow any file), no file may be
// written at all, or the store's files become read-only: /health says
// degraded with the reason, /emit answers 503 with an error, a Socket.IO
// producer gets an {"error": …} ack, mpm-hook spools, and nothing of a
// refused event (nor what it would derive) is stored. When the disk comes
// back mpmd is healthy again without a restart, takes events on the same
// connections, hooks deliver what was spooled, and every event acked at any
// point is stored exactly once.
func TestDiskFull(t *testing.T) {
	for _, c := range []struct {
		name       string
		breakStore func(t *testing.T, d *mpmdtest.Daemon, dir string) (restore func())
	}{
		// The files may be rewritten but not grow: the WAL appends, so the
		// next commit fails with EFBIG, as on a full disk.
		{"cannot grow", func(t *testing.T, d *mpmdtest.Daemon, dir string) func() {
			st, err := os.Stat(filepath.Join(dir, "events.db-wal"))
			if err != nil {
				t.Fatalf("no WAL file: %v", err)
			}
			return limitFileSize(t, d.PID, uint64(st.Size()))
		}},
		// Nothing may be written at all.
		{"no writes", func(t *testing.T, d *mpmdtest.Daemon, dir string) func() {
			return limitFileSize(t, d.PID, 0)
		}},
		// The store's files and directory are immutable: EPERM.
		{"read-only", func(t *testing.T, d *mpmdtest.Daemon, dir string) func() {
			return immutable(t, dir)
		}},
	} {
		t.Run(c.name, func(t *testing.T) { testDiskFull(t, c.breakStore) })
	}
}

func testDiskFull(t *testing.T, breakStore func(t *testing.T, d *mpmdtest.Daemon, dir string) (restore func())) {
	d := mpmdtest.Start(t)
	ctx := context.Background()
	acked := map[string]bool{}
	for i := 0; i < 20; i++ {
		_, id := d.Emit(t, "hook", "before", map[string]any{"event_id": fmt.Sprintf("fault-df-before-%d", i)})
		acked[id] = true
	}
	prod, err := client.Dial(ctx, d.URL, "/hook", client.DialOptions{Producer: true, ConnectTimeout: 10 * time.Second, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if a, err := prod.Emit(ctx, "before", map[string]any{"event_id": "fault-df-before-sio"}); err != nil {
		t.Fatal(err)
	} else {
		acked[a.EventID] = true
	}
	before := stored(t, d)
	storeDir := filepath.Join(d.Root, "state", "mpm")

	restore := breakStore(t, d, storeDir)
	lifted := false
	defer func() {
		if !lifted {
			restore()
		}
	}()

	// /emit: 503 with a sentence, for a plain event and for a hook event
	// that would derive others (nothing partial may be stored).
	for _, body := range []map[string]any{
		{"namespace": "hook", "event": "during", "data": map[string]any{"event_id": "fault-df-during-http"}},
		{"namespace": "hook", "event": "session_start", "data": map[string]any{"event_id": "fault-df-during-derive",
			"hook_event_name": "SessionStart", "session_id": "fault-df-sess", "source": "startup"}},
	} {
		b, _ := json.Marshal(body)
		code, resp := d.Do(t, http.MethodPost, "/emit", b)
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(resp, &e)
		if code != http.StatusServiceUnavailable || !strings.Contains(e.Error, "not stored") {
			t.Fatalf("POST /emit with the disk full: %d %s, want 503 with an error saying the event was not stored", code, resp)
		}
	}
	h := d.Health(t)
	reason, _ := h["reason"].(string)
	if h["status"] != "degraded" || reason == "" {
		t.Fatalf("health with the disk full: %v, want degraded with a reason", h)
	}
	t.Logf("degraded: %s", reason)
	if m := metrics(t, d); m["mpmd_degraded"] != 1 {
		t.Errorf("mpmd_degraded = %v, want 1", m["mpmd_degraded"])
	}

	// Socket.IO producer: an error ack, not a hang and not a silent success.
	_, err = prod.Emit(ctx, "during", map[string]any{"event_id": "fault-df-during-sio"})
	var ae *client.AckError
	if !errors.As(err, &ae) || !strings.Contains(ae.Msg, "not stored") {
		t.Fatalf("Socket.IO emit with the disk full: %v, want an error ack", err)
	}

	// mpm-hook: refused, so it spools (its own process may still write).
	spoolDir := filepath.Join(storeDir, "spool")
	runHook(t, d.Env, hookInput("df-during-hook"))
	if n := mpmdtest.SpoolLen(t, spoolDir); n != 1 {
		t.Fatalf("%d spooled records after a hook with the disk full, want 1", n)
	}
	if h := d.Health(t); h["status"] != "degraded" {
		t.Fatalf("health recovered while the disk is still full: %v", h)
	}

	// The disk comes back.
	restore()
	lifted = true
	eventually(t, 10*time.Second, "/health to say healthy again", func() bool { return d.Health(t)["status"] == "healthy" })
	if _, reason := d.Health(t)["reason"]; reason {
		t.Errorf("healthy with a reason: %v", d.Health(t))
	}
	_, id := d.Emit(t, "hook", "after", map[string]any{"event_id": "fault-df-after-http"})
	acked[id] = true
	a, err := prod.Emit(ctx, "after", map[string]any{"event_id": "fault-df-after-sio"})
	if err != nil {
		t.Fatalf("Socket.IO emit after recovery on the same connection: %v", err)
	}
	acked[a.EventID] = true
	// The next hook that reaches mpmd drains what was spooled (within its
	// small drain budget; on a loaded machine a hook may itself time out and
	// spool, so a few are run), and a restart drains whatever is left.
	spoolEmpty := func() bool {
		return mpmdtest.SpoolLen(t, spoolDir) == 0
	}
	markers := []string{"df-during-hook"}
	for i := 0; i < 5 && (i == 0 || !spoolEmpty()); i++ {
		m := fmt.Sprintf("df-after-hook-%d", i)
		markers = append(markers, m)
		runHook(t, d.Env, hookInput(m))
		deadline := time.Now().Add(2 * time.Second)
		for !spoolEmpty() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !spoolEmpty() {
		t.Logf("the hooks after recovery left records in the spool; the restart below drains them")
	}
	// The store survived the failed writes: a restart reads it back whole.
	d2 := d.Restart(t)
	eventually(t, 10*time.Second, "the spool to drain", spoolEmpty)

	evs := export(t, d2, "")
	count := map[string]int{}
	prompts := map[string]int{}
	for _, e := range evs {
		count[e["event_id"].(string)]++
		if data, _ := e["data"].(map[string]any); e["event"] == "user_prompt" {
			prompts[fmt.Sprint(data["prompt"])]++
		}
		if e["session_id"] == "fault-df-sess" {
			t.Errorf("an event of the refused SessionStart was stored: %v", e)
		}
	}
	for id := range acked {
		if count[id] != 1 {
			t.Errorf("acked event %s stored %d times", id, count[id])
		}
	}
	for _, id := range []string{"fault-df-during-http", "fault-df-during-derive", "fault-df-during-sio"} {
		if count[id] != 0 {
			t.Errorf("refused event %s was stored", id)
		}
	}
	for _, m := range markers {
		if prompts[m] != 1 {
			t.Errorf("hook %s stored %d times, want once", m, prompts[m])
		}
	}
	if got, want := stored(t, d2), before+2+int64(len(markers)); got < want {
		t.Errorf("stored events %d, want at least %d", got, want)
	}
}
