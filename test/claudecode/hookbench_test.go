package claudecode_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/claudetest"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// TestBenchHookClaude measures a hook the way Claude Code users feel it: the
// real CLI, with mpm-hook registered (by `mpm-hook install --events all`) for
// every hook event, reporting to the real mpmd, against the same CLI with an
// empty Go program registered the same way, run after run in turn. Each
// `claude -p` ends its turn with the Stop hooks, whose time Claude Code
// records in the transcript (`system` / `stop_hook_summary`,
// hookInfos[].durationMs): that is the number compared. With
// MPM_BENCH_HOOK_CLAUDE_BASELINE=DIR, DIR/mpm-hook (e.g. main's) is a third
// configuration. It only runs with MPM_BENCH_HOOK_CLAUDE=1 (`make
// bench-hook-claude`); MPM_BENCH_HOOK_CLAUDE_RUNS (default 12) is the number
// of runs per configuration, MPM_BENCH_OUT a file for the report;
// CLAUDE_MPM_HOOK_DEBUG=1 passes on to the hooks and prints mpm-hook's debug
// log (its own account of each run's time) at the end.
func TestBenchHookClaude(t *testing.T) {
	if os.Getenv("MPM_BENCH_HOOK_CLAUDE") != "1" {
		t.Skip("a benchmark: MPM_BENCH_HOOK_CLAUDE=1 (make bench-hook-claude) runs it")
	}
	runs := 12
	if v := os.Getenv("MPM_BENCH_HOOK_CLAUDE_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MPM_BENCH_HOOK_CLAUDE_RUNS=%q is not a positive number", v)
		}
		runs = n
	}
	claudetest.Bin(t)
	root := t.TempDir()
	srv := claudetest.NewServer(t, func(*claudetest.Request) claudetest.Reply { return claudetest.TextReply("Done.") })
	daemon := mpmdtest.Start(t, mpmdtest.WithRoot(root))
	claude := claudetest.New(t, srv, claudetest.WithRoot(root), claudetest.WithEnv("SOCKETIO_PORT="+strconv.Itoa(daemon.Port), "CLAUDE_MPM_HOOK_DEBUG="+os.Getenv("CLAUDE_MPM_HOOK_DEBUG")))

	nop := filepath.Join(root, "bin", "nop")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", nop, "./bench/hooklatency/nop")
	build.Dir = mpmdtest.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the empty Go program: %v\n%s", err, out)
	}
	hook := mpmdtest.HookBin(t)
	install := exec.Command(hook, "install", "--events", "all", "--command", hook)
	install.Env = mpmdtest.Env(root)
	install.Dir = claude.Project
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mpm-hook install: %v\n%s", err, out)
	}
	hookSettings, err := os.ReadFile(claude.SettingsPath())
	if err != nil {
		t.Fatal(err)
	}
	events := settingsEvents(t, hookSettings)
	quoted := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	withCommand := func(cmd string) []byte {
		return []byte(strings.ReplaceAll(string(hookSettings), quoted(hook), quoted(cmd)))
	}
	type config struct {
		name, command string
		settings      []byte
		ms            []float64
	}
	configs := []*config{
		{name: "mpm-hook", command: hook, settings: hookSettings},
		{name: "empty Go program", command: nop, settings: withCommand(nop)},
	}
	if dir := os.Getenv("MPM_BENCH_HOOK_CLAUDE_BASELINE"); dir != "" {
		base, _ := filepath.Abs(filepath.Join(dir, "mpm-hook"))
		if _, err := os.Stat(base); err != nil {
			t.Fatalf("MPM_BENCH_HOOK_CLAUDE_BASELINE: %v", err)
		}
		configs = append(configs, &config{name: "baseline mpm-hook (" + dir + ")", command: base, settings: withCommand(base)})
	}
	load := func() string {
		b, _ := os.ReadFile("/proc/loadavg")
		return strings.Join(strings.Fields(string(b))[:min(3, len(strings.Fields(string(b))))], " ")
	}
	loadBefore := load()
	start := time.Now()
	for i := range runs {
		for _, c := range configs {
			if err := os.WriteFile(claude.SettingsPath(), c.settings, 0o600); err != nil {
				t.Fatal(err)
			}
			r := claude.Run(t, "Say done. ("+strconv.Itoa(i)+")")
			if r.ExitCode != 0 || r.TranscriptPath == "" {
				t.Fatalf("claude -p with %s: exit %d\nstdout:\n%s\nstderr:\n%s", c.name, r.ExitCode, r.Stdout, r.Stderr)
			}
			n := 0
			for _, e := range claudetest.ReadTranscript(t, r.TranscriptPath) {
				if e.Type() != "system" || e["subtype"] != "stop_hook_summary" {
					continue
				}
				infos, _ := e["hookInfos"].([]any)
				for _, x := range infos {
					info, _ := x.(map[string]any)
					if info["command"] != c.command {
						t.Fatalf("a Stop hook ran %v, not %s: the settings were not the ones written", info["command"], c.command)
					}
					d, ok := info["durationMs"].(float64)
					if !ok {
						t.Fatalf("hookInfos entry without durationMs: %v", info)
					}
					c.ms = append(c.ms, d)
					n++
				}
			}
			if n == 0 {
				t.Fatalf("the transcript of the run with %s has no stop_hook_summary with hookInfos", c.name)
			}
		}
	}
	took := time.Since(start)
	if os.Getenv("CLAUDE_MPM_HOOK_DEBUG") != "" {
		b, _ := os.ReadFile(filepath.Join(root, "state", "mpm", "logs", "mpm-hook.log"))
		t.Logf("debug log:\n%s", b)
	}
	if got := daemon.Health(t)["stored_events"]; got == nil {
		t.Fatalf("mpmd's health has no stored_events")
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Claude Code's own Stop-hook timing (transcript `stop_hook_summary`, hookInfos[].durationMs), %s, %d `claude -p` runs per configuration in turn, each configuration registered for %d hook events by `mpm-hook install --events all` (the empty program in mpm-hook's place), mpmd up.\n\n", claudetest.Version(t), runs, len(events))
	fmt.Fprintf(&b, "| hook | runs | p50 ms | p90 ms | max ms | mean ms |\n|---|---:|---:|---:|---:|---:|\n")
	for _, c := range configs {
		s := append([]float64(nil), c.ms...)
		sort.Float64s(s)
		pct := func(p float64) float64 { return s[min(len(s)-1, max(0, int(float64(len(s))*p/100+0.999999)-1))] }
		sum := 0.0
		for _, v := range s {
			sum += v
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.0f | %.0f | %.1f |\n", c.name, len(s), pct(50), pct(90), s[len(s)-1], sum/float64(len(s)))
	}
	fmt.Fprintf(&b, "\n%s/%s, %d CPUs, %s; load average before %s, after %s; %s in all.\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), loadBefore, load(), took.Round(time.Second))
	t.Log("\n" + b.String())
	if out := os.Getenv("MPM_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// settingsEvents lists the hook events a settings file registers.
func settingsEvents(t *testing.T, b []byte) []string {
	t.Helper()
	var s struct {
		Hooks map[string]json.RawMessage `json:"hooks"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var out []string
	for ev := range s.Hooks {
		out = append(out, ev)
	}
	sort.Strings(out)
	if len(out) < 10 {
		t.Fatalf("mpm-hook install --events all registered only %v", out)
	}
	return out
}
