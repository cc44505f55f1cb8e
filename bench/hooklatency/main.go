// Command hooklatency measures what a Claude Code hook costs: the time from
// spawning mpm-hook to its exit, with mpmd up and with mpmd down, next to
// (a) the floor, a stdlib-only Go program doing one loopback POST /emit, and
// (b) the Python anchor, python-socketio connecting to /hook, emitting with
// an ack and disconnecting; also a stdlib-only Socket.IO producer (what a
// relay without the Socket.IO library would cost), a raw floor (one
// hand-made POST on a TCP socket, the least an acked hook costs) and an
// empty Go program (the cost of spawning any Go process); with -baseline, a
// second mpm-hook (e.g. main's) interleaved with the first, mpmd up and
// down. It prints a Markdown report.
//
//	go run ./bench/hooklatency -bin bin -n 500 [-baseline DIR]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mpm-dev/mpm/pkg/spool"
)

func main() {
	bin := flag.String("bin", "bin", "directory holding mpmd and mpm-hook")
	n := flag.Int("n", 500, "runs of mpm-hook and of the floor program")
	pyN := flag.Int("python-n", 50, "runs of the Python anchor (it is slow)")
	python := flag.String("python", "/usr/bin/python3", "python with python-socketio (empty: skip the anchor)")
	out := flag.String("out", "", "also write the report to this file")
	baseline := flag.String("baseline", "", "directory holding a baseline mpm-hook (e.g. main's), run interleaved with the others, mpmd up and down")
	flag.Parse()
	if err := run(*bin, *baseline, *n, *pyN, *python, *out); err != nil {
		fmt.Fprintln(os.Stderr, "hooklatency:", err)
		os.Exit(1)
	}
}

// payload is a realistic PreToolUse hook input.
var payload = []byte(`{"session_id":"bench-0001","transcript_path":"/home/user/.claude/projects/-home-user-app/bench-0001.jsonl","cwd":"/home/user/app","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"npm test","description":"Run the test suite"},"tool_use_id":"toolu_01ABC123DEF456"}`)

type series struct {
	name  string
	d     []time.Duration
	fails []string
}

// run spawns prog once and records the time; a failed run is counted
// and reported, not fatal, unless more than one in twenty fail.
func (s *series) run(env []string, input, prog string, args ...string) error {
	d, err := spawn(env, input, prog, args...)
	if err != nil {
		s.fails = append(s.fails, err.Error())
		if len(s.fails) > 5 && len(s.fails)*20 > len(s.d)+len(s.fails) {
			return fmt.Errorf("%s fails too often: %s", s.name, strings.Join(s.fails, "; "))
		}
		return nil
	}
	s.add(d)
	return nil
}

func (s *series) add(d time.Duration) { s.d = append(s.d, d) }

func (s *series) pct(p float64) time.Duration {
	if len(s.d) == 0 {
		return 0
	}
	d := append([]time.Duration(nil), s.d...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d))*p/100+0.999999) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func (s *series) mean() time.Duration {
	var t time.Duration
	for _, d := range s.d {
		t += d
	}
	return t / time.Duration(max(len(s.d), 1))
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }

func run(binDir, baseDir string, n, pyN int, python, outFile string) error {
	binDir, _ = filepath.Abs(binDir)
	hook, mpmd := filepath.Join(binDir, "mpm-hook"), filepath.Join(binDir, "mpmd")
	need := []string{hook, mpmd}
	baseHook := ""
	if baseDir != "" {
		baseDir, _ = filepath.Abs(baseDir)
		baseHook = filepath.Join(baseDir, "mpm-hook")
		need = append(need, baseHook)
	}
	for _, b := range need {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s is missing: run `make build` first", b)
		}
	}
	root, err := os.MkdirTemp("", "hooklatency-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	env := isolatedEnv(root)
	floor, floorSIO, nop, rawFloor := filepath.Join(root, "floor"), filepath.Join(root, "floorsio"), filepath.Join(root, "nop"), filepath.Join(root, "rawfloor")
	for prog, pkg := range map[string]string{floor: "./bench/hooklatency/floor", floorSIO: "./bench/hooklatency/floorsio", nop: "./bench/hooklatency/nop", rawFloor: "./bench/hooklatency/rawfloor"} {
		if out, err := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", prog, pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
	}
	input := filepath.Join(root, "input.json")
	if err := os.WriteFile(input, payload, 0o600); err != nil {
		return err
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	env = append(env, "SOCKETIO_PORT="+strconv.Itoa(port))
	daemon, err := startMpmd(mpmd, port, env, root)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			stopMpmd(daemon)
		}
	}()

	hookUp := &series{name: "mpm-hook, mpmd up"}
	floorS := &series{name: "floor: stdlib Go, one POST /emit"}
	rawS := &series{name: "raw floor: one hand-made POST /emit on a TCP socket, ack"}
	pyS := &series{name: "Python anchor: python-socketio, /hook, ack"}
	hookDown := &series{name: "mpm-hook, mpmd down (spools)"}
	nopS := &series{name: "nop: an empty Go program (spawn cost)"}
	sioS := &series{name: "stdlib-only Socket.IO producer: /hook, ack"}
	baseUp := &series{name: "baseline mpm-hook, mpmd up"}
	baseDown := &series{name: "baseline mpm-hook, mpmd down (spools)"}
	loadBefore := loadavg()

	// Warm the page cache and mpmd.
	for range 20 {
		if _, err := spawn(env, input, hook); err != nil {
			return err
		}
		if _, err := spawn(env, input, floor, url); err != nil {
			return err
		}
	}
	type prog struct {
		s    *series
		prog string
		args []string
	}
	progs := []prog{{hookUp, hook, nil}, {floorS, floor, []string{url}}, {sioS, floorSIO, []string{url}}, {nopS, nop, nil}, {rawS, rawFloor, []string{url}}}
	if baseHook != "" {
		for range 20 {
			if _, err := spawn(env, input, baseHook); err != nil {
				return err
			}
		}
		progs = append(progs, prog{baseUp, baseHook, nil})
	}
	// Interleaved, so a burst of load from elsewhere hits all alike.
	for range n {
		for _, r := range progs {
			if err := r.s.run(env, input, r.prog, r.args...); err != nil {
				return err
			}
		}
	}
	pyErr := ""
	if python != "" {
		anchor, _ := filepath.Abs("bench/hooklatency/anchor.py")
		for i := range pyN + 2 {
			d, err := spawn(env, input, python, anchor, url)
			if err != nil {
				pyErr = err.Error()
				break
			}
			if i >= 2 { // two warm-up runs
				pyS.add(d)
			}
		}
	}
	spooledBefore := countSpool(root)
	stopMpmd(daemon)
	stopped = true
	downNop := &series{name: "nop, interleaved with the mpmd-down runs"}
	for range n {
		if err := hookDown.run(env, input, hook); err != nil {
			return err
		}
		if baseHook != "" {
			if err := baseDown.run(env, input, baseHook); err != nil {
				return err
			}
		}
		if err := downNop.run(env, input, nop); err != nil {
			return err
		}
	}
	spooled := countSpool(root) - spooledBefore
	downRuns := n
	if baseHook != "" {
		downRuns = 2 * n
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Spawn-to-exit latency, %d runs each (Python anchor: %d), a PreToolUse input of %d bytes on stdin.\n\n", n, len(pyS.d), len(payload))
	fmt.Fprintf(&b, "| program | p50 ms | p90 ms | p99 ms | mean ms | failed runs |\n|---|---:|---:|---:|---:|---:|\n")
	for _, s := range []*series{hookUp, baseUp, floorS, rawS, sioS, pyS, hookDown, baseDown, nopS, downNop} {
		if len(s.d) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d |\n", s.name, ms(s.pct(50)), ms(s.pct(90)), ms(s.pct(99)), ms(s.mean()), len(s.fails))
	}
	b.WriteString("\n")
	rn50 := float64(hookUp.pct(50)) / float64(nopS.pct(50))
	rn99 := float64(hookUp.pct(99)) / float64(nopS.pct(99))
	fmt.Fprintf(&b, "* mpm-hook (mpmd up) p50 / empty Go program p50 = %.2f× (issue 13 target ≤ 1.5×): %s; p99 / p99 = %.2f× (target ≤ 2×): %s\n", rn50, verdict(rn50 <= 1.5), rn99, verdict(rn99 <= 2))
	fmt.Fprintf(&b, "* raw floor p50 / empty Go program p50 = %.2f×, p99 / p99 = %.2f× (the least an acked hook costs here); mpm-hook p50 / raw floor p50 = %.2f×\n",
		float64(rawS.pct(50))/float64(nopS.pct(50)), float64(rawS.pct(99))/float64(nopS.pct(99)), float64(hookUp.pct(50))/float64(rawS.pct(50)))
	if baseHook != "" {
		fmt.Fprintf(&b, "* baseline mpm-hook (%s) p50 / empty Go program p50 = %.2f×, p99 / p99 = %.2f×; this mpm-hook p50 / baseline p50 = %.2f× (mpmd up), %.2f× (mpmd down)\n",
			baseDir, float64(baseUp.pct(50))/float64(nopS.pct(50)), float64(baseUp.pct(99))/float64(nopS.pct(99)),
			float64(hookUp.pct(50))/float64(baseUp.pct(50)), float64(hookDown.pct(50))/float64(baseDown.pct(50)))
	}
	r1 := float64(hookUp.pct(50)) / float64(floorS.pct(50))
	fmt.Fprintf(&b, "* mpm-hook p50 / floor p50 = %.2f× (target ≤ 2×): %s\n", r1, verdict(r1 <= 2))
	if len(pyS.d) > 0 {
		r2 := float64(pyS.pct(50)) / float64(hookUp.pct(50))
		fmt.Fprintf(&b, "* Python anchor p50 / mpm-hook p50 = %.1f× (target ≥ 30×): %s\n", r2, verdict(r2 >= 30))
	} else if pyErr != "" {
		fmt.Fprintf(&b, "* Python anchor did not run: %s\n", pyErr)
	}
	upRuns := n + 20
	if baseHook != "" {
		upRuns *= 2
	}
	fmt.Fprintf(&b, "* mpm-hook with mpmd up: %d of %d runs spooled their event instead of getting the ack in time (the next hook delivers it)\n", spooledBefore, upRuns)
	fmt.Fprintf(&b, "* mpm-hook with mpmd down p99 = %s ms (target ≤ 10 ms): %s; %d of %d events spooled\n",
		ms(hookDown.pct(99)), verdict(hookDown.pct(99) <= 10*time.Millisecond), spooled, downRuns)
	for _, s := range []*series{hookUp, baseUp, floorS, rawS, sioS, hookDown, baseDown, nopS, downNop} {
		for _, f := range s.fails {
			fmt.Fprintf(&b, "* failed run of %s: %s\n", s.name, f)
		}
	}
	fmt.Fprintf(&b, "* %s/%s, %d CPUs, %s; load average before %s, after %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), loadBefore, loadavg())
	fmt.Print(b.String())
	if outFile != "" {
		return os.WriteFile(outFile, []byte(b.String()), 0o644)
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func spawn(env []string, input string, prog string, args ...string) (time.Duration, error) {
	f, err := os.Open(input)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	cmd.Stdin = f
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s: %v: %s", filepath.Base(prog), err, strings.TrimSpace(errb.String()))
	}
	return d, nil
}

func isolatedEnv(root string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "XDG_") || k == "HOME" || k == "SOCKETIO_PORT" || strings.HasPrefix(k, "CLAUDE_MPM_") {
			continue
		}
		env = append(env, kv)
	}
	for _, d := range []string{"home", "state", "config", "run"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	return append(env,
		"HOME="+filepath.Join(root, "home"),
		"XDG_STATE_HOME="+filepath.Join(root, "state"),
		"XDG_CONFIG_HOME="+filepath.Join(root, "config"),
		"XDG_RUNTIME_DIR="+filepath.Join(root, "run"))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startMpmd(bin string, port int, env []string, root string) (*exec.Cmd, error) {
	logf, err := os.Create(filepath.Join(root, "mpmd.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--port", strconv.Itoa(port))
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/health")
		if err == nil {
			var h struct{ Server string }
			json.NewDecoder(resp.Body).Decode(&h)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if h.Server == "claude-mpm-socketio" {
				return cmd, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopMpmd(cmd)
	b, _ := os.ReadFile(filepath.Join(root, "mpmd.log"))
	return nil, errors.New("mpmd did not become healthy:\n" + string(b))
}

func stopMpmd(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func countSpool(root string) int {
	s, err := spool.Open(filepath.Join(root, "state", "mpm", "spool"))
	if err != nil {
		return 0
	}
	n, _ := s.Len()
	return n
}

// loadavg is the 1-minute load average, which says how much the numbers
// were disturbed by other work on the machine.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}
