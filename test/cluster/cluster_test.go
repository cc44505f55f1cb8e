package cluster_test

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// An event posted to node A reaches the clients of B and C (and A) once
// each, in seq order, and every node stores it with the same seq.
func TestEventReachesEveryNodesClientsOnce(t *testing.T) {
	r := startRedis(t)
	ds := nodes(t, r, 3)
	var ls []*listener
	for _, d := range ds {
		ls = append(ls, listen(t, d, "/memory"))
	}
	const n = 50
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		a, err := emit(ds[0], "/memory", "created", map[string]any{"marker": "cross", "i": i})
		if err != nil {
			t.Fatal(err)
		}
		if a.Seq <= 0 || a.Duplicate || a.Pending {
			t.Fatalf("ack %+v: want a cluster seq", a)
		}
		want[a.EventID] = true
	}
	for i, l := range ls {
		eventually(t, 10*time.Second, fmt.Sprintf("node %c's client to get %d events", 'A'+i, n), func() bool {
			return len(l.marked(t, "cross")) >= n
		})
		time.Sleep(100 * time.Millisecond) // a duplicate would come now
		got := l.marked(t, "cross")
		if len(got) != n {
			t.Fatalf("node %c's client got %d events, want %d once each", 'A'+i, len(got), n)
		}
		for _, id := range got {
			if !want[id] {
				t.Fatalf("node %c's client got %s, not one of the posted", 'A'+i, id)
			}
		}
	}
	evs := converged(t, ds, 10*time.Second)
	if c := countMarked(evs, "cross"); c != n {
		t.Fatalf("%d events stored, want %d", c, n)
	}
	h := clusterHealth(t, ds[1])
	if h["node_id"] != "B" || h["redis_reachable"] != true || h["applied_seq"].(float64) < n {
		t.Fatalf("node B's /health cluster: %v", h)
	}
}

// Producers on all three nodes at once: every node ends with the same
// events under the same seqs, 1..N with no gap and no duplicate, and a
// client of each node saw them in that order.
func TestConcurrentProducersOneHistory(t *testing.T) {
	r := startRedis(t)
	ds := nodes(t, r, 3)
	var ls []*listener
	for _, d := range ds {
		ls = append(ls, listen(t, d, "/memory"))
	}
	const per = 150
	var wg sync.WaitGroup
	errs := make(chan error, 3*per)
	for _, d := range ds {
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func(d *mpmdtest.Daemon) {
				defer wg.Done()
				for i := 0; i < per/3; i++ {
					if _, err := emit(d, "/memory", "created", map[string]any{"marker": "conc"}); err != nil {
						errs <- err
						return
					}
				}
			}(d)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	evs := converged(t, ds, 15*time.Second)
	if c := countMarked(evs, "conc"); c != 3*per {
		t.Fatalf("%d events stored, want %d", c, 3*per)
	}
	var order []string
	for _, e := range evs {
		if e.Data["marker"] == "conc" {
			order = append(order, e.EventID)
		}
	}
	for i, l := range ls {
		eventually(t, 10*time.Second, "every client to get every event", func() bool { return len(l.marked(t, "conc")) >= 3*per })
		if got := l.marked(t, "conc"); strings.Join(got, ",") != strings.Join(order, ",") {
			t.Fatalf("node %c's client got the events in another order or not once each (%d events)", 'A'+i, len(got))
		}
	}
}

// The same event_id posted to two nodes is stored once, under one seq, and
// the second producer is told it is a duplicate of that seq.
func TestSameEventIDOnTwoNodesIsStoredOnce(t *testing.T) {
	r := startRedis(t)
	ds := nodes(t, r, 3)
	const n = 40
	var wg sync.WaitGroup
	acks := make([][2]ack, n)
	for i := 0; i < n; i++ {
		for j := 0; j < 2; j++ {
			wg.Add(1)
			go func(i, j int) {
				defer wg.Done()
				a, err := emit(ds[j], "/memory", "created", map[string]any{"marker": "dup", "event_id": fmt.Sprintf("dup-%d", i)})
				if err != nil {
					t.Error(err)
				}
				acks[i][j] = a
			}(i, j)
		}
	}
	wg.Wait()
	for i, a := range acks {
		if a[0].Seq != a[1].Seq || a[0].Duplicate == a[1].Duplicate {
			t.Fatalf("dup-%d: acks %+v and %+v: want one seq, one of them a duplicate", i, a[0], a[1])
		}
	}
	evs := converged(t, ds, 10*time.Second)
	if c := countMarked(evs, "dup"); c != n {
		t.Fatalf("%d events stored, want %d", c, n)
	}
}

// `mpmd status` prints the node's view of the cluster.
func TestStatusShowsTheCluster(t *testing.T) {
	r := startRedis(t)
	ds := nodes(t, r, 1)
	if _, err := emit(ds[0], "/memory", "created", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mpmdtest.MpmdBin(t), "status")
	cmd.Env = ds[0].Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mpmd status: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "cluster node A: Redis redis://127.0.0.1:") || !strings.Contains(string(out), " reachable") {
		t.Fatalf("mpmd status printed:\n%s", out)
	}
	metrics := func() string {
		resp, err := httpClient.Get(ds[0].URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return b.String()
	}()
	for _, m := range []string{"mpmd_cluster_redis_up 1", "mpmd_cluster_lag_events ", "mpmd_cluster_outbox_events 0", "mpmd_cluster_appended_total "} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(metrics)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	}
}
