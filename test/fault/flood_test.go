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

// emitResult is one flood event's outcome as its producer saw it: acked
// (Seq > 0), refused (Refused says why), or unknown (Err: the connection
// was lost before an answer).
type emitResult struct {
	ID      string
	Seq     int64
	EventID string // the event_id the ack named
	Refused string
	Err     error
}

// flood starts sio Socket.IO producers on /hook and web /emit producers,
// each emitting "flood" events with ids prefix-sioP-I / prefix-httpP-I and
// the data data(id, i), one at a time, until ctx ends or next returns false.
// It returns when the Socket.IO producers are connected; wg is done when
// every producer has stopped.
func flood(t *testing.T, ctx context.Context, wg *sync.WaitGroup, d *mpmdtest.Daemon, prefix string, sio, web int,
	data func(id string, i int) map[string]any, next func(emitResult) bool) {
	t.Helper()
	for p := 0; p < sio; p++ {
		c, err := client.Dial(ctx, d.URL, "/hook", client.DialOptions{Producer: true, ConnectTimeout: 10 * time.Second, Retries: 2})
		if err != nil {
			t.Fatalf("producer %d: %v", p, err)
		}
		wg.Add(1)
		go func(p int, c *client.Conn) {
			defer wg.Done()
			defer c.Close()
			for i := 0; i < 50000 && ctx.Err() == nil; i++ {
				id := fmt.Sprintf("%s-sio%d-%d", prefix, p, i)
				ectx, cancel := context.WithTimeout(ctx, 3*time.Second)
				a, err := c.Emit(ectx, "flood", data(id, i))
				cancel()
				r := emitResult{ID: id, Seq: a.Seq, EventID: a.EventID, Err: err}
				if ae := (*client.AckError)(nil); errors.As(err, &ae) {
					r.Refused, r.Err = ae.Msg, nil
				}
				if !next(r) {
					return
				}
			}
		}(p, c)
	}
	hc := &http.Client{Timeout: 3 * time.Second}
	for p := 0; p < web; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < 50000 && ctx.Err() == nil; i++ {
				id := fmt.Sprintf("%s-http%d-%d", prefix, p, i)
				body, _ := json.Marshal(map[string]any{"namespace": "hook", "event": "flood", "data": data(id, i)})
				resp, err := hc.Post(d.URL+"/emit", "application/json", bytes.NewReader(body))
				if err != nil {
					next(emitResult{ID: id, Err: err})
					return
				}
				var a struct {
					Seq     int64  `json:"seq"`
					EventID string `json:"event_id"`
					Error   string `json:"error"`
				}
				err = json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				r := emitResult{ID: id, Seq: a.Seq, EventID: a.EventID, Err: err}
				if resp.StatusCode != http.StatusOK {
					r.Seq, r.Err = 0, fmt.Errorf("status %d: %s", resp.StatusCode, a.Error)
					if resp.StatusCode == http.StatusServiceUnavailable {
						r.Refused, r.Err = a.Error, nil
					}
				}
				if !next(r) {
					return
				}
			}
		}(p)
	}
}
