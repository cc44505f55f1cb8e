package claudetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// DefaultTimeout bounds one run of the CLI.
const DefaultTimeout = 60 * time.Second

// Claude runs the CLI in a temporary home against a Server. The directory
// layout is mpmdtest's, so a Claude and an mpmdtest.Daemon given the same
// root share HOME and the XDG dirs (the hooks Claude Code runs then find
// that daemon): Root/home is HOME, Root/state, config, data and run are the
// XDG dirs, Root/tmp is TMPDIR, Root/project the project the CLI runs in.
type Claude struct {
	Bin     string
	Root    string
	Home    string
	Project string
	Server  *Server
	Env     []string      // extra KEY=VALUE pairs for every run
	Timeout time.Duration // per run
}

// Option changes New's defaults.
type Option func(*Claude)

// WithRoot uses dir as the root of HOME, the XDG dirs and the project
// (default: a new t.TempDir()).
func WithRoot(dir string) Option { return func(c *Claude) { c.Root = dir } }

// WithEnv adds KEY=VALUE pairs to every run's environment.
func WithEnv(kv ...string) Option { return func(c *Claude) { c.Env = append(c.Env, kv...) } }

// WithTimeout bounds each run (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(c *Claude) { c.Timeout = d } }

// New prepares a home for the CLI answering to srv. It fails the test when
// the CLI is not installed (see Bin).
func New(tb testing.TB, srv *Server, opts ...Option) *Claude {
	tb.Helper()
	c := &Claude{Bin: Bin(tb), Server: srv, Timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	if c.Root == "" {
		c.Root = tb.TempDir()
	}
	c.Home = filepath.Join(c.Root, "home")
	c.Project = filepath.Join(c.Root, "project")
	for _, d := range []string{"home", "state", "config", "data", "run", "tmp", "project"} {
		if err := os.MkdirAll(filepath.Join(c.Root, d), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// ProjectsDir is where Claude Code keeps its transcripts: $HOME/.claude/projects.
func (c *Claude) ProjectsDir() string { return filepath.Join(c.Home, ".claude", "projects") }

// SettingsPath is the user settings file: $HOME/.claude/settings.json.
func (c *Claude) SettingsPath() string { return filepath.Join(c.Home, ".claude", "settings.json") }

// env is the environment of a run: mpmdtest's (HOME and XDG dirs under
// Root), without anything that would point the CLI elsewhere (the caller's
// own Claude Code settings, API keys, proxies), plus the stand-in's address.
func (c *Claude) env() []string {
	var env []string
	for _, kv := range mpmdtest.Env(c.Root) {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "ANTHROPIC_"), strings.HasPrefix(k, "CLAUDE_"), k == "CLAUDECODE",
			strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "GOOGLE_"), strings.HasPrefix(k, "VERTEX_"),
			strings.HasSuffix(strings.ToLower(k), "_proxy"), k == "TMPDIR", k == "TERM", k == "NO_COLOR":
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"ANTHROPIC_BASE_URL="+c.Server.URL,
		"ANTHROPIC_API_KEY=sk-ant-claudetest-not-a-key",
		"IS_SANDBOX=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_AUTOUPDATER=1",
		"TMPDIR="+filepath.Join(c.Root, "tmp"),
		"TERM=dumb",
		"NO_COLOR=1",
	)
	return append(env, c.Env...)
}

// Result is one finished run of the CLI.
type Result struct {
	Args           []string
	Stdout, Stderr string
	ExitCode       int
	Took           time.Duration
	SessionID      string
	TranscriptPath string // $HOME/.claude/projects/<project>/<session>.jsonl
}

// Run runs `claude -p prompt --dangerously-skip-permissions args…` in the
// project dir and waits for it (at most Timeout; then it is killed and the
// test fails). The session is the transcript the run created or appended to.
func (c *Claude) Run(tb testing.TB, prompt string, args ...string) *Result {
	tb.Helper()
	before := transcriptSizes(c.ProjectsDir())
	r := &Result{Args: append([]string{"-p", prompt, "--dangerously-skip-permissions"}, args...)}
	cmd := exec.Command(c.Bin, r.Args...)
	cmd.Dir = c.Project
	cmd.Env = c.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, so the tools and hooks it starts go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("claudetest: start %s: %v", c.Bin, err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	timedOut := false
	select {
	case err = <-done:
	case <-time.After(c.Timeout):
		timedOut = true
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		err = <-done
	}
	r.Took = time.Since(start)
	reapGroup(tb, pgid)
	r.Stdout, r.Stderr = stdout.String(), stderr.String()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.ExitCode = ee.ExitCode()
	case err != nil:
		tb.Fatalf("claudetest: run %s: %v", c.Bin, err)
	}
	if timedOut {
		tb.Fatalf("claudetest: claude %q did not finish within %s\nstdout:\n%s\nstderr:\n%s", prompt, c.Timeout, r.Stdout, r.Stderr)
	}
	r.TranscriptPath = changedTranscript(before, transcriptSizes(c.ProjectsDir()))
	if r.TranscriptPath != "" {
		r.SessionID = strings.TrimSuffix(filepath.Base(r.TranscriptPath), ".jsonl")
	}
	return r
}

// reapGroup waits (up to 5 s) for what the CLI left running in its process
// group (a hook still delivering) and kills what is left after that.
func reapGroup(tb testing.TB, pgid int) {
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			tb.Logf("claudetest: killing what claude left running in process group %d", pgid)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// transcriptSizes maps every main transcript under dir to its size.
func transcriptSizes(dir string) map[string]int64 {
	out := map[string]int64{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*.jsonl"))
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			out[p] = fi.Size()
		}
	}
	return out
}

// changedTranscript is the transcript that is new or grew ("" if none; the
// newest if several).
func changedTranscript(before, after map[string]int64) string {
	best, bestTime := "", time.Time{}
	for p, n := range after {
		if old, ok := before[p]; ok && old == n {
			continue
		}
		if fi, err := os.Stat(p); err == nil && (best == "" || fi.ModTime().After(bestTime)) {
			best, bestTime = p, fi.ModTime()
		}
	}
	return best
}

// SubagentTranscripts are the subagents' transcripts of the run's session
// (<session>/subagents/agent-<id>.jsonl), sorted.
func (r *Result) SubagentTranscripts() []string {
	if r.TranscriptPath == "" {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(strings.TrimSuffix(r.TranscriptPath, ".jsonl"), "subagents", "agent-*.jsonl"))
	return paths
}

// Entry is one line of a transcript, decoded loosely.
type Entry map[string]any

// Type is the entry's "type".
func (e Entry) Type() string { s, _ := e["type"].(string); return s }

// ReadTranscript reads a JSONL transcript; a line that is not JSON fails
// the test.
func ReadTranscript(tb testing.TB, path string) []Entry {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("claudetest: %v", err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			tb.Fatalf("claudetest: %s line %d: %v", path, n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("claudetest: read %s: %v", path, err)
	}
	return out
}

// CostState is Claude Code's own account of a session, the last cost-state
// entry of its main transcript: totals over every run of the session
// (a resumed session's included) and its subagents.
type CostState struct {
	TotalCostUSD        float64
	HasUnknownModelCost bool
	ModelUsage          map[string]Usage
}

// ReadCostState reads the last cost-state entry of a main transcript; ok is
// false when it has none.
func ReadCostState(tb testing.TB, path string) (cs CostState, ok bool) {
	tb.Helper()
	for _, e := range ReadTranscript(tb, path) {
		if e.Type() != "cost-state" {
			continue
		}
		b, _ := json.Marshal(e)
		var raw struct {
			TotalCostUSD        float64 `json:"totalCostUSD"`
			HasUnknownModelCost bool    `json:"hasUnknownModelCost"`
			ModelUsage          map[string]struct {
				InputTokens                         int64 `json:"inputTokens"`
				OutputTokens                        int64 `json:"outputTokens"`
				CacheReadInputTokens                int64 `json:"cacheReadInputTokens"`
				CacheCreationInputTokens            int64 `json:"cacheCreationInputTokens"`
				CacheCreationEphemeral5mInputTokens int64 `json:"cacheCreationEphemeral5mInputTokens"`
				CacheCreationEphemeral1hInputTokens int64 `json:"cacheCreationEphemeral1hInputTokens"`
			} `json:"modelUsage"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			tb.Fatalf("claudetest: cost-state in %s: %v", path, err)
		}
		cs = CostState{TotalCostUSD: raw.TotalCostUSD, HasUnknownModelCost: raw.HasUnknownModelCost, ModelUsage: map[string]Usage{}}
		for m, u := range raw.ModelUsage {
			cs.ModelUsage[m] = Usage{
				InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheReadInputTokens: u.CacheReadInputTokens,
				CacheCreation5mInputTokens: u.CacheCreationEphemeral5mInputTokens, CacheCreation1hInputTokens: u.CacheCreationEphemeral1hInputTokens,
			}
			if u.CacheCreationInputTokens != u.CacheCreationEphemeral5mInputTokens+u.CacheCreationEphemeral1hInputTokens {
				tb.Errorf("claudetest: cost-state %s: cacheCreationInputTokens %d is not the sum of the 5m and 1h writes", m, u.CacheCreationInputTokens)
			}
		}
		ok = true
	}
	return cs, ok
}
