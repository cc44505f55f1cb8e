// Package cluster_test runs several real mpmd nodes (bin/mpmd) on one real
// redis-server (`mpmd run --redis`) and checks the cluster's promises:
// cross-node delivery, one order, completeness, cluster-wide de-duplication,
// and that nothing acked is lost or doubled across kill -9 of a node, a
// Redis restart and a Redis outage (docs/SCALE.md). redis-server comes from
// `make deps-redis`; without it the tests are skipped, except under CI.
package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/client"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// redisServer is a redis-server of the test's own: a free loopback port, a
// temp dir, no RDB snapshots, AOF on (fsync every second).
type redisServer struct {
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
	out  *mpmdtest.SyncBuffer
	gone chan struct{}
}

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed (make deps-redis)")
		}
		t.Skip("redis-server is not installed (make deps-redis)")
	}
	r := &redisServer{t: t, dir: t.TempDir(), port: freePort(t)}
	r.start()
	t.Cleanup(func() { r.kill() })
	return r
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.out = &mpmdtest.SyncBuffer{}
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
		"--daemonize", "no", "--protected-mode", "no", "--logfile", "")
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.gone = make(chan struct{})
	go func(c *exec.Cmd, gone chan struct{}) { _ = c.Wait(); close(gone) }(r.cmd, r.gone)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r.ping() == nil {
			return
		}
		select {
		case <-r.gone:
			r.t.Fatalf("redis-server exited at start:\n%s", r.out.String())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not answer within 10s:\n%s", r.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends PING (and waits for PONG, not a LOADING error).
func (r *redisServer) ping() error {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redis answered %q", line)
	}
	return nil
}

// stop ends redis-server with sig and waits for it.
func (r *redisServer) stop(sig syscall.Signal) {
	r.t.Helper()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.gone:
	case <-time.After(10 * time.Second):
		r.t.Fatalf("redis-server (pid %d) did not stop", r.cmd.Process.Pid)
	}
	r.cmd = nil
}

func (r *redisServer) kill() {
	if r.cmd != nil {
		_ = r.cmd.Process.Kill()
		<-r.gone
		r.cmd = nil
	}
}

// node starts one mpmd of the cluster.
func node(t testing.TB, r *redisServer, name string, extra ...mpmdtest.Option) *mpmdtest.Daemon {
	t.Helper()
	opts := append([]mpmdtest.Option{mpmdtest.WithArgs("--redis", r.url(), "--node-id", name, "--no-transcripts", "--heartbeat", "1h")}, extra...)
	return mpmdtest.Start(t, opts...)
}

func nodes(t testing.TB, r *redisServer, n int) []*mpmdtest.Daemon {
	t.Helper()
	var out []*mpmdtest.Daemon
	for i := 0; i < n; i++ {
		out = append(out, node(t, r, string(rune('A'+i))))
	}
	return out
}

// ack is a producer's answer from POST /emit.
type ack struct {
	Seq       int64  `json:"seq"`
	EventID   string `json:"event_id"`
	Duplicate bool   `json:"duplicate"`
	Pending   bool   `json:"pending"`
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// exportClient reads whole histories: after a flood of a minute, 150,000
// events and more, longer than httpClient's bound under -race.
var exportClient = &http.Client{Timeout: 3 * time.Minute}

// emit posts one event; an error is what a producer would retry on.
func emit(d *mpmdtest.Daemon, ns, name string, data map[string]any) (ack, error) {
	body, _ := json.Marshal(map[string]any{"namespace": ns, "event": name, "data": data})
	resp, err := httpClient.Post(d.URL+"/emit", "application/json", bytes.NewReader(body))
	if err != nil {
		return ack{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ack{}, fmt.Errorf("POST /emit: %d %s", resp.StatusCode, b)
	}
	var a ack
	if err := json.Unmarshal(b, &a); err != nil {
		return ack{}, fmt.Errorf("POST /emit answered %s: %v", b, err)
	}
	return a, nil
}

// stored is one event of /api/events.
type stored struct {
	Seq     int64
	EventID string
	NS      string
	Name    string
	Data    map[string]any
}

// export reads every event a node stores, in seq order.
func export(t testing.TB, d *mpmdtest.Daemon, query string) []stored {
	t.Helper()
	resp, err := exportClient.Get(d.URL + "/api/events?format=jsonl&" + query)
	if err != nil {
		t.Fatalf("GET /api/events: %v", err)
	}
	defer resp.Body.Close()
	var out []stored
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("GET /api/events line %q: %v", sc.Text(), err)
		}
		s := stored{EventID: str(m["event_id"]), NS: str(m["namespace"]), Name: str(m["event"])}
		if f, ok := m["seq"].(float64); ok {
			s.Seq = int64(f)
		}
		s.Data, _ = m["data"].(map[string]any)
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// cluster is the part of /health this package adds.
func clusterHealth(t testing.TB, d *mpmdtest.Daemon) map[string]any {
	t.Helper()
	resp, err := httpClient.Get(d.URL + "/health")
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	defer resp.Body.Close()
	var h map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	c, ok := h["cluster"].(map[string]any)
	if !ok {
		t.Fatalf("/health has no cluster: %v", h)
	}
	return c
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// converged waits until every node stores the same events, then checks
// that the seqs are 1..N with no gap and that no event_id is there twice,
// and returns node 0's events.
func converged(t testing.TB, ds []*mpmdtest.Daemon, timeout time.Duration) []stored {
	t.Helper()
	var evs [][]stored
	same := func() bool {
		// Nothing on its way and every node at the same seq (cheap, from
		// /health) before the exports, which are long after a flood.
		var applied any
		for i, d := range ds {
			c := clusterHealth(t, d)
			if c["lag"] != 0.0 || c["outbox"] != 0.0 || (i > 0 && c["applied_seq"] != applied) {
				return false
			}
			applied = c["applied_seq"]
		}
		evs = evs[:0]
		for _, d := range ds {
			evs = append(evs, export(t, d, ""))
		}
		for _, e := range evs[1:] {
			if !sameEvents(evs[0], e) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(timeout)
	for !same() {
		if time.Now().After(deadline) {
			for i, e := range evs {
				t.Logf("node %d: %d events, last seq %d, health %v", i, len(e), lastSeq(e), clusterHealth(t, ds[i]))
			}
			t.Fatalf("the nodes' stores did not converge within %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ids := map[string]int64{}
	for i, e := range evs[0] {
		if e.Seq != int64(i+1) {
			t.Fatalf("seq %d at position %d: the cluster's history has a gap or is out of order", e.Seq, i)
		}
		if prev, ok := ids[e.EventID]; ok {
			t.Fatalf("event_id %s stored twice (seqs %d and %d)", e.EventID, prev, e.Seq)
		}
		ids[e.EventID] = e.Seq
	}
	return evs[0]
}

func lastSeq(evs []stored) int64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

func sameEvents(a, b []stored) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || a[i].EventID != b[i].EventID {
			return false
		}
	}
	return true
}

// listener is a Socket.IO client of one node's namespace that records
// what it receives.
type listener struct {
	mu   sync.Mutex
	got  []map[string]any
	conn *client.Conn
}

func listen(t testing.TB, d *mpmdtest.Daemon, ns string) *listener {
	t.Helper()
	l := &listener{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, d.URL, ns, client.DialOptions{
		ConnectTimeout: 4 * time.Second, Retries: 3,
		OnEvent: func(name string, data map[string]any) {
			l.mu.Lock()
			l.got = append(l.got, data)
			l.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("connect to %s%s: %v", d.URL, ns, err)
	}
	l.conn = conn
	t.Cleanup(conn.Close)
	return l
}

func (l *listener) received() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]map[string]any(nil), l.got...)
}

// marked returns the ids of the received events whose data has marker,
// checking that their seqs rise.
func (l *listener) marked(t testing.TB, marker string) []string {
	t.Helper()
	var ids []string
	var last float64
	for _, m := range l.received() {
		if m["marker"] != marker {
			continue
		}
		seq, _ := m["seq"].(float64)
		if seq <= last {
			t.Fatalf("a client received seq %v after %v", seq, last)
		}
		last = seq
		ids = append(ids, str(m["event_id"]))
	}
	return ids
}

// flood posts events to d from workers goroutines until stop closes, and
// returns the acks it got (the events a producer may count on).
type flood struct {
	mu    sync.Mutex
	acked map[string]ack
	errs  int
	wg    sync.WaitGroup
	stop  chan struct{}
}

func startFlood(ds []*mpmdtest.Daemon, workers int, marker string) *flood {
	return startPacedFlood(ds, workers, marker, 0)
}

// startPacedFlood is startFlood with each worker waiting pace after each
// acked event: a steady load for a long test, which a closed loop as fast
// as the nodes go would turn into the whole machine's load for its length.
func startPacedFlood(ds []*mpmdtest.Daemon, workers int, marker string, pace time.Duration) *flood {
	f := &flood{acked: map[string]ack{}, stop: make(chan struct{})}
	for di, d := range ds {
		for w := 0; w < workers; w++ {
			f.wg.Add(1)
			go func(d *mpmdtest.Daemon, prefix string) {
				defer f.wg.Done()
				for i := 0; ; i++ {
					select {
					case <-f.stop:
						return
					default:
					}
					id := fmt.Sprintf("%s-%d", prefix, i)
					a, err := emit(d, "/memory", "flood", map[string]any{"marker": marker, "event_id": id})
					f.mu.Lock()
					if err != nil {
						f.errs++
					} else {
						f.acked[id] = a
					}
					f.mu.Unlock()
					if err != nil {
						time.Sleep(20 * time.Millisecond)
					} else if pace > 0 {
						time.Sleep(pace)
					}
				}
			}(d, fmt.Sprintf("%s-n%d-w%d", marker, di, w))
		}
	}
	return f
}

func (f *flood) finish() map[string]ack {
	close(f.stop)
	f.wg.Wait()
	return f.acked
}

// checkAcked checks that every acked event is stored exactly once among evs.
func checkAcked(t testing.TB, evs []stored, acked map[string]ack) {
	t.Helper()
	have := map[string]int{}
	for _, e := range evs {
		have[e.EventID]++
	}
	var lost []string
	for id := range acked {
		if have[id] != 1 {
			lost = append(lost, fmt.Sprintf("%s (stored %d times)", id, have[id]))
		}
	}
	sort.Strings(lost)
	if len(lost) > 0 {
		t.Fatalf("%d of %d acked events are not stored exactly once, e.g. %v", len(lost), len(acked), lost[:min(5, len(lost))])
	}
}

func countMarked(evs []stored, marker string) int {
	n := 0
	for _, e := range evs {
		if e.Data["marker"] == marker {
			n++
		}
	}
	return n
}
