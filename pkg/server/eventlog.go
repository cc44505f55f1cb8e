package server

import (
	"context"
	"errors"

	"github.com/mpm-dev/mpm/pkg/event"
)

// Cluster mode (docs/SCALE.md). With Config.Log set, an ingested event does
// not get its seq from the local store: it is handed to the log (pkg/cluster,
// Redis), which de-duplicates it by event_id cluster-wide, gives it the
// cluster's next seq and makes it durable there; the producer's ack waits
// for that. Every node consumes the log in order and applies it here
// (Apply): stored with the log's seq, broadcast, handed to the session
// model, exactly as a local batch would be. Derived events are derived on
// every node from the same ordered history and offered to the log by each;
// its event_id de-duplication keeps one (sessionfeed.go). Replies to one
// socket and heartbeats reserve no seq: they carry the seq of the last event
// applied, so a client resuming from one misses nothing.

// EventLog is the cluster log as the pipeline sees it.
type EventLog interface {
	// Append queues ev (validated, its event_id set) for the log, in the
	// order of the calls. done is called once, without blocking, when ev is
	// in the log (seq > 0), was there already (duplicate, with the seq it
	// has), or is durable in this node's outbox for later forwarding
	// (pending, seq 0) — or with the error that kept it from all of those.
	Append(ev *event.Event, done func(seq int64, duplicate, pending bool, err error))
	// Run consumes the log after seq after, calling apply with each batch
	// of events (seqs set, rising) in order, until ctx ends.
	Run(ctx context.Context, after int64, apply func(context.Context, []*event.Event) error) error
	// Health is what /health shows of the cluster.
	Health() map[string]any
}

// appendToLog hands r's event to the log; r's reply follows the log's answer.
func (s *Server) appendToLog(r *request) {
	s.cfg.Log.Append(r.ev, func(seq int64, dup, pending bool, err error) {
		var resp response
		if err != nil {
			resp.err = &StoreError{err}
		} else {
			resp.res = Result{Seq: seq, EventID: r.ev.ID, Duplicate: dup, Pending: pending}
			if !dup {
				s.metrics.received.WithLabelValues(r.ev.Namespace).Inc()
			} else {
				s.metrics.dup.WithLabelValues(r.ev.Namespace).Inc()
			}
		}
		if r.cb != nil {
			r.cb(resp.res, resp.err)
			return
		}
		r.done <- resp
	})
}

// Apply stores evs, consumed from the cluster log in seq order, with their
// seqs, then broadcasts them and hands them to the session model. It
// returns once they are stored.
func (s *Server) Apply(ctx context.Context, evs []*event.Event) error {
	_, err := s.submit(ctx, &request{applied: evs, done: make(chan response, 1)})
	return err
}

// logDerived offers derived events to the cluster log and waits for each.
func (s *Server) logDerived(ctx context.Context, evs []*event.Event) error {
	errs := make(chan error, len(evs))
	for _, ev := range evs {
		s.cfg.Log.Append(ev, func(_ int64, _, _ bool, err error) { errs <- err })
	}
	return firstError(ctx, errs, len(evs))
}

// runLog consumes the cluster log until ctx ends, from the store's head.
func (s *Server) runLog(ctx context.Context) {
	err := s.cfg.Log.Run(ctx, s.store.LastSeq(), s.Apply)
	if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		s.log.Error("the cluster log consumer stopped", "err", err)
	}
}
