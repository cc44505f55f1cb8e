package fault_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
	"github.com/mpm-dev/mpm/pkg/spool"
)

// kill -9 while mpmd drains the hook spool at start-up: records are removed
// from the spool only after mpmd stored them (when the drain ends), so the
// crash leaves some records both stored and still spooled. The next mpmd drains the rest, and every
// spooled event is stored exactly once (the repeats are dropped by
// event_id), in spool order.
func TestKill9DuringSpoolDrain(t *testing.T) {
	d := mpmdtest.Start(t)
	d.Kill(t)
	spoolDir := filepath.Join(d.Root, "state", "mpm", "spool")
	sp, err := spool.Open(spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	t0 := time.Now().Add(-time.Hour)
	for i := 0; i < n; i++ {
		if err := sp.Append(spool.Record{Namespace: "/hook", Event: "user_prompt", Data: map[string]any{
			"event_id": fmt.Sprintf("fault-drain-%04d", i), "hook_event_name": "UserPromptSubmit",
			"session_id": "fault-drain", "prompt": fmt.Sprint(i),
			"timestamp": event.FormatTime(t0.Add(time.Duration(i) * time.Millisecond)),
		}}); err != nil {
			t.Fatal(err)
		}
	}

	d2 := mpmdtest.Start(t, mpmdtest.WithRoot(d.Root))
	var atKill int64
	// The drain removes what it delivered when it ends, so its start shows
	// in the store, not in the spool: as the first spooled event stored
	// (mpmd's own start-up records are stored before it serves, so the
	// store's count alone has grown before any drain).
	eventually(t, 30*time.Second, "the drain to begin", func() bool {
		return len(d2.Events(t, "namespace=hook&session_id=fault-drain&limit=1")) > 0
	})
	atKill = stored(t, d2)
	d2.Kill(t)
	left, _ := sp.Len()
	t.Logf("killed mpmd with about %d events stored and %d records still spooled", atKill, left)
	if left == 0 {
		t.Log("the drain finished before the kill; the restart below only re-checks the store")
	}

	d3 := mpmdtest.Start(t, mpmdtest.WithRoot(d.Root))
	eventually(t, 60*time.Second, "the spool to drain after the restart", func() bool {
		l, _ := sp.Len()
		return l == 0
	})
	count := map[string]int{}
	var ids []string
	for _, e := range export(t, d3, "namespace=hook") {
		id := e["event_id"].(string)
		count[id]++
		ids = append(ids, id)
	}
	for i := 0; i < n; i++ {
		if id := fmt.Sprintf("fault-drain-%04d", i); count[id] != 1 {
			t.Errorf("spooled event %s stored %d times, want once", id, count[id])
		}
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] < ids[i-1] {
			t.Errorf("spooled events stored out of spool order: %s after %s", ids[i], ids[i-1])
			break
		}
	}
}
