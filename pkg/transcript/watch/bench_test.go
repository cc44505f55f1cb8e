//go:build unix

package watch_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/transcript/transcripttest"
	"github.com/mpm-dev/mpm/pkg/transcript/watch"
)

// BenchmarkCatchUp100MB: a watcher following a 100 MB transcript it has
// never read, from Follow until every byte is read and its events handed to
// an Ingest that only counts them. cpu-ms/op is the process's CPU time.
func BenchmarkCatchUp100MB(b *testing.B) {
	tmpl, err := os.ReadFile(filepath.Join(sampleProject, sampleSession+".jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	dir := filepath.Join(root, "p")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "big.jsonl")
	if err := os.WriteFile(path, transcripttest.New(tmpl).Bytes(100<<20), 0o600); err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	var cpu time.Duration
	var events atomic.Int64
	for b.Loop() {
		w, err := watch.New(watch.Config{Roots: []string{root}, Poll: 10 * time.Millisecond,
			Ingest: func(_ context.Context, evs []*event.Event) error { events.Add(int64(len(evs))); return nil }})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		before := cpuTime()
		go func() { _ = w.Run(ctx); close(done) }()
		w.Follow("s", path)
		for w.Stats().BytesRead < st.Size() {
			time.Sleep(time.Millisecond)
		}
		cpu += cpuTime() - before
		cancel()
		<-done
	}
	if events.Load() == 0 {
		b.Fatal("no events")
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
