package fault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/client"
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
	for p := 0; p < 2; p++ {
		c, err := client.Dial(ctx, d.URL, "/hook", client.DialOptions{Producer: true, ConnectTimeout: 3 * time.Second, Retries: 2})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(p int, c *client.Conn) {
			defer wg.Done()
			defer c.Close()
			for i := 0; i < 50000 && ctx.Err() == nil; i++ {
				id := fmt.Sprintf("fault-term-sio%d-%d", p, i)
				ectx, cancel := context.WithTimeout(ctx, 3*time.Second)
				a, err := c.Emit(ectx, "flood", map[string]any{"event_id": id})
				cancel()
				var ae *client.AckError
				switch {
				case errors.As(err, &ae):
					refuse(id, ae.Msg)
					return
				case err != nil:
					return // connection closed: outcome unknown
				}
				acks.add(id, a.Seq)
			}
		}(p, c)
	}
	hc := &http.Client{Timeout: 3 * time.Second}
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < 50000 && ctx.Err() == nil; i++ {
				id := fmt.Sprintf("fault-term-http%d-%d", p, i)
				body, _ := json.Marshal(map[string]any{"namespace": "hook", "event": "flood", "data": map[string]any{"event_id": id}})
				resp, err := hc.Post(d.URL+"/emit", "application/json", bytes.NewReader(body))
				if err != nil {
					return // outcome unknown
				}
				var r struct {
					Seq   int64  `json:"seq"`
					Error string `json:"error"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					if resp.StatusCode == http.StatusServiceUnavailable {
						refuse(id, r.Error)
					}
					return
				}
				acks.add(id, r.Seq)
			}
		}(p)
	}
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
