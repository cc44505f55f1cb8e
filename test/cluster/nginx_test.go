package cluster_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// startNginx runs nginx with docs/nginx-mpmd.conf, its upstream servers
// replaced by the nodes and its listen port by a free one, and returns its
// URL.
func startNginx(t *testing.T, ds []*mpmdtest.Daemon) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("nginx is not installed (make deps-nginx)")
			}
			t.Skip("nginx is not installed (make deps-nginx)")
		}
	}
	doc, err := os.ReadFile(filepath.Join(mpmdtest.RepoRoot(t), "docs", "nginx-mpmd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(doc)
	servers := regexp.MustCompile(`(?m)^\s*server mpmd-\w:8765 (.*);\n`)
	if n := len(servers.FindAllString(conf, -1)); n != 3 {
		t.Fatalf("docs/nginx-mpmd.conf names %d upstream servers, the test expects 3", n)
	}
	opts := servers.FindStringSubmatch(conf)[1]
	var ups strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&ups, "    server 127.0.0.1:%d %s;\n", d.Port, opts)
	}
	first := true
	conf = servers.ReplaceAllStringFunc(conf, func(string) string {
		if first {
			first = false
			return ups.String()
		}
		return ""
	})
	port := freePort(t)
	if !strings.Contains(conf, "listen 80;") {
		t.Fatal("docs/nginx-mpmd.conf has no `listen 80;`")
	}
	conf = strings.Replace(conf, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port), 1)
	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // the workers write the temp dirs under the test's own dir
	}
	full := fmt.Sprintf(`%sworker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
%[3]s
}
`, user, dir, conf)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", cf).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", cf, "-g", "daemon off;")
	out := &mpmdtest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	gone := make(chan struct{})
	go func() { _ = cmd.Wait(); close(gone) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // nginx's graceful stop, master and worker
		select {
		case <-gone:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-gone
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), b)
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	eventually(t, 10*time.Second, "nginx to answer", func() bool {
		resp, err := http.Get(url + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return url
}

// nodeClient is the official Node client (resume_client.cjs) on one
// namespace through nginx.
type nodeClient struct {
	mu       sync.Mutex
	events   []clientEvent
	connects int
	lines    []string
	stdin    io.WriteCloser
}

type clientEvent struct {
	Seq     int64  `json:"seq"`
	EventID string `json:"event_id"`
	Marker  string `json:"marker"`
}

func startNodeClient(t *testing.T, url, ns, transport string) *nodeClient {
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
	cmd := exec.Command(node, "resume_client.cjs", url, ns, transport)
	cmd.Env = append(os.Environ(), "SIO_CLIENT="+pkg)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &mpmdtest.SyncBuffer{}
	cmd.Stderr = stderr
	c := &nodeClient{}
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
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			if _, ok := m["connected"]; ok {
				c.connects++
			}
			if _, ok := m["seq"]; ok {
				var e clientEvent
				_ = json.Unmarshal(sc.Bytes(), &e)
				c.events = append(c.events, e)
			}
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
			t.Logf("node client (%s): stderr %s\nlast lines:\n%s", transport, stderr.String(), strings.Join(c.lines[max(0, len(c.lines)-20):], "\n"))
			c.mu.Unlock()
		}
	})
	eventually(t, 10*time.Second, "the node client to connect through nginx", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.connects > 0
	})
	return c
}

func (c *nodeClient) marked(marker string) []clientEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []clientEvent
	for _, e := range c.events {
		if e.Marker == marker {
			out = append(out, e)
		}
	}
	return out
}

// Official Node clients (websocket and long-polling) through nginx get
// every node's events; when the node nginx sends them to is killed, they
// reconnect through nginx to another node and resume by since_seq with no
// gap and no duplicate.
func TestNginxClientsResumeOnAnotherNode(t *testing.T) {
	r := startRedis(t)
	ds := nodes(t, r, 3)
	url := startNginx(t, ds)
	ws := startNodeClient(t, url, "/memory", "websocket")
	poll := startNodeClient(t, url, "/memory", "polling")

	// Which node nginx sends this address to (ip_hash: all of 127.0.0.1).
	resp, err := http.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Cluster struct {
			NodeID string `json:"node_id"`
		} `json:"cluster"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	sticky := int(h.Cluster.NodeID[0] - 'A')
	if sticky < 0 || sticky > 2 {
		t.Fatalf("/health through nginx names node %q", h.Cluster.NodeID)
	}
	others := []*mpmdtest.Daemon{}
	for i, d := range ds {
		if i != sticky {
			others = append(others, d)
		}
	}
	// Events produced on every node, then the sticky node dies while the
	// others go on producing.
	const before, after = 60, 60
	for i := 0; i < before; i++ {
		if _, err := emit(ds[i%3], "/memory", "created", map[string]any{"marker": "lb"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*nodeClient{ws, poll} {
		eventually(t, 10*time.Second, "the clients to get the events of every node", func() bool { return len(c.marked("lb")) >= before })
	}
	t.Logf("killing node %c, the one nginx sends the clients to", 'A'+sticky)
	ds[sticky].Kill(t)
	for i := 0; i < after; i++ {
		if _, err := emit(others[i%2], "/memory", "created", map[string]any{"marker": "lb"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	want := export(t, others[0], "namespace=memory")
	var wantIDs []string
	for _, e := range want {
		if e.Data["marker"] == "lb" {
			wantIDs = append(wantIDs, fmt.Sprintf("%d:%s", e.Seq, e.EventID))
		}
	}
	if len(wantIDs) != before+after {
		t.Fatalf("the surviving node stores %d events, want %d", len(wantIDs), before+after)
	}
	for name, c := range map[string]*nodeClient{"websocket": ws, "polling": poll} {
		t0 := time.Now()
		eventually(t, 20*time.Second, name+" client to resume on another node", func() bool { return len(c.marked("lb")) >= before+after })
		t.Logf("%s client resumed in %v", name, time.Since(t0))
		time.Sleep(200 * time.Millisecond) // a duplicate would come now
		var got []string
		for _, e := range c.marked("lb") {
			got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.EventID))
		}
		if strings.Join(got, ",") != strings.Join(wantIDs, ",") {
			t.Fatalf("the %s client got %d events, want the %d of the history in order, once each", name, len(got), len(wantIDs))
		}
		c.mu.Lock()
		n := c.connects
		c.mu.Unlock()
		if n < 2 {
			t.Fatalf("the %s client connected %d times; it should have reconnected after its node died", name, n)
		}
	}
}
