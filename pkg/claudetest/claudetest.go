// Package claudetest runs the real Claude Code CLI in tests, against a
// scripted stand-in for the Anthropic Messages API.
//
// A test declares a Scenario (a function of the conversation so far, or a
// Rules table) that decides each answer — thinking, text and tool calls,
// with the usage to report — and starts a Server with it. New gives a
// temporary HOME and project dir, and Claude.Run runs `claude -p PROMPT
// --dangerously-skip-permissions` there with ANTHROPIC_BASE_URL pointed at
// the server, returning the CLI's output, the session id and its transcript.
// The server records every call, so a test can assert on what the CLI sent
// and compute the tokens it should have counted (Server.Usage).
//
// The CLI is the pinned npm package under test/claudecode (`make
// deps-claude` installs it), or $MPM_CLAUDE_BIN. When it is missing the test
// fails, saying so, unless MPM_SKIP_CLAUDE=1 asks to skip.
package claudetest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// PackageDir is where the pinned CLI is installed, relative to the module
// root.
const PackageDir = "test/claudecode"

var (
	binOnce    sync.Once
	binPath    string
	binVersion string
	binErr     error
)

// Bin is the path of the Claude Code CLI under test. It fails the test when
// the CLI is not installed (or does not run), and skips it only when
// MPM_SKIP_CLAUDE=1.
func Bin(tb testing.TB) string {
	tb.Helper()
	if os.Getenv("MPM_SKIP_CLAUDE") == "1" {
		tb.Skip("MPM_SKIP_CLAUDE=1: not running the Claude Code CLI")
	}
	root := mpmdtest.RepoRoot(tb)
	binOnce.Do(func() { binPath, binVersion, binErr = findBin(root) })
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// Version is what the CLI under test answers to --version, e.g.
// "2.1.332 (Claude Code)".
func Version(tb testing.TB) string {
	tb.Helper()
	Bin(tb)
	return binVersion
}

// platformPackages are the npm packages holding the native binary for this
// machine, best first.
func platformPackages() []string {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		return nil
	}
	p := "claude-code-" + runtime.GOOS + "-" + arch
	if runtime.GOOS == "linux" {
		return []string{p, p + "-musl"}
	}
	return []string{p}
}

// findBin locates the CLI and checks that it runs (and, when it is the
// pinned install, that it is the pinned version).
func findBin(root string) (path, version string, err error) {
	pkgDir := filepath.Join(root, PackageDir)
	advice := fmt.Sprintf("run `make deps-claude` (npm ci in %s), or set MPM_CLAUDE_BIN to a claude binary; MPM_SKIP_CLAUDE=1 skips these tests", PackageDir)
	pinned := ""
	if env := os.Getenv("MPM_CLAUDE_BIN"); env != "" {
		path = env
	} else {
		var tried []string
		for _, p := range platformPackages() {
			tried = append(tried, filepath.Join(pkgDir, "node_modules", "@anthropic-ai", p, "claude"))
		}
		tried = append(tried, filepath.Join(pkgDir, "node_modules", ".bin", "claude"))
		for _, p := range tried {
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				path = p
				break
			}
		}
		if path == "" {
			return "", "", fmt.Errorf("claudetest: the Claude Code CLI is not installed (looked for %s): %s", strings.Join(tried, ", "), advice)
		}
		if pinned, err = pinnedVersion(pkgDir); err != nil {
			return "", "", err
		}
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", "", fmt.Errorf("claudetest: %s --version failed (%v): %s", path, err, advice)
	}
	version = strings.TrimSpace(string(out))
	if pinned != "" && !strings.HasPrefix(version, pinned+" ") && version != pinned {
		return "", "", fmt.Errorf("claudetest: %s is Claude Code %q, but %s/package.json pins %s: %s", path, version, PackageDir, pinned, advice)
	}
	return path, version, nil
}

// pinnedVersion is the @anthropic-ai/claude-code version package.json pins.
func pinnedVersion(pkgDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if err != nil {
		return "", fmt.Errorf("claudetest: %w", err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", fmt.Errorf("claudetest: %s/package.json: %w", PackageDir, err)
	}
	v := pkg.Dependencies["@anthropic-ai/claude-code"]
	if v == "" {
		return "", fmt.Errorf("claudetest: %s/package.json does not depend on @anthropic-ai/claude-code", PackageDir)
	}
	return v, nil
}
