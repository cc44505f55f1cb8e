package server

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/broadcast"
	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

// Result is what a producer learns about its event once it is stored.
type Result struct {
	Seq       int64  `json:"seq"`
	EventID   string `json:"event_id"`
	Duplicate bool   `json:"duplicate"`
	// Pending: a cluster node took the event into its outbox while Redis
	// was out of reach; it gets its seq (0 here) when it is forwarded.
	Pending bool `json:"pending,omitempty"`
}

// ErrShuttingDown is returned for events that arrive while mpmd stops.
var ErrShuttingDown = errors.New("mpmd is shutting down")

// ErrOverloaded is returned when the pipeline's queue stays full.
var ErrOverloaded = errors.New("mpmd is overloaded: the event queue is full, try again")

// StoreError wraps a failure to store an event; producers should retry later.
type StoreError struct{ Err error }

func (e *StoreError) Error() string { return "the event store failed: " + e.Err.Error() }
func (e *StoreError) Unwrap() error { return e.Err }

// request is one unit of work for the pipeline goroutine: an event to store
// (ev), the events derived from one (derived), or a message to deliver
// without storing it (direct).
type request struct {
	ev      *event.Event
	data    string // ev.Data encoded for the store, by the producer's goroutine (admit); "": the pipeline encodes
	derived *derivedBatch
	direct  *direct
	applied []*event.Event // consumed from the cluster log, seqs set (eventlog.go)
	done    chan response
	cb      func(Result, error) // instead of done: called by the pipeline
}

// derivedBatch is what the session model derived from the committed event
// with seq source. They are stored with the store's derived_seq moved to
// source in the same transaction, so after a crash mpmd knows from where
// to derive again (sessionfeed.go).
type derivedBatch struct {
	evs    []*event.Event
	source int64
}

// derivedSeqKey is the store counter of the last source event whose
// derived events are stored.
const derivedSeqKey = "derived_seq"

type response struct {
	res Result
	err error
}

// direct is an event that is delivered but not stored: replies to one socket
// (status, server_info) and heartbeats. It still gets a seq, reserved in the
// store, so every event a client sees has a strictly increasing seq.
type direct struct {
	ns      string
	name    string
	to      broadcast.Conn // nil: broadcast to every consumer of ns
	payload func() map[string]any
	ack     func(any) // when set, also called with the payload sent
}

const (
	queueSize = 8192
	maxBatch  = 512
	ackQueue  = 64 // batches whose acks wait for the acker
)

// Ingest runs ev through the pipeline — validate, assign seq, store, derive,
// broadcast — and returns once it is stored (or refused).
func (s *Server) Ingest(ctx context.Context, ev *event.Event) (Result, error) {
	r, err := s.admit(ev)
	if err != nil {
		return Result{}, err
	}
	r.done = make(chan response, 1)
	return s.submit(ctx, r)
}

// admit validates ev and encodes its data for the store, on the caller's
// goroutine: work the one pipeline goroutine then does not do (it is the
// part of ingest that cannot run on several cores, docs/PERFORMANCE.md).
func (s *Server) admit(ev *event.Event) (*request, error) {
	if err := s.validate(ev); err != nil {
		return nil, err
	}
	r := &request{ev: ev}
	if s.cfg.Log == nil { // in cluster mode the log's consumer stores it
		data, err := store.EncodeData(ev)
		if err != nil {
			return nil, &InputError{err}
		}
		r.data = data
	}
	return r, nil
}

func (s *Server) validate(ev *event.Event) error {
	ns, err := event.NormalizeNamespace(ev.Namespace)
	if err != nil {
		return &InputError{err}
	}
	ev.Namespace = ns
	if err := event.ValidateName(ev.Name); err != nil {
		return &InputError{err}
	}
	if err := ev.Prepare(time.Now()); err != nil {
		return &InputError{err}
	}
	return nil
}

// InputError is an event refused for what it is, not for mpmd's state.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func (s *Server) submit(ctx context.Context, r *request) (Result, error) {
	if err := s.enqueue(ctx, r); err != nil {
		return Result{}, err
	}
	select {
	case resp := <-r.done:
		return resp.res, resp.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// enqueue hands r to the pipeline, waiting at most 5 s while the queue is
// full (then ErrOverloaded).
func (s *Server) enqueue(ctx context.Context, r *request) error {
	if s.closing.Load() {
		return ErrShuttingDown
	}
	if s.cfg.Log != nil && r.ev != nil {
		s.appendToLog(r) // the cluster log gives the seq (eventlog.go)
		return nil
	}
	select {
	case s.in <- r: // the queue has room: no timer (one per event, else)
		return nil
	default:
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case s.in <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return ErrOverloaded
	case <-s.stopped:
		return ErrShuttingDown
	}
}

// IngestBatch runs evs through the pipeline together (one queue entry
// each, so they are stored in few transactions) and returns once every one
// is stored or refused: nil when all are stored (duplicates included), else
// the first error. The transcript watcher feeds mpmd this way.
func (s *Server) IngestBatch(ctx context.Context, evs []*event.Event) error {
	errs := make(chan error, len(evs))
	for _, ev := range evs {
		r, err := s.admit(ev)
		if err != nil {
			errs <- err
			continue
		}
		r.cb = func(_ Result, err error) { errs <- err }
		if err := s.enqueue(ctx, r); err != nil {
			errs <- err
		}
	}
	return firstError(ctx, errs, len(evs))
}

// firstError waits for n results on errs and returns the first error among
// them (nil when all are nil), or ctx's error once ctx ends.
func firstError(ctx context.Context, errs <-chan error, n int) error {
	var first error
	for range n {
		select {
		case err := <-errs:
			if err != nil && first == nil {
				first = err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}

// ingestAsync is Ingest for a caller that must not wait: a socket's reader
// goroutine, which the library runs the event handlers on. It queues ev in
// the caller's order (blocking, as Ingest does, while the queue is full) and
// returns; cb gets the result once ev is stored (or refused), on the
// pipeline goroutine, so it must not block. A producer with many events in
// flight thus has them all in the queue, and one transaction stores them
// (a waiting reader would let one event per connection into each batch).
func (s *Server) ingestAsync(ev *event.Event, cb func(Result, error)) {
	r, err := s.admit(ev)
	if err == nil {
		r.cb = cb
		err = s.enqueue(context.Background(), r)
	}
	if err != nil {
		cb(Result{}, err)
	}
}

// sendDirect queues a direct message; it does not wait for delivery.
func (s *Server) sendDirect(d *direct) {
	if s.closing.Load() {
		return
	}
	select {
	case s.in <- &request{direct: d, done: make(chan response, 1)}:
	case <-s.stopped:
	}
}

// pipeline is the one goroutine that writes the store and broadcasts. Taking
// whatever is queued as one batch (one transaction) is what makes ingest
// fast; doing commit and broadcast under bmu is what lets a replaying client
// join the live stream with no gap and no duplicate.
func (s *Server) pipeline() {
	defer func() {
		close(s.acks) // the acker answers what is left, then pipelineDone
		<-s.ackerDone
		close(s.pipelineDone)
	}()
	batch := make([]*request, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-s.in:
			batch = append(batch, r)
		case <-s.stopped:
			// drain what producers already queued, then stop
			for {
				select {
				case r := <-s.in:
					batch = append(batch, r)
					if len(batch) == maxBatch {
						s.process(batch)
						batch = batch[:0]
					}
				default:
					if len(batch) > 0 {
						s.process(batch)
					}
					return
				}
			}
		}
		// Group commit: producers that are runnable right now (an /emit
		// handler, a socket's event) get to queue their events before this
		// batch is cut, so one transaction carries many events. Without it
		// the pipeline, woken by the first producer, commits one event at a
		// time (docs/PERFORMANCE.md).
		for i := 0; i < 4 && len(s.in) < maxBatch; i++ {
			n := len(s.in)
			runtime.Gosched()
			if len(s.in) == n {
				break
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.in:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.process(batch)
	}
}

type delivery struct {
	ev     *event.Event
	direct *direct
}

func (s *Server) process(batch []*request) {
	ctx := context.Background()
	resps := make([]response, len(batch))
	out := make([]delivery, 0, len(batch)*2)

	s.bmu.Lock()
	defer s.bmu.Unlock()

	fail := func(err error) {
		s.setDegraded(err)
		for i := range resps {
			resps[i] = response{err: &StoreError{err}}
		}
		s.reply(batch, resps)
	}
	tx, err := s.store.Begin(ctx)
	if err != nil {
		fail(err)
		return
	}
	began := time.Now()
	m := s.metrics
	for i, r := range batch {
		if r.direct != nil {
			seq := tx.Head() // cluster mode: a seq of its own would be the log's
			if s.cfg.Log == nil {
				seq = tx.Reserve()
			}
			out = append(out, delivery{direct: r.direct, ev: &event.Event{Seq: seq}})
			continue
		}
		if r.applied != nil {
			for _, ev := range r.applied {
				if ev.Seq <= tx.Head() {
					continue // applied before (the log read again)
				}
				dup, err := tx.AppendAt(ctx, ev)
				if err != nil {
					tx.Rollback()
					fail(err)
					return
				}
				if dup {
					m.dup.WithLabelValues(ev.Namespace).Inc()
					continue
				}
				out = append(out, delivery{ev: ev})
			}
			continue
		}
		if r.derived != nil {
			for _, de := range r.derived.evs {
				dup, err := tx.Append(ctx, de)
				if err != nil {
					tx.Rollback()
					fail(err)
					return
				}
				if dup {
					m.dup.WithLabelValues(de.Namespace).Inc()
				} else {
					m.derived.WithLabelValues(de.Namespace).Inc()
					out = append(out, delivery{ev: de})
				}
			}
			tx.RaiseMeta(derivedSeqKey, r.derived.source)
			continue
		}
		var dup bool
		if r.data != "" {
			dup, err = tx.AppendEncoded(ctx, r.ev, r.data)
		} else {
			dup, err = tx.Append(ctx, r.ev)
		}
		if err != nil {
			tx.Rollback()
			fail(err)
			return
		}
		resps[i] = response{res: Result{Seq: r.ev.Seq, EventID: r.ev.ID, Duplicate: dup}}
		if dup {
			m.dup.WithLabelValues(r.ev.Namespace).Inc()
			continue
		}
		m.received.WithLabelValues(r.ev.Namespace).Inc()
		out = append(out, delivery{ev: r.ev})
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	m.commit.Observe(time.Since(began).Seconds())
	m.batch.Observe(float64(len(batch)))
	s.setHealthy()
	committed := make([]*event.Event, 0, len(out))
	// Each client's share of the batch goes out in one write (WriteHold).
	hold := s.hub.HoldWrites()
	for _, d := range out {
		s.deliver(d)
		if d.direct == nil {
			committed = append(committed, d.ev)
		}
	}
	hold.Release()
	s.stream.publish(committed)
	s.reply(batch, resps)
}

// reply answers a batch's requests, after its commit (or its failure).
// Waiting callers get their response at once; callbacks (socket acks,
// IngestBatch) are called in order by the acker goroutine, so that encoding
// and writing acks is not the pipeline's work: the pipeline goes on to the
// next batch while the acker answers this one.
func (s *Server) reply(batch []*request, resps []response) {
	var acks []ack
	for i, r := range batch {
		if r.cb != nil {
			if acks == nil {
				acks = make([]ack, 0, len(batch)-i)
			}
			acks = append(acks, ack{r.cb, resps[i]})
			continue
		}
		r.done <- resps[i]
	}
	if len(acks) > 0 {
		s.acks <- acks
	}
}

// ack is one callback's answer, for the acker.
type ack struct {
	cb   func(Result, error)
	resp response
}

// acker calls the callbacks of each committed (or failed) batch, in batch
// order, until the pipeline closes acks.
func (s *Server) acker() {
	defer close(s.ackerDone)
	for batch := range s.acks {
		for _, a := range batch {
			a.cb(a.resp.res, a.resp.err)
		}
	}
}

// deliver sends one event to its namespace's consumers. The caller holds bmu.
func (s *Server) deliver(d delivery) {
	if d.direct != nil {
		p := d.direct.payload()
		p["seq"] = d.ev.Seq
		if _, ok := p["event_id"]; !ok {
			p["event_id"] = event.NewID()
		}
		if _, ok := p["timestamp"]; !ok {
			p["timestamp"] = event.FormatTime(time.Now())
		}
		if d.direct.to != nil {
			_ = d.direct.to.Emit(d.direct.name, p)
			if d.direct.ack != nil {
				d.direct.ack(p)
			}
			return
		}
		_ = s.hub.Emit(d.direct.ns, roomLive, d.direct.name, p)
		return
	}
	ev := d.ev
	s.delivered.Add(1)
	s.metrics.broadcast.WithLabelValues(ev.Namespace).Inc()
	rooms := []string{roomAll}
	if ev.SessionID != "" {
		rooms = append(rooms, sessionRoom(ev.SessionID))
	}
	// one encoding for every client, none when nobody listens (broadcast.Hub.BroadcastFunc)
	if n := s.hub.BroadcastFunc(ev.Namespace, rooms, ev.Name, ev.Payload); n > 0 {
		s.metrics.sent.WithLabelValues(ev.Namespace).Add(float64(n))
	}
}

func sessionRoom(id string) string { return "session:" + id }

const (
	roomAll  = "all"  // consumers of every session's events
	roomLive = "live" // every consumer: heartbeats and other daemon-wide messages
)

func (s *Server) setDegraded(err error) {
	msg := storeHint(err) + err.Error()
	if prev := s.degraded.Swap(&msg); prev == nil {
		s.log.Error("event store failed; producers are refused until it recovers", "err", err)
	}
}

// storeHint puts SQLite's terse I/O errors into words.
func storeHint(err error) string {
	e := strings.ToLower(err.Error())
	switch {
	case strings.Contains(e, "full"):
		return "the disk holding the event store is full: "
	case strings.Contains(e, "readonly"), strings.Contains(e, "read-only"), strings.Contains(e, "read only"):
		return "the event store is read-only: "
	case strings.Contains(e, "disk i/o error"), strings.Contains(e, "ioerr"):
		return "the event store cannot write to its disk (full, read-only or failing): "
	}
	return ""
}

func (s *Server) setHealthy() {
	if prev := s.degraded.Swap(nil); prev != nil {
		s.log.Info("event store recovered", "previous_error", *prev)
	}
}

// Degraded returns why the store is failing, or "".
func (s *Server) Degraded() string {
	if p := s.degraded.Load(); p != nil {
		return *p
	}
	return ""
}

// Error codes in error acks and /emit errors, so producers can tell a
// refusal for what the event is (do not retry) from one for mpmd's state
// (retry later; mpm-hook keeps such events in its spool).
const (
	CodeInvalid      = "invalid"       // the event itself is wrong
	CodeStoreFailed  = "store_failed"  // transient: the store could not write it
	CodeOverloaded   = "overloaded"    // transient: the queue is full
	CodeShuttingDown = "shutting_down" // transient: mpmd is stopping
	CodeTimeout      = "timeout"       // transient: no answer in time
	CodeInternal     = "internal"
)

// errorCode classifies a pipeline error.
func errorCode(err error) string {
	var in *InputError
	var se *StoreError
	switch {
	case errors.As(err, &in):
		return CodeInvalid
	case errors.As(err, &se):
		return CodeStoreFailed
	case errors.Is(err, ErrOverloaded):
		return CodeOverloaded
	case errors.Is(err, ErrShuttingDown):
		return CodeShuttingDown
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return CodeTimeout
	}
	return CodeInternal
}

// errorBody is the JSON of an error ack or an /emit error answer.
func errorBody(err error) map[string]any {
	return map[string]any{"error": describe(err), "code": errorCode(err)}
}

func describe(err error) string {
	var se *StoreError
	if errors.As(err, &se) {
		return fmt.Sprintf("event not stored: %v", se.Err)
	}
	return err.Error()
}
