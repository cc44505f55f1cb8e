// Package mpmdtest starts the real, built mpmd (and finds the built mpm-hook)
// for end-to-end tests: every XDG directory and HOME in a temporary dir, a free
// loopback port, stopped by pid when the test ends.
//
// Binaries come from $MPM_BIN_DIR when set (`make test` points it at bin/),
// otherwise they are built once per test process with `go build`.
package mpmdtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/spool"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// RepoRoot finds the module root (the directory holding go.mod).
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("mpmdtest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Bins returns the directory holding mpmd and mpm-hook (whose command
// line, everything but the relay, is mpmd's: cmd/mpmd).
func Bins(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("MPM_BIN_DIR"); d != "" {
		return d
	}
	root := RepoRoot(tb)
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "mpmdtest-bin-")
		if buildErr != nil {
			return
		}
		for _, c := range []string{"mpmd", "mpm-hook"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, c), "./cmd/"+c)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build ./cmd/%s: %v\n%s", c, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binDir
}

// MpmdBin is the path of the mpmd binary under test.
func MpmdBin(tb testing.TB) string { tb.Helper(); return filepath.Join(Bins(tb), "mpmd") }

// HookBin is the path of the mpm-hook binary under test.
func HookBin(tb testing.TB) string { tb.Helper(); return filepath.Join(Bins(tb), "mpm-hook") }

type options struct {
	token string
	args  []string
	env   []string
	root  string
	port  int
}

// Option changes how Start runs mpmd.
type Option func(*options)

// WithToken makes mpmd require token (passed through CLAUDE_MPM_SOCKETIO_TOKEN).
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithArgs adds command-line arguments after `mpmd run`.
func WithArgs(args ...string) Option { return func(o *options) { o.args = append(o.args, args...) } }

// WithEnv adds KEY=VALUE pairs to mpmd's environment.
func WithEnv(kv ...string) Option { return func(o *options) { o.env = append(o.env, kv...) } }

// WithRoot uses dir as the root of the XDG dirs and HOME (to share them
// between daemons, or with other processes).
func WithRoot(dir string) Option { return func(o *options) { o.root = dir } }

// WithPort listens on port instead of a free one.
func WithPort(port int) Option { return func(o *options) { o.port = port } }

// Daemon is a running mpmd.
type Daemon struct {
	URL   string // http://127.0.0.1:PORT
	Port  int
	Token string
	Root  string   // temp dir holding state/, config/, run/, home/
	Env   []string // the environment mpmd runs with; give it to mpm-hook too
	PID   int

	opts   options
	cmd    *exec.Cmd
	output *SyncBuffer
	exited chan struct{}
	err    error
}

// SyncBuffer is a bytes.Buffer safe for a process or command writing while
// a test reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Env builds the environment for a process that should see root's XDG dirs.
func Env(root string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "XDG_"), k == "HOME", k == "SOCKETIO_PORT",
			strings.HasPrefix(k, "CLAUDE_MPM_"):
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+filepath.Join(root, "home"),
		"XDG_STATE_HOME="+filepath.Join(root, "state"),
		"XDG_CONFIG_HOME="+filepath.Join(root, "config"),
		"XDG_DATA_HOME="+filepath.Join(root, "data"),
		"XDG_RUNTIME_DIR="+filepath.Join(root, "run"),
	)
	return append(env, extra...)
}

// Start starts mpmd and waits until /health answers.
func Start(tb testing.TB, opts ...Option) *Daemon {
	tb.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.root == "" {
		o.root = tb.TempDir()
	}
	return start(tb, o)
}

func start(tb testing.TB, o options) *Daemon {
	tb.Helper()
	for _, d := range []string{"home", "state", "config", "data", "run"} {
		if err := os.MkdirAll(filepath.Join(o.root, d), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	var extra []string
	if o.token != "" {
		extra = append(extra, "CLAUDE_MPM_SOCKETIO_TOKEN="+o.token)
	}
	extra = append(extra, o.env...)
	env := Env(o.root, extra...)
	args := append([]string{"run", "--port", strconv.Itoa(o.port)}, o.args...)
	cmd := exec.Command(MpmdBin(tb), args...)
	cmd.Env = env
	out := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start mpmd: %v", err)
	}
	d := &Daemon{Token: o.token, Root: o.root, PID: cmd.Process.Pid, opts: o, cmd: cmd, output: out, exited: make(chan struct{})}
	go func() { d.err = cmd.Wait(); close(d.exited) }()
	tb.Cleanup(func() {
		if d.Running() {
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
		if tb.Failed() {
			tb.Logf("mpmd (pid %d) output:\n%s", d.PID, d.output.String())
		}
	})

	disc := filepath.Join(o.root, "run", "mpm", "mpmd.json")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if !d.Running() {
			tb.Fatalf("mpmd exited during start-up (%v):\n%s", d.err, out.String())
		}
		if time.Now().After(deadline) {
			tb.Fatalf("mpmd did not become healthy within 15s:\n%s", out.String())
		}
		var info struct {
			PID  int `json:"pid"`
			Port int `json:"port"`
		}
		if b, err := os.ReadFile(disc); err == nil && json.Unmarshal(b, &info) == nil && info.PID == d.PID {
			d.Port = info.Port
			d.URL = "http://127.0.0.1:" + strconv.Itoa(info.Port)
			if resp, err := http.Get(d.URL + "/health"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.Env = append(env, "SOCKETIO_PORT="+strconv.Itoa(d.Port))
	return d
}

// Running reports whether the process has not exited.
func (d *Daemon) Running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// Output is what mpmd printed so far.
func (d *Daemon) Output() string { return d.output.String() }

// Discovery is the path of this daemon's discovery file.
func (d *Daemon) Discovery() string { return filepath.Join(d.Root, "run", "mpm", "mpmd.json") }

// Signal sends sig to mpmd.
func (d *Daemon) Signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("signal mpmd: %v", err)
	}
}

// Wait waits up to timeout for mpmd to exit and returns its exit code.
func (d *Daemon) Wait(tb testing.TB, timeout time.Duration) int {
	tb.Helper()
	select {
	case <-d.exited:
	case <-time.After(timeout):
		tb.Fatalf("mpmd (pid %d) did not exit within %s", d.PID, timeout)
	}
	var ee *exec.ExitError
	if errors.As(d.err, &ee) {
		return ee.ExitCode()
	}
	if d.err != nil {
		tb.Fatalf("mpmd: %v", d.err)
	}
	return 0
}

// Stop sends SIGTERM and requires a clean exit (code 0) within 5 s.
func (d *Daemon) Stop(tb testing.TB) {
	tb.Helper()
	d.Signal(tb, syscall.SIGTERM)
	if code := d.Wait(tb, 5*time.Second); code != 0 {
		tb.Fatalf("mpmd exited with %d after SIGTERM:\n%s", code, d.Output())
	}
}

// Kill sends SIGKILL and waits for the process to go.
func (d *Daemon) Kill(tb testing.TB) {
	tb.Helper()
	d.Signal(tb, syscall.SIGKILL)
	d.Wait(tb, 5*time.Second)
}

// Restart stops mpmd (if running) and starts a new one on the same port and
// directories.
func (d *Daemon) Restart(tb testing.TB) *Daemon {
	tb.Helper()
	if d.Running() {
		d.Stop(tb)
	}
	o := d.opts
	o.port = d.Port
	return start(tb, o)
}

// Do sends an HTTP request with the daemon's token (if any) and returns the
// status and body.
func (d *Daemon) Do(tb testing.TB, method, path string, body []byte) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, d.URL+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if d.Token != "" {
		req.Header.Set("Authorization", "Bearer "+d.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Emit posts an event to /emit and returns its seq and event_id.
func (d *Daemon) Emit(tb testing.TB, ns, ev string, data map[string]any) (int64, string) {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"namespace": ns, "event": ev, "data": data})
	code, b := d.Do(tb, http.MethodPost, "/emit", body)
	if code != http.StatusOK {
		tb.Fatalf("POST /emit: %d %s", code, b)
	}
	var r struct {
		Seq     int64  `json:"seq"`
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		tb.Fatalf("POST /emit answered %s: %v", b, err)
	}
	return r.Seq, r.EventID
}

// Events queries /api/events (rawQuery like "namespace=hook&limit=10").
func (d *Daemon) Events(tb testing.TB, rawQuery string) []map[string]any {
	tb.Helper()
	code, b := d.Do(tb, http.MethodGet, "/api/events?"+rawQuery, nil)
	if code != http.StatusOK {
		tb.Fatalf("GET /api/events?%s: %d %s", rawQuery, code, b)
	}
	var r struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		tb.Fatalf("GET /api/events answered %s: %v", b, err)
	}
	return r.Events
}

// Health returns /health's JSON.
func (d *Daemon) Health(tb testing.TB) map[string]any {
	tb.Helper()
	code, b := d.Do(tb, http.MethodGet, "/health", nil)
	if code != http.StatusOK {
		tb.Fatalf("GET /health: %d %s", code, b)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		tb.Fatal(err)
	}
	return h
}

// SpoolLen is how many records wait in the hook spool in dir.
func SpoolLen(tb testing.TB, dir string) int {
	tb.Helper()
	s, err := spool.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := s.Len()
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
