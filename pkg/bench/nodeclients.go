package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The realistic fan-out series (issue 13 item 1): N listeners on the
// official JS socket.io-client (bench/node-ref/clients.js, one Node
// process, default transports: polling, then the upgrade to websocket),
// producers posting to /emit on keep-alive connections with 8 requests in
// flight, nothing pinned. It is what a user's setup looks like, where the
// raw-websocket series (fanout.go) is what the servers can do.

// realisticInFlight is the /emit requests in flight of the realistic series.
const realisticInFlight = 8

// nodeFleet is the Node process holding the N clients.
type nodeFleet struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	n     int

	phase   atomic.Int64
	minRecv atomic.Int64
	reports chan nodeReport
	exited  chan struct{}
	mu      sync.Mutex
	stderr  strings.Builder
}

// nodeReport is clients.js's answer to "report".
type nodeReport struct {
	Phase       int64   `json:"phase"`
	Deliveries  int64   `json:"deliveries"`
	Duplicates  int64   `json:"duplicates"`
	MinReceived int64   `json:"min_received"`
	Closed      int     `json:"closed"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	Maxus       float64 `json:"max_us"`
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 8192 {
		w.b.Write(p)
	}
	return len(p), nil
}

// startNodeFleet starts clients.js with n clients on url+ns and waits until
// every one is connected.
func startNodeFleet(ctx context.Context, node, script, url, ns string, n int) (*nodeFleet, float64, error) {
	f := &nodeFleet{n: n, reports: make(chan nodeReport, 1), exited: make(chan struct{})}
	f.cmd = exec.Command(node, script, url, ns, strconv.Itoa(n))
	f.cmd.Stderr = lockedWriter{&f.mu, &f.stderr}
	var err error
	if f.stdin, err = f.cmd.StdinPipe(); err != nil {
		return nil, 0, err
	}
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	if err := f.cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("start %s: %w", script, err)
	}
	ready := make(chan float64, 1)
	go func() {
		defer close(f.exited)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			kind, rest, _ := strings.Cut(line, " ")
			switch kind {
			case "ready":
				s, _ := strconv.ParseFloat(rest, 64)
				ready <- s
			case "prog":
				fs := strings.Fields(rest)
				if len(fs) >= 2 {
					id, _ := strconv.ParseInt(fs[0], 10, 64)
					m, _ := strconv.ParseInt(fs[1], 10, 64)
					if id == f.phase.Load() {
						f.minRecv.Store(m)
					}
				}
			case "report":
				var r nodeReport
				if json.Unmarshal([]byte(rest), &r) == nil {
					f.reports <- r
				}
			}
		}
		_ = f.cmd.Wait()
	}()
	select {
	case s := <-ready:
		return f, s, nil
	case <-f.exited:
		return nil, 0, fmt.Errorf("clients.js exited before its %d clients connected: %s", n, f.errText())
	case <-time.After(120 * time.Second):
		f.close()
		return nil, 0, fmt.Errorf("clients.js: %d clients not connected in 120 s", n)
	case <-ctx.Done():
		f.close()
		return nil, 0, ctx.Err()
	}
}

func (f *nodeFleet) errText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.TrimSpace(f.stderr.String())
}

func (f *nodeFleet) send(line string) error {
	_, err := io.WriteString(f.stdin, line+"\n")
	return err
}

// startPhase makes the clients count phase id (seqs below max) from now on.
func (f *nodeFleet) startPhase(id, max int64) error {
	f.phase.Store(id)
	f.minRecv.Store(0)
	err := f.send(fmt.Sprintf("phase %d %d", id, max))
	time.Sleep(50 * time.Millisecond) // the line is read before the first event is sent
	return err
}

func (f *nodeFleet) report(ctx context.Context) (nodeReport, error) {
	if err := f.send("report"); err != nil {
		return nodeReport{}, err
	}
	select {
	case r := <-f.reports:
		return r, nil
	case <-f.exited:
		return nodeReport{}, fmt.Errorf("clients.js exited: %s", f.errText())
	case <-time.After(30 * time.Second):
		return nodeReport{}, fmt.Errorf("clients.js did not report in 30 s")
	case <-ctx.Done():
		return nodeReport{}, ctx.Err()
	}
}

// close ends the process (its stdin closes: it disconnects its clients).
func (f *nodeFleet) close() {
	f.stdin.Close()
	select {
	case <-f.exited:
	case <-time.After(5 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.exited
	}
}

// runRealistic runs one phase of the realistic series: /emit producers
// (realisticInFlight requests in flight) against f's clients, at ld.Rate
// or, with no rate, as fast as the server sustains within ld.Window
// events not yet received by every client.
func (r *runner) runRealistic(ctx context.Context, f *nodeFleet, ld Load) (Result, error) {
	id := phaseSeq.Add(1)
	res := Result{Server: r.server, Path: PathEmit, N: f.n, Mode: "max"}
	if ld.Rate > 0 {
		res.Mode, res.OfferedPerS = "rate", ld.Rate
	}
	if err := f.startPhase(id, ld.MaxEvents); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, ld.Duration+ld.Drain+30*time.Second)
	defer cancel()
	var accepted, refused, errs, sent atomic.Int64
	before, err := readProc(r.pid)
	if err != nil {
		return res, err
	}
	genBefore := selfCPU()
	nodeBefore, _ := readProc(f.cmd.Process.Pid)
	t0 := time.Now()
	sendCtx, stopSend := context.WithDeadline(ctx, t0.Add(ld.Duration))
	defer stopSend()
	jobs := make(chan int64, 64)
	var wg sync.WaitGroup
	nsName := r.ns[1:]
	for range realisticInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 1024)
			for seq := range jobs {
				sent.Add(1)
				buf = append(buf[:0], `{"namespace":"`...)
				buf = append(buf, nsName...)
				buf = append(buf, `","event":"bench","data":`...)
				buf = appendPayload(buf, r.run, id, seq)
				buf = append(buf, '}')
				ok, err := r.post(ctx, buf)
				switch {
				case err != nil:
					errs.Add(1)
				case ok:
					accepted.Add(1)
				default:
					refused.Add(1)
				}
			}
		}()
	}
	stalled := pace(sendCtx, ld, t0, jobs, true,
		func() int64 { return refused.Load() + errs.Load() }, f.minRecv.Load)
	close(jobs)
	wg.Wait()
	tSend := time.Now()
	// Wait until every client has every accepted event (or progress stops).
	want := accepted.Load()
	tLast, last := tSend, int64(-1)
	incomplete := true
	for time.Since(tSend) < ld.Drain {
		m := f.minRecv.Load()
		if m != last {
			last, tLast = m, time.Now()
		}
		if m >= want {
			incomplete = false
			break
		}
		if time.Since(tLast) > 3*time.Second {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	after, err := readProc(r.pid)
	if err != nil {
		return res, err
	}
	genAfter := selfCPU()
	nodeAfter, _ := readProc(f.cmd.Process.Pid)
	rep, err := f.report(ctx)
	if err != nil {
		return res, err
	}
	res.Sent, res.Accepted, res.Refused, res.Errors = sent.Load(), accepted.Load(), refused.Load(), errs.Load()
	wall := res.setPhase(t0, tSend, tLast, before, after, (genAfter-genBefore)+(nodeAfter.CPU-nodeBefore.CPU), incomplete || stalled)
	res.Deliveries = rep.Deliveries
	res.Duplicates = rep.Duplicates
	res.Dropped = rep.Closed
	res.Expected = res.Accepted * int64(f.n)
	res.Lost = max(res.Expected-res.Deliveries, 0)
	res.setDeliveries(wall)
	us := func(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }
	res.P50, res.P99, res.Max = us(rep.P50us), us(rep.P99us), us(rep.Maxus)
	return res, nil
}

// MeasureRealistic connects n official socket.io-client listeners
// (clients.js, run by node) to ns on a running server and runs each load
// (its Rate, Window, Duration, MaxEvents and Drain; /emit with
// realisticInFlight requests in flight) against them.
func MeasureRealistic(ctx context.Context, t Target, node, script, ns string, n int, loads ...Load) ([]Result, error) {
	f, _, err := startNodeFleet(ctx, node, script, t.URL, ns, n)
	if err != nil {
		return nil, err
	}
	defer f.close()
	r := &runner{base: t.URL, ns: ns, run: runID(), server: t.Name, pid: t.PID, client: newHTTPClient(realisticInFlight)}
	var out []Result
	for _, ld := range loads {
		res, err := r.runRealistic(ctx, f, ld)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}
