package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/bench"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// TestFanoutAgainstMpmd runs the load tool briefly against the real mpmd
// (store on) with ten clients, through /emit and through /hook producer
// emits, and requires that every client got every accepted event once.
func TestFanoutAgainstMpmd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mpmd; skipped with -short")
	}
	d := mpmdtest.Start(t)
	defer d.Stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	load := func(p bench.Path, rate float64) bench.Load {
		return bench.Load{Path: p, Rate: rate, Window: 200, Duration: 500 * time.Millisecond, MaxEvents: 2000,
			Workers: 4, AckWindow: 16, Drain: 20 * time.Second}
	}
	results, err := bench.Measure(ctx, bench.Target{Name: "mpmd", URL: d.URL, PID: d.PID}, "/hook", 10,
		load(bench.PathEmit, 0), load(bench.PathHook, 0), load(bench.PathHook, 200))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		t.Logf("%s %s: %d accepted, %d deliveries, p99 %v, server CPU %v", r.Path, r.Mode, r.Accepted, r.Deliveries, r.P99, r.ServerCPU)
		if r.Accepted == 0 {
			t.Errorf("%s %s: mpmd accepted no event (refused %d, errors %d)", r.Path, r.Mode, r.Refused, r.Errors)
		}
		if got, want := r.Deliveries, r.Expected; got != want {
			t.Errorf("%s %s: %d deliveries, want %d (10 clients × %d accepted)", r.Path, r.Mode, got, want, r.Accepted)
		}
		if r.Lost != 0 || r.Duplicates != 0 || r.Dropped != 0 {
			t.Errorf("%s %s: lost %d, duplicates %d, dropped clients %d; want none", r.Path, r.Mode, r.Lost, r.Duplicates, r.Dropped)
		}
		if r.P99 <= 0 || r.P99 > r.Max {
			t.Errorf("%s %s: p99 %v, max %v: latency not measured", r.Path, r.Mode, r.P99, r.Max)
		}
	}
}

// TestRealisticAgainstMpmd runs the realistic series' phases briefly against
// the real mpmd: five listeners on the official socket.io-client
// (bench/node-ref/clients.js, `make bench-node-ref` installs it), /emit
// producers, a max-rate and a fixed-rate phase; every listener must get
// every accepted event once, with latency measured.
func TestRealisticAgainstMpmd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mpmd and Node; skipped with -short")
	}
	root := mpmdtest.RepoRoot(t)
	script := filepath.Join(root, "bench", "node-ref", "clients.js")
	if _, err := os.Stat(filepath.Join(root, "bench", "node-ref", "node_modules", "socket.io-client")); err != nil {
		t.Fatalf("bench/node-ref has no socket.io-client: run `make bench-node-ref` (%v)", err)
	}
	d := mpmdtest.Start(t)
	defer d.Stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	load := func(rate float64) bench.Load {
		return bench.Load{Rate: rate, Window: 200, Duration: 500 * time.Millisecond, MaxEvents: 2000, Drain: 20 * time.Second}
	}
	results, err := bench.MeasureRealistic(ctx, bench.Target{Name: "mpmd", URL: d.URL, PID: d.PID}, "node", script, "/hook", 5,
		load(0), load(200))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		t.Logf("%s: %d accepted, %d deliveries, p99 %v, server CPU %v", r.Mode, r.Accepted, r.Deliveries, r.P99, r.ServerCPU)
		if r.Accepted == 0 {
			t.Errorf("%s: mpmd accepted no event (refused %d, errors %d)", r.Mode, r.Refused, r.Errors)
		}
		if r.Deliveries != r.Expected || r.Lost != 0 || r.Duplicates != 0 || r.Dropped != 0 {
			t.Errorf("%s: %d deliveries of %d expected, lost %d, duplicates %d, dropped %d; want all, none",
				r.Mode, r.Deliveries, r.Expected, r.Lost, r.Duplicates, r.Dropped)
		}
		if r.P99 <= 0 || r.P99 > r.Max {
			t.Errorf("%s: p99 %v, max %v: latency not measured", r.Mode, r.P99, r.Max)
		}
	}
}
