package cluster_test

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// kill -9 of a node during a flood into all three: every event any node
// acked is stored exactly once on every node after the killed node is
// restarted and has caught up from where its store stopped.
func TestKillNodeDuringFloodCatchesUp(t *testing.T) {
	r := startRedis(t)
	ds := nodes(t, r, 3)
	f := startFlood(ds, 2, "kill")
	time.Sleep(700 * time.Millisecond)
	ds[2].Kill(t)
	time.Sleep(700 * time.Millisecond) // the others go on; C misses this part
	ds[2] = ds[2].Restart(t)
	time.Sleep(500 * time.Millisecond)
	acked := f.finish()
	if len(acked) < 100 {
		t.Fatalf("only %d events acked during the flood", len(acked))
	}
	evs := converged(t, ds, 20*time.Second)
	checkAcked(t, evs, acked)
	t.Logf("%d events acked, %d stored on every node, %d producer errors (the killed node's)", len(acked), countMarked(evs, "kill"), f.errs)
}

// Redis killed (SIGKILL) and restarted from its AOF during a flood: what
// was acked before survives in the log, what came while it was down went
// through the outboxes, and every node ends with the same complete history.
func TestRedisRestartDuringFlood(t *testing.T) {
	r := startRedis(t)
	ds := nodes(t, r, 3)
	f := startFlood(ds, 2, "restart")
	time.Sleep(700 * time.Millisecond)
	r.stop(syscall.SIGKILL)
	time.Sleep(500 * time.Millisecond)
	r.start() // the same dir: it loads its AOF
	time.Sleep(700 * time.Millisecond)
	acked := f.finish()
	if f.errs > 0 {
		t.Fatalf("%d producer errors: a node should accept events into its outbox while Redis is away", f.errs)
	}
	evs := converged(t, ds, 20*time.Second)
	checkAcked(t, evs, acked)
	pending := 0
	for _, a := range acked {
		if a.Pending {
			pending++
		}
	}
	t.Logf("%d events acked (%d as pending, through an outbox), all stored once on every node", len(acked), pending)
}

// A Redis outage of a minute (issue 12's case; MPM_CLUSTER_OUTAGE sets
// another length, -short makes it 2 s) under load: the nodes ack into
// their outboxes (pending), forward them exactly once when Redis is back,
// and /health shows the outage and then an empty outbox.
func TestRedisOutageOutboxForwardedOnce(t *testing.T) {
	outage := time.Minute
	if testing.Short() {
		outage = 2 * time.Second
	}
	if d, err := time.ParseDuration(os.Getenv("MPM_CLUSTER_OUTAGE")); err == nil && d > 0 {
		outage = d
	}
	r := startRedis(t)
	ds := nodes(t, r, 3)
	// Six producers at up to 200 events/s each: a minute of it is ~70,000
	// events, and the rest of the suite still gets the machine.
	f := startPacedFlood(ds, 2, "outage", 5*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	r.stop(syscall.SIGTERM)
	eventually(t, 5*time.Second, "a node to see Redis gone and fill its outbox", func() bool {
		c := clusterHealth(t, ds[0])
		return c["redis_reachable"] == false && c["outbox"].(float64) > 0
	})
	time.Sleep(outage)
	r.start()
	time.Sleep(500 * time.Millisecond)
	acked := f.finish()
	if f.errs > 0 {
		t.Fatalf("%d producer errors during the outage", f.errs)
	}
	pending := 0
	for _, a := range acked {
		if a.Pending {
			pending++
			if a.Seq != 0 {
				t.Fatalf("a pending ack has seq %d", a.Seq)
			}
		}
	}
	if pending == 0 {
		t.Fatal("no event was acked as pending during the outage")
	}
	evs := converged(t, ds, 20*time.Second+outage)
	checkAcked(t, evs, acked)
	var fwd float64
	for _, d := range ds {
		c := clusterHealth(t, d)
		fwd += c["forwarded"].(float64)
		if c["redis_reachable"] != true {
			t.Fatalf("after the outage /health says %v", c)
		}
	}
	if int(fwd) < pending {
		t.Fatalf("the nodes forwarded %v events, %d were acked as pending", fwd, pending)
	}
	t.Logf("%d events acked, %d pending through the outboxes, %v forwarded", len(acked), pending, fwd)
}

// kill -9 of a node whose outbox holds events acked while Redis was away:
// restarted, it forwards them once each.
func TestKilledNodeForwardsItsOutboxAfterRestart(t *testing.T) {
	r := startRedis(t)
	ds := nodes(t, r, 2)
	r.stop(syscall.SIGTERM)
	f := startFlood(ds[:1], 2, "crashbox")
	eventually(t, 5*time.Second, "events in node A's outbox", func() bool {
		return clusterHealth(t, ds[0])["outbox"].(float64) > 50
	})
	ds[0].Kill(t)
	acked := f.finish()
	r.start()
	ds[0] = ds[0].Restart(t)
	evs := converged(t, ds, 20*time.Second)
	checkAcked(t, evs, acked)
	pending := 0
	for _, a := range acked {
		if a.Pending {
			pending++
		}
	}
	if pending == 0 || pending != len(acked) {
		t.Fatalf("%d of %d acks pending; with Redis away every one should be", pending, len(acked))
	}
	t.Logf("%d events acked into the outbox before kill -9, all forwarded once after the restart", len(acked))
}
