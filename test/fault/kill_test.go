package fault_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// acked records what mpmd acknowledged: event_id → seq.
type acked struct {
	mu  sync.Mutex
	ids map[string]int64
	n   atomic.Int64
}

func (a *acked) add(id string, seq int64) {
	a.mu.Lock()
	a.ids[id] = seq
	a.mu.Unlock()
	a.n.Add(1)
}

// kill -9 of mpmd in the middle of a flood from Socket.IO producers, /emit
// producers and real mpm-hook processes. After a restart on the same store:
// every acked event is there exactly once with the seq its ack named; seqs
// are unique and increasing and keep increasing after the restart; and every
// hook that ran — before, during or after the kill — arrives exactly once:
// the ones mpmd did not ack were spooled by mpm-hook and drained by the new
// mpmd at start-up (and a hook whose event was stored but whose ack was lost
// is dropped as a duplicate by its event_id).
func TestKill9DuringFlood(t *testing.T) {
	d := mpmdtest.Start(t)
	acks := &acked{ids: map[string]int64{}}
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	var wg sync.WaitGroup
	var producerErrs sync.Map

	// Socket.IO producers on /hook (auth.producer = true), with ack, and
	// /emit producers.
	flood(t, ctx, &wg, d, "fault-k9", 3, 2, func(id string, i int) map[string]any {
		return map[string]any{"event_id": id, "session_id": "fault-k9", "i": i}
	}, func(r emitResult) bool {
		if r.Err != nil || r.Refused != "" {
			producerErrs.Store(r.ID, fmt.Sprint(r.Err, r.Refused))
			return false
		}
		if r.EventID != r.ID || r.Seq <= 0 {
			t.Errorf("ack for %s: %+v", r.ID, r)
			return false
		}
		acks.add(r.ID, r.Seq)
		return true
	})
	// Real hooks, one after another, through the kill.
	var markers []string
	var mmu sync.Mutex
	hooksDone := make(chan struct{})
	var killed atomic.Bool
	go func() {
		defer close(hooksDone)
		for i := 0; i < 200; i++ {
			m := fmt.Sprintf("k9-live-%d", i)
			mmu.Lock()
			markers = append(markers, m)
			mmu.Unlock()
			runHook(t, d.Env, hookInput(m))
			if killed.Load() && i >= 3 {
				return // a few after the kill too
			}
		}
	}()

	eventually(t, 20*time.Second, "2,000 acked events before the kill", func() bool { return acks.n.Load() >= 2000 })
	d.Kill(t) // SIGKILL, mid-flood
	killed.Store(true)
	t.Logf("killed mpmd with %d events acked", acks.n.Load())
	wg.Wait()
	<-hooksDone
	producerErrs.Range(func(k, v any) bool { t.Logf("producer %s stopped: %s", k, v); return true })

	// While mpmd is down, hooks spool.
	for i := 0; i < 5; i++ {
		m := fmt.Sprintf("k9-dead-%d", i)
		markers = append(markers, m)
		runHook(t, d.Env, hookInput(m))
	}
	spoolDir := filepath.Join(d.Root, "state", "mpm", "spool")
	nSpooled := mpmdtest.SpoolLen(t, spoolDir)
	if nSpooled < 5 {
		t.Fatalf("%d records in the spool after 5 hooks with mpmd down, want at least 5", nSpooled)
	}
	t.Logf("%d hook events spooled, %d hooks ran", nSpooled, len(markers))
	killedTotal := acks.n.Load()

	// Restart on the same store; mpmd drains the spool at start-up.
	d2 := mpmdtest.Start(t, mpmdtest.WithRoot(d.Root))
	eventually(t, 20*time.Second, "the spool to drain", func() bool {
		return mpmdtest.SpoolLen(t, spoolDir) == 0
	})
	d2.Emit(t, "hook", "after_restart", map[string]any{"event_id": "fault-k9-after"})

	evs := export(t, d2, "")
	count := map[string]int{}
	seqOf := map[string]int64{}
	var last, lastNonLog int64
	prompts := map[string]int{}
	for _, e := range evs {
		id, _ := e["event_id"].(string)
		seq, err := e["seq"].(json.Number).Int64()
		if err != nil {
			t.Fatalf("event without an integer seq: %v", e)
		}
		if seq <= last {
			t.Fatalf("seq %d after %d: not strictly increasing", seq, last)
		}
		last = seq
		data, _ := e["data"].(map[string]any)
		if _, derived := data["source_event_id"]; e["namespace"] != "/log" && !derived {
			// mpmd's own log records (e.g. its report that the spool
			// drain ended), and what the session model derives from an
			// event (stored after it), may be stored after any event.
			lastNonLog = seq
		}
		count[id]++
		seqOf[id] = seq
		if e["namespace"] == "/hook" && e["event"] == "user_prompt" {
			data, _ := e["data"].(map[string]any)
			if p, _ := data["prompt"].(string); p != "" {
				prompts[p]++
			}
		}
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	missing := 0
	acks.mu.Lock()
	for id, seq := range acks.ids {
		switch {
		case count[id] == 0:
			missing++
			if missing <= 5 {
				t.Errorf("acked event %s (seq %d) is missing after kill -9 and restart", id, seq)
			}
		case seqOf[id] != seq:
			t.Errorf("acked event %s was acked with seq %d, stored with %d", id, seq, seqOf[id])
		}
	}
	acks.mu.Unlock()
	if missing > 0 {
		t.Errorf("%d of %d acked events are missing", missing, killedTotal)
	}
	for _, m := range markers {
		if prompts[m] != 1 {
			t.Errorf("hook %s arrived %d times, want exactly once", m, prompts[m])
		}
	}
	if seqOf["fault-k9-after"] != lastNonLog {
		t.Errorf("the event emitted after the restart has seq %d, want the highest (%d)", seqOf["fault-k9-after"], lastNonLog)
	}
	if bad, _ := filepath.Glob(filepath.Join(spoolDir, "bad", "*")); len(bad) > 0 {
		t.Errorf("spool quarantined %d records: %v", len(bad), bad)
	}
	t.Logf("after restart: %d events stored, %d acked before the kill all present once, %d hooks each once", len(evs), killedTotal, len(markers))
	if os.Getenv("MPM_FAULT_VERBOSE") != "" {
		t.Log(d2.Output())
	}
}
