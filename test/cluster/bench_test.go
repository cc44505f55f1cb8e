package cluster_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// TestBenchCluster measures deliveries/s and delivery latency (POST /emit
// to a websocket client's read) for one mpmd without Redis, one cluster
// node, and three cluster nodes, and beside them the reference Node
// socket.io server (bench/node-ref: no store) alone and as three servers on
// @socket.io/redis-adapter on the same kind of Redis, with the same number
// of clients and the same offered load in all. It runs only with MPM_BENCH_CLUSTER=1
// (`make bench-cluster`); MPM_BENCH_EVENTS, MPM_BENCH_CLIENTS and
// MPM_BENCH_RATE change the load.
func TestBenchCluster(t *testing.T) {
	if os.Getenv("MPM_BENCH_CLUSTER") == "" {
		t.Skip("a benchmark: make bench-cluster (MPM_BENCH_CLUSTER=1)")
	}
	events := envInt("MPM_BENCH_EVENTS", 3000)
	clients := envInt("MPM_BENCH_CLIENTS", 60)
	rate := envInt("MPM_BENCH_RATE", 1000) // events/s offered, spread over the nodes
	type setup struct {
		name  string
		nodes int
		redis bool
		node  bool // the Node reference server instead of mpmd
	}
	var rows []string
	for _, s := range []setup{
		{"mpmd, 1 node, no Redis", 1, false, false}, {"mpmd, 1 node on Redis", 1, true, false}, {"mpmd, 3 nodes on Redis", 3, true, false},
		{"Node socket.io, 1 server", 1, false, true}, {"Node socket.io, 3 servers on redis-adapter", 3, true, true},
	} {
		t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) {
			var ds []*mpmdtest.Daemon
			switch {
			case s.node:
				url := ""
				if s.redis {
					url = startRedis(t).url()
				}
				for i := 0; i < s.nodes; i++ {
					ds = append(ds, startNodeRef(t, url))
				}
			case s.redis:
				r := startRedis(t)
				ds = nodes(t, r, s.nodes)
			default:
				ds = append(ds, mpmdtest.Start(t, mpmdtest.WithArgs("--no-transcripts", "--heartbeat", "1h")))
			}
			res := benchRun(t, ds, events, clients, rate)
			row := fmt.Sprintf("| %s | %d | %d | %d | %.0f | %.0f | %s | %s | %s | %d | %d |", s.name, s.nodes, clients, rate,
				res.ingest, res.deliveries, res.p50, res.p99, res.max, res.lost, res.dups)
			t.Log(row)
			rows = append(rows, row)
		})
	}
	t.Logf("\n| setup | nodes | clients | offered ev/s | accepted ev/s | deliveries/s | p50 | p99 | max | lost | duplicates |\n|---|---|---|---|---|---|---|---|---|---|---|\n%s", strings.Join(rows, "\n"))
}

// startNodeRef runs bench/node-ref/server.js (on redisURL's adapter when
// set) and returns a Daemon with its URL, which is all benchRun uses.
func startNodeRef(t *testing.T, redisURL string) *mpmdtest.Daemon {
	t.Helper()
	root := mpmdtest.RepoRoot(t)
	dir := filepath.Join(root, "bench", "node-ref")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@socket.io", "redis-adapter")); err != nil {
		t.Fatal("bench/node-ref/node_modules lacks @socket.io/redis-adapter: make bench-node-ref")
	}
	port := freePort(t)
	cmd := exec.Command("node", "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "HOST=127.0.0.1", "REDIS_URL="+strings.TrimSuffix(redisURL, "/0"))
	out := &mpmdtest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	d := &mpmdtest.Daemon{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Port: port}
	eventually(t, 10*time.Second, "the Node server to answer", func() bool {
		resp, err := http.Get(d.URL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return d
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

type benchResult struct {
	ingest, deliveries float64
	p50, p99, max      time.Duration
	lost, dups         int64
}

// benchRun connects clients websocket clients spread over ds, posts events
// spread over ds at rate (open loop), and measures every delivery.
func benchRun(t *testing.T, ds []*mpmdtest.Daemon, events, clients, rate int) benchResult {
	t.Helper()
	var mu sync.Mutex
	var lat []time.Duration
	var got atomic.Int64
	var dups atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for c := 0; c < clients; c++ {
		w := mpmdtest.MustWS(t, ds[c%len(ds)])
		if msg, err := w.Connect("/memory", map[string]any{}); err != nil || msg != "" {
			t.Fatalf("connect: %q %v", msg, err)
		}
		wg.Add(1)
		go func(w *mpmdtest.WS) {
			defer wg.Done()
			seen := map[int64]bool{}
			var mine []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				msg, err := w.Read(500 * time.Millisecond)
				if err != nil {
					continue
				}
				now := time.Now()
				if !strings.HasPrefix(msg, "42/memory,") {
					continue
				}
				var pkt []json.RawMessage
				if json.Unmarshal([]byte(msg[len("42/memory,"):]), &pkt) != nil || len(pkt) < 2 {
					continue
				}
				var d struct {
					ID int64 `json:"bid"`
					T  int64 `json:"t_ns"`
				}
				if json.Unmarshal(pkt[1], &d) != nil || d.T == 0 {
					continue
				}
				if seen[d.ID] {
					dups.Add(1)
					continue
				}
				seen[d.ID] = true
				mine = append(mine, now.Sub(time.Unix(0, d.T)))
				got.Add(1)
			}
		}(w)
	}
	// Open-loop producers: events posted at rate, spread over the nodes.
	var accepted atomic.Int64
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	const workers = 16
	jobs := make(chan int, events)
	var pw sync.WaitGroup
	for i := 0; i < workers; i++ {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for j := range jobs {
				if _, err := emit(ds[j%len(ds)], "/memory", "bench", map[string]any{"t_ns": time.Now().UnixNano(), "bid": j}); err == nil {
					accepted.Add(1)
				}
			}
		}()
	}
	for j := 0; j < events; j++ {
		if d := time.Until(start.Add(time.Duration(j) * interval)); d > 0 {
			time.Sleep(d)
		}
		jobs <- j
	}
	close(jobs)
	pw.Wait()
	sent := time.Since(start)
	want := accepted.Load() * int64(clients)
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	all := time.Since(start)
	close(stop)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(10 * time.Microsecond)
	}
	return benchResult{
		ingest:     float64(accepted.Load()) / sent.Seconds(),
		deliveries: float64(got.Load()) / all.Seconds(),
		p50:        q(0.50), p99: q(0.99), max: q(1),
		lost: want - got.Load(), dups: dups.Load(),
	}
}
