package cluster_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// sioLine is one line admin_client.cjs printed.
type sioLine struct {
	Connected    string `json:"connected"`
	Disconnected string `json:"disconnected"`
	ConnectError string `json:"connect_error"`
	Ev           string `json:"ev"`
	Args         []any  `json:"args"`
}

// sioClient is the official Node socket.io-client on one namespace of one
// node (admin_client.cjs).
type sioClient struct {
	t     *testing.T
	name  string
	stdin io.WriteCloser
	mu    sync.Mutex
	lines []sioLine
	raw   []string
}

func startSIOClient(t *testing.T, d *mpmdtest.Daemon, ns, name string) *sioClient {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed (make deps-node-interop)")
	}
	pkg := filepath.Join(mpmdtest.RepoRoot(t), "test", "interop", "node_modules", "socket.io-client")
	if _, err := os.Stat(pkg); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("test/interop/node_modules/socket.io-client is missing (make deps-node-interop)")
		}
		t.Skip("test/interop/node_modules/socket.io-client is missing (make deps-node-interop)")
	}
	cmd := exec.Command(node, "admin_client.cjs", d.URL, ns)
	cmd.Env = append(os.Environ(), "SIO_CLIENT="+pkg)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &mpmdtest.SyncBuffer{}
	cmd.Stderr = stderr
	c := &sioClient{t: t, name: name}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var l sioLine
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			c.mu.Lock()
			c.lines = append(c.lines, l)
			c.raw = append(c.raw, sc.Text())
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
		if t.Failed() {
			c.mu.Lock()
			t.Logf("%s: stderr %s\nlast lines:\n%s", name, stderr.String(), strings.Join(c.raw[max(0, len(c.raw)-30):], "\n"))
			c.mu.Unlock()
		}
	})
	return c
}

// find waits until a line matches, returning it.
func (c *sioClient) find(what string, timeout time.Duration, match func(sioLine) bool) sioLine {
	c.t.Helper()
	var got sioLine
	eventually(c.t, timeout, c.name+": "+what, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, l := range c.lines {
			if match(l) {
				got = l
				return true
			}
		}
		return false
	})
	return got
}

func (c *sioClient) count(match func(sioLine) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if match(l) {
			n++
		}
	}
	return n
}

func (c *sioClient) id() string {
	c.t.Helper()
	return c.find("connect", 10*time.Second, func(l sioLine) bool { return l.Connected != "" }).Connected
}

func (c *sioClient) send(args ...any) {
	c.t.Helper()
	b, _ := json.Marshal(args)
	if _, err := fmt.Fprintf(c.stdin, "%s\n", b); err != nil {
		c.t.Fatal(err)
	}
}

func isEv(name string) func(sioLine) bool { return func(l sioLine) bool { return l.Ev == name } }

func argStr(l sioLine, i int) string {
	if i < len(l.Args) {
		s, _ := l.Args[i].(string)
		return s
	}
	return ""
}

// The Admin UI on node A of three sees every node (each one server in its
// list), every node's sockets, a socket's connection, event and
// disconnection on node C, and its emit and _disconnect reach a socket on
// node C, and only that one — all with the official Node client on both
// sides.
func TestAdminUISeesEveryNode(t *testing.T) {
	r := startRedis(t)
	// The socket list waits up to 5 s here, not 500 ms: the machine that
	// runs the suite may be loaded (it answers as soon as all answered).
	wait := mpmdtest.WithArgs("--redis-admin-timeout", "5s")
	a, b, c := node(t, r, "A", wait), node(t, r, "B", wait), node(t, r, "C", wait)

	onB := startSIOClient(t, b, "/log", "client on B")
	bID := onB.id()

	adm := startSIOClient(t, a, "/admin", "admin on A")
	adm.id()
	all := adm.find("all_sockets", 10*time.Second, isEv("all_sockets"))
	if s := fmt.Sprint(all.Args); !strings.Contains(s, bID) {
		t.Errorf("all_sockets on A lacks B's socket %s: %s", bID, s)
	}
	// Every node's server_stats, each under its node id, with its own pid.
	pids := map[string]any{}
	for _, n := range []string{"A", "B", "C"} {
		l := adm.find("server_stats of "+n, 15*time.Second, func(l sioLine) bool {
			if l.Ev != "server_stats" || len(l.Args) == 0 {
				return false
			}
			m, _ := l.Args[0].(map[string]any)
			return m["serverId"] == n
		})
		m := l.Args[0].(map[string]any)
		pids[n] = m["pid"]
		if _, ok := m["namespaces"].([]any); !ok {
			t.Errorf("server_stats of %s without namespaces: %v", n, m)
		}
	}
	if pids["A"] == pids["B"] || pids["B"] == pids["C"] || pids["A"] == pids["C"] {
		t.Errorf("the three servers' pids: %v", pids)
	}
	// B's server_stats count B's /log socket (the UI adds the nodes' up).
	adm.find("B's stats counting its /log socket", 10*time.Second, func(l sioLine) bool {
		if l.Ev != "server_stats" || len(l.Args) == 0 {
			return false
		}
		m, _ := l.Args[0].(map[string]any)
		if m["serverId"] != "B" {
			return false
		}
		nsps, _ := m["namespaces"].([]any)
		for _, n := range nsps {
			if nm, _ := n.(map[string]any); nm["name"] == "/log" && nm["socketsCount"] == 1.0 {
				return true
			}
		}
		return false
	})

	// A socket connecting on C is announced on A.
	onC := startSIOClient(t, c, "/log", "client on C")
	cID := onC.id()
	conn := adm.find("socket_connected of C's socket", 10*time.Second, func(l sioLine) bool {
		if l.Ev != "socket_connected" || len(l.Args) == 0 {
			return false
		}
		m, _ := l.Args[0].(map[string]any)
		return m["id"] == cID
	})
	if m := conn.Args[0].(map[string]any); m["nsp"] != "/log" || m["transport"] != "websocket" {
		t.Errorf("socket_connected %v", m)
	}

	// What C's socket sends is in A's live feed.
	onC.send("hello_from_c", map[string]any{"n": 1})
	adm.find("event_received of C's socket", 10*time.Second, func(l sioLine) bool {
		if l.Ev != "event_received" || argStr(l, 0) != "/log" || argStr(l, 1) != cID || len(l.Args) < 3 {
			return false
		}
		ev, _ := l.Args[2].([]any)
		return len(ev) > 0 && ev[0] == "hello_from_c"
	})

	// emit to C's socket alone, issued on A.
	adm.send("emit", "/log", cID, "admin_note", map[string]any{"text": "hi from A"})
	got := onC.find("the Admin UI's emit", 10*time.Second, isEv("admin_note"))
	if m, _ := got.Args[0].(map[string]any); m["text"] != "hi from A" {
		t.Errorf("C's socket got %v", got.Args)
	}
	// emit to the whole namespace: B's socket gets that one.
	adm.send("emit", "/log", nil, "admin_all", 1)
	onB.find("the Admin UI's namespace-wide emit", 10*time.Second, isEv("admin_all"))
	onC.find("the Admin UI's namespace-wide emit", 10*time.Second, isEv("admin_all"))
	if n := onB.count(isEv("admin_note")); n != 0 {
		t.Errorf("B's socket got the emit meant for C's %d times", n)
	}
	if n := onC.count(isEv("admin_all")); n != 1 {
		t.Errorf("C's socket got the namespace-wide emit %d times", n)
	}

	// _disconnect of C's socket, issued on A.
	adm.send("_disconnect", "/log", false, cID)
	bye := onC.find("disconnected by the Admin UI", 10*time.Second, func(l sioLine) bool { return l.Disconnected != "" })
	if bye.Disconnected != "io server disconnect" {
		t.Errorf("C's socket: disconnected %q", bye.Disconnected)
	}
	gone := adm.find("socket_disconnected of C's socket", 10*time.Second, func(l sioLine) bool {
		return l.Ev == "socket_disconnected" && argStr(l, 0) == "/log" && argStr(l, 1) == cID
	})
	_ = gone
	time.Sleep(300 * time.Millisecond)
	if n := onB.count(func(l sioLine) bool { return l.Disconnected != "" }); n != 0 {
		t.Errorf("B's socket was disconnected too")
	}
	// The events A's Admin UI saw from C are there once each.
	if n := adm.count(func(l sioLine) bool {
		if l.Ev != "socket_connected" || len(l.Args) == 0 {
			return false
		}
		m, _ := l.Args[0].(map[string]any)
		return m["id"] == cID
	}); n != 1 {
		t.Errorf("socket_connected of C's socket arrived %d times", n)
	}
}

// A readonly node's Admin UI acts nowhere: what it sends reaches no node's
// sockets. A non-readonly node's Admin UI acts on every node, the readonly
// one included (readonly is about that node's UI, as with the reference).
func TestAdminUIReadonlyNodeActsNowhere(t *testing.T) {
	r := startRedis(t)
	a := node(t, r, "A", mpmdtest.WithArgs("--admin-readonly"))
	b := node(t, r, "B")
	onA := startSIOClient(t, a, "/log", "client on A")
	onB := startSIOClient(t, b, "/log", "client on B")
	aID, bID := onA.id(), onB.id()

	roAdm := startSIOClient(t, a, "/admin", "admin on readonly A")
	cfg := roAdm.find("config", 10*time.Second, isEv("config"))
	if s := fmt.Sprint(cfg.Args); strings.Contains(s, "EMIT") || strings.Contains(s, "DISCONNECT") {
		t.Errorf("the readonly node offers actions: %s", s)
	}
	roAdm.find("B's server_stats", 15*time.Second, func(l sioLine) bool {
		m, _ := firstMap(l)
		return l.Ev == "server_stats" && m["serverId"] == "B"
	})
	roAdm.send("emit", "/log", bID, "from_readonly", 1)
	roAdm.send("emit", "/log", nil, "from_readonly", 2)
	roAdm.send("_disconnect", "/log", false, bID)

	adm := startSIOClient(t, b, "/admin", "admin on B")
	adm.find("A's server_stats", 15*time.Second, func(l sioLine) bool {
		m, _ := firstMap(l)
		return l.Ev == "server_stats" && m["serverId"] == "A"
	})
	adm.send("emit", "/log", aID, "from_b", 3)
	onA.find("B's Admin UI emit", 10*time.Second, isEv("from_b"))
	time.Sleep(500 * time.Millisecond)
	for _, c := range []*sioClient{onA, onB} {
		if n := c.count(isEv("from_readonly")); n != 0 {
			t.Errorf("%s got %d emits of the readonly node's Admin UI", c.name, n)
		}
		if n := c.count(func(l sioLine) bool { return l.Disconnected != "" }); n != 0 {
			t.Errorf("%s was disconnected by the readonly node's Admin UI", c.name)
		}
	}
}

func firstMap(l sioLine) (map[string]any, bool) {
	if len(l.Args) == 0 {
		return nil, false
	}
	m, ok := l.Args[0].(map[string]any)
	return m, ok
}
