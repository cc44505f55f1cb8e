package fault_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// SIGTERM in the middle of a flood: mpmd stops accepting, finishes what it
// accepted and exits 0 within 5 s. After a restart every acked event is
// stored exactly once, and no event that was refused because mpmd was
// shutting down was stored anyway (a refusal must mean "not stored", or a
// producer that retries elsewhere would duplicate it).
func TestSIGTERMDuringFlood(t *testing.T) {
	d := mpmdtest.Start(t)
	acks := &acked{ids: map[string]int64{}}
	var refusedMu sync.Mutex
	refused := map[string]string{}
	refuse := func(id, why string) {
		refusedMu.Lock()
		refused[id] = why
		refusedMu.Unlock()
	}
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	var wg sync.WaitGroup
	flood(t, ctx, &wg, d, "fault-term", 2, 2, func(id string, _ int) map[string]any {
		return map[string]any{"event_id": id}
	}, func(r emitResult) bool {
		switch {
		case r.Refused != "":
			refuse(r.ID, r.Refused)
			return false
		case r.Err != nil:
			return false // connection closed: outcome unknown
		}
		acks.add(r.ID, r.Seq)
		return true
	})
	eventually(t, 20*time.Second, "1,000 acked events", func() bool { return acks.n.Load() >= 1000 })
	start := time.Now()
	d.Stop(t) // SIGTERM; exit 0 within 5 s
	t.Logf("mpmd stopped in %s with %d events acked", time.Since(start).Round(time.Millisecond), acks.n.Load())
	wg.Wait()

	d2 := mpmdtest.Start(t, mpmdtest.WithRoot(d.Root))
	count := map[string]int{}
	for _, e := range export(t, d2, "namespace=hook") {
		count[e["event_id"].(string)]++
	}
	acks.mu.Lock()
	defer acks.mu.Unlock()
	for id := range acks.ids {
		if count[id] != 1 {
			t.Errorf("acked event %s stored %d times", id, count[id])
		}
	}
	for id, why := range refused {
		t.Logf("refused during shutdown: %s: %s", id, why)
		if count[id] != 0 {
			t.Errorf("event %s was refused (%s) but stored", id, why)
		}
	}
}
