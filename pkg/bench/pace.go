package bench

import (
	"context"
	"time"
)

// stallAfter is how long the window may stand still before a closed-loop
// phase gives up: the server's queues for its clients are seconds deep.
const stallAfter = 3 * time.Second

// pace hands out the seqs 0 … ld.MaxEvents-1 to jobs until ctx ends: on a
// clock (ld.Rate events/s from t0), or else, when windowed, as the
// end-to-end window allows — at most ld.Window events handed out and not
// yet refused or failed (lost) nor held by every client (minRecv, which
// only grows). It reports whether the window stood still for stallAfter,
// and leaves jobs open.
func pace(ctx context.Context, ld Load, t0 time.Time, jobs chan<- int64, windowed bool, lost, minRecv func() int64) (stalled bool) {
	recv := int64(0)
	for seq := int64(0); seq < ld.MaxEvents && ctx.Err() == nil; seq++ {
		if ld.Rate > 0 {
			due := t0.Add(time.Duration(float64(seq) / ld.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		} else if windowed {
			waitStart := time.Now()
			for seq-lost()-recv >= ld.Window {
				if m := minRecv(); m > recv {
					recv, waitStart = m, time.Now()
					continue
				}
				if time.Since(waitStart) > stallAfter || ctx.Err() != nil {
					return true
				}
				time.Sleep(time.Millisecond)
			}
		}
		select {
		case jobs <- seq:
		case <-ctx.Done():
		}
	}
	return false
}
