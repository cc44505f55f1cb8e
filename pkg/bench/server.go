package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Target is a running server the load tool measures.
type Target struct {
	Name string // "mpmd" or "node"
	URL  string // http://127.0.0.1:PORT
	PID  int    // for /proc CPU time and RSS
}

// Proc is a server process this package started; Stop ends it.
type Proc struct {
	Target
	cmd  *exec.Cmd
	dir  string
	log  *os.File
	done chan struct{}
}

// ServerSpec says how to start one server under test.
type ServerSpec struct {
	Name string
	// Argv builds the command line for a port and a private directory
	// (the mpmd database goes there).
	Argv func(port int, dir string) []string
	// DB, if set, names the server's database in its directory (for a
	// restart on a prefilled store).
	DB func(dir string) string
	// CPUs, if set, pins the server with taskset (e.g. "1").
	CPUs string
	Env  []string
	// Ready bounds the wait for /health (0: 20 s); mpmd rebuilds its
	// session model from the store before it answers.
	Ready time.Duration
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs the server with HOME and every XDG directory inside a fresh
// directory under tmp, on a free loopback port, and waits for /health.
func Start(ctx context.Context, spec ServerSpec, tmp string) (*Proc, error) {
	dir, err := os.MkdirTemp(tmp, spec.Name+"-")
	if err != nil {
		return nil, err
	}
	return StartIn(ctx, spec, dir)
}

// StartIn is Start in a given private directory: a restart on the same
// files (the mpmd database) after Stop.
func StartIn(ctx context.Context, spec ServerSpec, dir string) (*Proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	argv := spec.Argv(port, dir)
	if spec.CPUs != "" {
		argv = append([]string{"taskset", "-c", spec.CPUs}, argv...)
	}
	lf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	env := []string{
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_STATE_HOME=" + filepath.Join(dir, "state"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"PORT=" + strconv.Itoa(port),
	}
	_ = os.MkdirAll(filepath.Join(dir, "run"), 0o700)
	for _, kv := range os.Environ() {
		switch {
		case hasKeyPrefix(kv, "PATH"), hasKeyPrefix(kv, "GODEBUG"), hasKeyPrefix(kv, "NODE_PATH"), hasKeyPrefix(kv, "LANG"):
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, spec.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Proc{Target: Target{Name: spec.Name, URL: "http://127.0.0.1:" + strconv.Itoa(port), PID: cmd.Process.Pid}, cmd: cmd, dir: dir, log: lf, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	// mpmd rebuilds its session model from the store before it serves: at
	// 1M stored events on a loaded machine that has taken over 20 s.
	ready := spec.Ready
	if ready <= 0 {
		ready = 90 * time.Second
	}
	if err := waitHealthy(ctx, p, ready); err != nil {
		p.Stop()
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		return nil, fmt.Errorf("%s did not become healthy: %w\n%s", spec.Name, err, tail(log, 2000))
	}
	return p, nil
}

func hasKeyPrefix(kv, key string) bool {
	return len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '='
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Health is the part of GET /health the benchmark reads.
type Health struct {
	Status       string `json:"status"`
	Server       string `json:"server"`
	Version      string `json:"version"`
	StoredEvents int64  `json:"stored_events"`
}

// GetHealth fetches base/health.
func GetHealth(ctx context.Context, base string) (Health, error) {
	var h Health
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	if err != nil {
		return h, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return h, fmt.Errorf("GET /health: %s", resp.Status)
	}
	return h, json.NewDecoder(resp.Body).Decode(&h)
}

func waitHealthy(ctx context.Context, p *Proc, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return errors.New("the process exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		h, err := GetHealth(ctx, p.URL)
		if err == nil && h.Status != "" {
			return nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s/health in %v: %v", p.URL, d, last)
}

// Stop sends SIGTERM, waits up to 30 s, then SIGKILLs, and removes nothing
// (the directory holds the server log; the caller's temp dir goes later).
func (p *Proc) Stop() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second): // mpmd saves its session model as it stops
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.log.Close()
}

// Dir is the server's private directory (HOME, XDG dirs, database, log).
func (p *Proc) Dir() string { return p.dir }
