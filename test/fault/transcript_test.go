package fault_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// A hook event — or anyone's POST /emit — can name any path as its
// transcript. mpmd reads only regular .jsonl files under the Claude
// projects directories, never through a symlink out of them: an event
// naming /etc/passwd, a symlink to it, a FIFO or a ../ escape gets nothing
// read, while a real transcript named the same way is read.
func TestHostileTranscriptPaths(t *testing.T) {
	root := t.TempDir()
	projects := filepath.Join(root, "home", ".claude", "projects", "-p")
	if err := os.MkdirAll(projects, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(root, "secret.jsonl")
	line := func(text string) string {
		return fmt.Sprintf(`{"type":"assistant","uuid":"u-%s","sessionId":"s","timestamp":"2026-12-03T10:00:00.000Z","message":{"id":"m-%s","role":"assistant","model":"claude-opus-5-5","content":[{"type":"text","text":%q}],"usage":{"input_tokens":1,"output_tokens":1}}}`+"\n", text, text, text)
	}
	if err := os.WriteFile(secret, []byte(line("SECRET-OUTSIDE")), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(projects, "link.jsonl")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(projects, "dir")); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(projects, "fifo.jsonl")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(projects, "good.jsonl")
	if err := os.WriteFile(good, []byte(line("READ-ME")), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mpmdtest.Start(t, mpmdtest.WithRoot(root))
	for i, p := range []string{"/etc/passwd", secret, link, filepath.Join(projects, "dir", "secret.jsonl"),
		filepath.Join(projects, "..", "..", "..", "..", "secret.jsonl"), fifo, "relative.jsonl", projects + "/x\x00.jsonl", good} {
		d.Emit(t, "hook", "stop", map[string]any{"hook_event_name": "Stop", "session_id": fmt.Sprintf("hostile-%d", i), "transcript_path": p})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := d.Events(t, "namespace=claude&event=output")
		var got []string
		for _, e := range evs {
			got = append(got, fmt.Sprint(e["data"].(map[string]any)["content"]))
		}
		joined := strings.Join(got, ",")
		if strings.Contains(joined, "SECRET") || strings.Contains(joined, "root:") {
			t.Fatalf("mpmd read outside the projects directory: %v", got)
		}
		if joined == "READ-ME" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the good transcript was not read (outputs %v)", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// mpmd is still serving (the FIFO blocked nothing)
	if h := d.Health(t); h["status"] != "healthy" {
		t.Errorf("health %v", h)
	}
}
