package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Path is how events enter the server.
type Path string

const (
	PathEmit Path = "emit" // HTTP POST /emit
	PathHook Path = "hook" // Socket.IO client emit with ack on the namespace
)

// Load says how one phase drives events in.
type Load struct {
	Path Path
	// Rate is the offered rate in events/s; 0 means as fast as the server
	// sustains: at most Window accepted events not yet received by every
	// connected consumer (closed-loop, so the server is never buried).
	Rate      float64
	Window    int64
	Duration  time.Duration // sending stops after this …
	MaxEvents int64         // … or after this many events
	Workers   int           // concurrent HTTP requests, or producer connections
	AckWindow int           // unacknowledged emits per producer connection
	Drain     time.Duration // longest wait for deliveries after sending stops
}

// Result is one phase's figures.
type Result struct {
	Server string `json:"server"`
	Path   Path   `json:"path"`
	Mode   string `json:"mode"` // "max" or "rate"
	N      int    `json:"clients"`

	Sent     int64 `json:"sent"`
	Accepted int64 `json:"accepted"`
	Refused  int64 `json:"refused"`
	Errors   int64 `json:"errors"`

	SendSeconds float64 `json:"send_seconds"`
	IngestPerS  float64 `json:"ingest_per_s"`
	OfferedPerS float64 `json:"offered_per_s,omitempty"`

	Deliveries     int64   `json:"deliveries"`
	Expected       int64   `json:"expected_deliveries"`
	Lost           int64   `json:"lost"`
	Duplicates     int64   `json:"duplicates"`
	Dropped        int     `json:"dropped_clients"`
	DeliverSeconds float64 `json:"deliver_seconds"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`

	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`

	ServerCPU       time.Duration `json:"server_cpu_ns"`
	CPUPerDelivery  time.Duration `json:"cpu_per_delivery_ns"`
	CPUPerEvent     time.Duration `json:"cpu_per_event_ns"`
	ServerCores     float64       `json:"server_cores"` // server CPU / wall time
	ServerRSSAfter  int64         `json:"server_rss_after"`
	LoadgenCores    float64       `json:"loadgen_cores"`
	DrainIncomplete bool          `json:"drain_incomplete,omitempty"`
}

// slot is one consumer's record of one phase. Only that consumer's reader
// writes it (under consumer.mu); recv is also read by the pacer.
type slot struct {
	recv atomic.Int64
	dup  int64
	seen []uint64
	h    hist
}

func (s *slot) record(seq int64, d time.Duration) {
	if seq < 0 || seq >= int64(len(s.seen))*64 {
		return
	}
	w, b := seq/64, uint(seq%64)
	if s.seen[w]&(1<<b) != 0 {
		s.dup++
		return
	}
	s.seen[w] |= 1 << b
	s.recv.Add(1)
	s.h.record(d)
}

// phase is one measured run; its id is in every payload so that a late
// event of an earlier phase is not counted in this one.
type phase struct {
	id        int64
	max       int64
	slots     []slot
	accepted  []atomic.Uint64 // bitmap of seqs the server accepted
	nAccepted atomic.Int64
	nRefused  atomic.Int64
	nErrors   atomic.Int64
}

func newPhase(id, maxEvents int64, n int) *phase {
	words := (maxEvents + 63) / 64
	ph := &phase{id: id, max: maxEvents, slots: make([]slot, n), accepted: make([]atomic.Uint64, words)}
	for i := range ph.slots {
		ph.slots[i].seen = make([]uint64, words)
	}
	return ph
}

func (ph *phase) accept(seq int64, ok bool) {
	if !ok {
		ph.nRefused.Add(1)
		return
	}
	ph.accepted[seq/64].Or(1 << uint(seq%64))
	ph.nAccepted.Add(1)
}

// payload builds the event data: a realistic PreToolUse-sized object
// (~300 bytes) carrying the benchmark's phase, seq and send time.
func appendPayload(b []byte, run string, phaseID, seq int64) []byte {
	b = append(b, `{"event_id":"bench-`...)
	b = append(b, run...)
	b = append(b, '-')
	b = strconv.AppendInt(b, phaseID, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","bench_phase":`...)
	b = strconv.AppendInt(b, phaseID, 10)
	b = append(b, `,"bench_seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"session_id":"bench-session-0001","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"go test -count=1 ./...","description":"Run the test suite"},"tool_use_id":"toolu_bench_`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","cwd":"/home/dev/project","sent_ns":`...)
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	b = append(b, '}')
	return b
}

// runner drives one phase.
type runner struct {
	base   string
	ns     string
	run    string
	server string
	pid    int
	fleet  *fleet // may be nil: ingest only
	client *http.Client
}

func newHTTPClient(workers int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        workers * 2,
			MaxIdleConnsPerHost: workers * 2,
			DisableCompression:  true,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// phaseSeq numbers phases process-wide.
var phaseSeq atomic.Int64

// runPhase runs one bounded phase and measures it.
func (r *runner) runPhase(ctx context.Context, ld Load) (Result, error) {
	n := 0
	if r.fleet != nil {
		n = len(r.fleet.cons)
	}
	ph := newPhase(phaseSeq.Add(1), ld.MaxEvents, n)
	if r.fleet != nil {
		r.fleet.setPhase(ph)
		defer r.fleet.setPhase(nil)
	}
	res := Result{Server: r.server, Path: ld.Path, N: n, Mode: "max"}
	if ld.Rate > 0 {
		res.Mode = "rate"
		res.OfferedPerS = ld.Rate
	}
	workers := max(ld.Workers, 1)

	ctx, cancel := context.WithTimeout(ctx, ld.Duration+ld.Drain+30*time.Second)
	defer cancel()

	// Producers first, so connecting them is not measured.
	var prods []*producer
	if ld.Path == PathHook {
		for i := 0; i < workers; i++ {
			p, err := newProducer(ctx, r.base, r.ns, max(ld.AckWindow, 1), ph.accept)
			if err != nil {
				for _, p := range prods {
					p.close()
				}
				return res, fmt.Errorf("connect producer: %w", err)
			}
			prods = append(prods, p)
		}
		defer func() {
			for _, p := range prods {
				p.close()
			}
		}()
	}

	before, err := readProc(r.pid)
	if err != nil {
		return res, err
	}
	selfBefore := selfCPU()
	t0 := time.Now()
	sendCtx, stopSend := context.WithDeadline(ctx, t0.Add(ld.Duration))
	defer stopSend()

	jobs := make(chan int64, 256)
	var sent atomic.Int64
	var wg sync.WaitGroup
	nsName := r.ns[1:]
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, 0, 1024)
			for seq := range jobs {
				sent.Add(1)
				switch ld.Path {
				case PathEmit:
					buf = append(buf[:0], `{"namespace":"`...)
					buf = append(buf, nsName...)
					buf = append(buf, `","event":"bench","data":`...)
					buf = appendPayload(buf, r.run, ph.id, seq)
					buf = append(buf, '}')
					ok, err := r.post(ctx, buf)
					if err != nil {
						ph.nErrors.Add(1)
						continue
					}
					ph.accept(seq, ok)
				case PathHook:
					p := prods[w]
					err := p.emit(ctx, seq, func(id int64) []byte {
						buf = append(buf[:0], "42"...)
						buf = append(buf, r.ns...)
						buf = append(buf, ',')
						buf = strconv.AppendInt(buf, id, 10)
						buf = append(buf, `["bench",`...)
						buf = appendPayload(buf, r.run, ph.id, seq)
						buf = append(buf, ']')
						return buf
					})
					if err != nil {
						ph.nErrors.Add(1)
					}
				}
			}
		}(w)
	}

	// The pacer hands out seqs: on a clock (Rate) or as the end-to-end window allows.
	stalled := pace(sendCtx, ld, t0, jobs, r.fleet != nil && ld.Window > 0,
		func() int64 { return ph.nRefused.Load() + ph.nErrors.Load() },
		func() int64 { return r.fleet.minReceived(ph) })
	close(jobs)
	wg.Wait()
	for _, p := range prods {
		p.drainAcks(ld.Drain)
	}
	tSend := time.Now()

	// Wait for every connected consumer to hold every accepted event.
	tLast := tSend
	var lastTotal int64 = -1
	drainEnd := tSend.Add(ld.Drain)
	incomplete := true
	for r.fleet != nil {
		want := ph.nAccepted.Load()
		var total int64
		done := true
		for i, cs := range r.fleet.cons {
			got := ph.slots[i].recv.Load()
			total += got
			if got < want && !cs.closed.Load() {
				done = false
			}
		}
		if total != lastTotal {
			lastTotal = total
			tLast = time.Now()
		}
		if done {
			incomplete = false
			break
		}
		if time.Now().After(drainEnd) || time.Since(tLast) > 8*time.Second {
			break
		}
		time.Sleep(500 * time.Microsecond)
	}
	if r.fleet == nil {
		incomplete = false
	}
	after, err := readProc(r.pid)
	if err != nil {
		return res, err
	}
	selfAfter := selfCPU()

	res.Sent = sent.Load()
	res.Accepted = ph.nAccepted.Load()
	res.Refused = ph.nRefused.Load()
	res.Errors = ph.nErrors.Load()
	res.setPhase(t0, tSend, tLast, before, after, selfAfter-selfBefore, incomplete || stalled)

	if r.fleet != nil {
		var h hist
		for i, cs := range r.fleet.cons {
			cs.mu.Lock()
			s := &ph.slots[i]
			res.Deliveries += s.recv.Load()
			res.Duplicates += s.dup
			for w := range ph.accepted {
				res.Lost += int64(bits.OnesCount64(ph.accepted[w].Load() &^ s.seen[w]))
			}
			h.merge(&s.h)
			cs.mu.Unlock()
		}
		res.Expected = res.Accepted * int64(n)
		res.Dropped = r.fleet.closedCount()
		res.setDeliveries(tLast.Sub(t0))
		res.P50, res.P99, res.Max = h.quantile(0.50), h.quantile(0.99), time.Duration(h.max)*time.Microsecond
	}
	return res, nil
}

// setPhase fills in what every fan-out phase measures alike from its
// start t0, the end of sending tSend, the drain's last progress tLast and
// the server's process before and after (res.Accepted set): the send rate,
// the server's CPU and cores over the phase's wall time (which it returns),
// the load generator's cores from its CPU gen, and CPU per accepted event.
func (res *Result) setPhase(t0, tSend, tLast time.Time, before, after procSample, gen time.Duration, incomplete bool) time.Duration {
	res.SendSeconds = tSend.Sub(t0).Seconds()
	res.IngestPerS = float64(res.Accepted) / res.SendSeconds
	res.DrainIncomplete = incomplete
	res.ServerCPU = after.CPU - before.CPU
	res.ServerRSSAfter = after.RSS
	wall := tLast.Sub(t0)
	if tSend.After(tLast) {
		wall = tSend.Sub(t0)
	}
	res.ServerCores = res.ServerCPU.Seconds() / wall.Seconds()
	res.LoadgenCores = gen.Seconds() / wall.Seconds()
	if res.Accepted > 0 {
		res.CPUPerEvent = res.ServerCPU / time.Duration(res.Accepted)
	}
	return wall
}

// setDeliveries sets the delivery rate over d and the server's CPU per
// delivery (res.Deliveries and res.ServerCPU set).
func (res *Result) setDeliveries(d time.Duration) {
	res.DeliverSeconds = d.Seconds()
	if res.DeliverSeconds > 0 {
		res.DeliveriesPerS = float64(res.Deliveries) / res.DeliverSeconds
	}
	if res.Deliveries > 0 {
		res.CPUPerDelivery = res.ServerCPU / time.Duration(res.Deliveries)
	}
}

// post sends one /emit request; ok reports a 2xx answer.
func (r *runner) post(ctx context.Context, body []byte) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+"/emit", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return false, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode/100 == 2, nil
}

// Measure connects n consumers to ns on a running server and runs each load
// in turn against it, returning one Result per load.
func Measure(ctx context.Context, t Target, ns string, n int, loads ...Load) ([]Result, error) {
	f, err := connectFleet(ctx, t.URL, ns, n)
	if err != nil {
		return nil, err
	}
	defer f.close()
	r := &runner{base: t.URL, ns: ns, run: runID(), server: t.Name, pid: t.PID, fleet: f, client: newHTTPClient(16)}
	var out []Result
	for _, ld := range loads {
		res, err := r.runPhase(ctx, ld)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}
