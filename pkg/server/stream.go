package server

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

// The stream of committed events: after each batch is committed and
// broadcast, the pipeline hands its new events to every in-process
// subscriber (the session model, the transcript watcher's follower). A
// subscriber has a bounded buffer and is never waited for: one that falls
// behind is marked lagged and catches up from the store, from the last seq
// it saw, so it loses nothing and the pipeline never stalls on it. Nothing
// runs inside the write transaction.

// subscription receives committed events in seq order.
type subscription struct {
	c      chan []*event.Event
	lagged atomic.Bool
	kick   chan struct{} // signalled when lagged is set
}

type stream struct {
	mu   sync.Mutex
	subs []*subscription
}

func (st *stream) subscribe(buf int) *subscription {
	sub := &subscription{c: make(chan []*event.Event, buf), kick: make(chan struct{}, 1)}
	st.mu.Lock()
	st.subs = append(st.subs, sub)
	st.mu.Unlock()
	return sub
}

// publish hands a committed batch to every subscriber without blocking.
func (st *stream) publish(evs []*event.Event) {
	if len(evs) == 0 {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, sub := range st.subs {
		if sub.lagged.Load() {
			continue
		}
		select {
		case sub.c <- evs:
		default:
			sub.lagged.Store(true)
			select {
			case sub.kick <- struct{}{}:
			default:
			}
		}
	}
}

// follow calls fn with every committed event with seq > after, in seq
// order and in batches, until ctx ends: from the channel while it keeps up,
// from the store (filtered by f's namespaces) when it lagged. fn runs on
// one goroutine; it may take its time (the subscriber then lags and
// catches up).
func (sub *subscription) follow(ctx context.Context, st *store.Store, f store.Filter, after int64, fn func([]*event.Event)) {
	last := after
	want := map[string]bool{}
	for _, ns := range f.Namespaces {
		want[ns] = true
	}
	var batch []*event.Event
	add := func(ev *event.Event) {
		if ev.Seq <= last {
			return
		}
		last = ev.Seq
		if len(want) == 0 || want[ev.Namespace] {
			batch = append(batch, ev)
		}
	}
	flush := func() {
		if len(batch) > 0 {
			fn(batch)
			batch = nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case evs := <-sub.c:
			for _, ev := range evs {
				add(ev)
			}
			flush()
		case <-sub.kick:
		}
		if !sub.lagged.Load() {
			continue
		}
		// Clear first: what is committed from now on comes through the
		// channel again (and is skipped there if the store gave it too).
		sub.lagged.Store(false)
	drain:
		for {
			select {
			case evs := <-sub.c:
				for _, ev := range evs {
					add(ev)
				}
			default:
				break drain
			}
		}
		flush()
		_ = readAfter(ctx, st, f, last, func(evs []*event.Event) {
			for _, ev := range evs {
				add(ev)
			}
			flush()
		})
	}
}

// readAfter reads the stored events f selects with seq > after, in seq
// order, a chunk at a time, and calls fn with each chunk once its query is
// closed: fn may write to the store (an in-memory store has one connection).
func readAfter(ctx context.Context, st *store.Store, f store.Filter, after int64, fn func([]*event.Event)) error {
	f.Limit = maxBatch
	for {
		f.SinceSeq = after
		evs, err := st.Query(ctx, f)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		after = evs[len(evs)-1].Seq
		fn(evs)
		if len(evs) < f.Limit || ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
