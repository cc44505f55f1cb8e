// Package interop_test runs mpmd against the Socket.IO clients people use
// besides Go's: the official Node socket.io-client (node_client.test.mjs,
// run by `node --test`) and Python's python-socketio (test_python_client.py,
// run by Debian's /usr/bin/python3). Each suite runs as a subprocess against a
// real bin/mpmd started by mpmdtest, once without and once with a token; the
// daemon's address and token reach it through MPM_URL and MPM_TOKEN.
//
// The clients are installed by `make test-deps`. Missing clients fail the
// test; MPM_SKIP_INTEROP=1 skips it on purpose.
package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// systemPython is the interpreter Debian's python3-socketio is installed for;
// a pyenv or venv python3 earlier on PATH would not have it.
const systemPython = "/usr/bin/python3"

// suiteTimeout bounds one client suite; the whole interop run stays well
// under it unless something hangs.
const suiteTimeout = 90 * time.Second

const interopToken = "s3cret-interop-token"

func TestInterop(t *testing.T) {
	if os.Getenv("MPM_SKIP_INTEROP") == "1" {
		t.Skip("MPM_SKIP_INTEROP=1: interop suites skipped on request")
	}
	node := requireNode(t)
	requirePython(t)

	modes := []struct {
		name  string
		token string
	}{
		{"without_token", ""},
		{"with_token", interopToken},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Run("node_socket.io-client", func(t *testing.T) {
				d := start(t, mode.token)
				// --test-force-exit: a socket the client library keeps reconnecting
				// must not hold the process open after the last test.
				out := runSuite(t, d, mode.token, node, "--test", "--test-force-exit", "--test-reporter=spec", "node_client.test.mjs")
				requireRan(t, out, regexp.MustCompile(`(?m)^ℹ pass (\d+)$`), regexp.MustCompile(`(?m)^ℹ fail 0$`))
				d.Stop(t) // after a suite's clients, SIGTERM still exits 0 within 5 s
			})
			t.Run("python-socketio", func(t *testing.T) {
				d := start(t, mode.token)
				out := runSuite(t, d, mode.token, systemPython, "-m", "unittest", "-v", "test_python_client")
				requireRan(t, out, regexp.MustCompile(`(?m)^Ran (\d+) tests? in `), regexp.MustCompile(`(?m)^OK( \(skipped=\d+\))?$`))
				d.Stop(t)
			})
		})
	}
}

func start(t *testing.T, token string) *mpmdtest.Daemon {
	t.Helper()
	// A short heartbeat so the suites can see one without waiting 30 s.
	opts := []mpmdtest.Option{mpmdtest.WithArgs("--heartbeat=1s")}
	if token != "" {
		opts = append(opts, mpmdtest.WithToken(token))
	}
	return mpmdtest.Start(t, opts...)
}

// runSuite runs one client suite against d and fails the test with the
// suite's output if it does not pass.
func runSuite(t *testing.T, d *mpmdtest.Daemon, token, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "." // go test runs in this package's directory: the suites sit beside this file
	cmd.Env = append(os.Environ(),
		"MPM_URL="+d.URL,
		"MPM_TOKEN="+token,
		"NO_COLOR=1",
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	started := time.Now()
	err := cmd.Run()
	elapsed := time.Since(started).Round(time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %s against %s; output:\n%s", name, strings.Join(args, " "), suiteTimeout, d.URL, out.String())
	}
	if err != nil {
		t.Fatalf("%s %s failed against %s (%v, after %s); output:\n%s", name, strings.Join(args, " "), d.URL, err, elapsed, out.String())
	}
	t.Logf("%s %s passed against %s in %s", name, strings.Join(args, " "), d.URL, elapsed)
	if testing.Verbose() {
		t.Log(out.String())
	}
	return out.String()
}

// requireRan fails unless the runner's summary says tests ran and none failed:
// a suite that ran nothing must not count as a pass.
func requireRan(t *testing.T, out string, count, ok *regexp.Regexp) {
	t.Helper()
	m := count.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no test count (%s) in the suite's output:\n%s", count, out)
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Fatalf("the suite ran no test:\n%s", out)
	}
	if !ok.MatchString(out) {
		t.Fatalf("no success line (%s) in the suite's output:\n%s", ok, out)
	}
}

func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: run `make test-deps` (it installs nodejs and npm when missing, then npm ci in test/interop), or set MPM_SKIP_INTEROP=1 to skip the interop suites")
	}
	b, err := os.ReadFile(filepath.Join("node_modules", "socket.io-client", "package.json"))
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("test/interop/node_modules/socket.io-client is missing: run `make test-deps` (npm ci in test/interop), or set MPM_SKIP_INTEROP=1 to skip the interop suites")
	}
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("test/interop/node_modules/socket.io-client/package.json: %v", err)
	}
	if !strings.HasPrefix(pkg.Version, "4.8.") {
		t.Fatalf("test/interop has socket.io-client %s, the lock file wants 4.8.x: run `make test-deps`", pkg.Version)
	}
	return node
}

func requirePython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(systemPython, "-c", "import socketio, websocket, requests").CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import socketio, websocket and requests (%v: %s): run `make test-deps` (it installs python3-socketio, python3-websocket and python3-requests), or set MPM_SKIP_INTEROP=1 to skip the interop suites",
			systemPython, err, strings.TrimSpace(string(out)))
	}
}
