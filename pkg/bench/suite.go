package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Config is one whole comparison run.
type Config struct {
	Servers []ServerSpec // normally mpmd then node
	Tmp     string       // parent of the servers' private directories
	Log     io.Writer    // progress lines

	Namespace   string        // consumers' and producers' namespace, "/hook"
	Clients     []int         // fan-out N values: 10, 100, 1000
	Phase       time.Duration // length of each sending phase
	Drain       time.Duration
	Memory      []int         // idle clients held for the memory series: 500, 10000
	Held        time.Duration // how long the memory series holds them (heartbeat CPU)
	Growth      []int         // connected clients for the growth series
	GrowthRate  float64       // deliveries/s offered at each growth step (events/s = GrowthRate/N)
	StoreTarget int64         // stored events to reach in the ingest series (mpmd)
	StoreChunk  int64         // events per ingest measurement
	StoreBudget time.Duration // longest time the store fill may take

	SkipFanout, SkipMemory, SkipIngest, SkipGrowth, SkipRealistic bool

	// The realistic series: Node and clients.js (bench/node-ref) run
	// NodeBin ClientsScript URL NS N.
	NodeBin, ClientsScript string
}

// FanoutRow is one server at one N.
type FanoutRow struct {
	Server     string  `json:"server"`
	N          int     `json:"clients"`
	IdleRSS    int64   `json:"idle_rss"`
	ClientsRSS int64   `json:"clients_rss"`
	MemPerConn float64 `json:"mem_per_conn"`
	ConnectSec float64 `json:"connect_seconds"`
	Phases     []Result
}

// IngestRow is one ingest measurement.
type IngestRow struct {
	Server      string `json:"server"`
	StoredStart int64  `json:"stored_before"`
	Result
}

// GrowthRow is one point of the connected-clients series.
type GrowthRow struct {
	Server     string        `json:"server"`
	N          int           `json:"clients"`
	RSS        int64         `json:"rss"`
	MemPerConn float64       `json:"mem_per_conn"` // (RSS − idle RSS)/N
	IdleCores  float64       `json:"idle_cores"`
	Result     Result        `json:"load"`
	ConnectSec float64       `json:"connect_seconds"`
	Error      string        `json:"error,omitempty"`
	Settle     time.Duration `json:"-"`
}

// Report is everything a run measured.
type Report struct {
	Started    time.Time   `json:"started"`
	Finished   time.Time   `json:"finished"`
	Machine    Machine     `json:"machine"`
	LoadBefore string      `json:"loadavg_before"`
	LoadAfter  string      `json:"loadavg_after"`
	Realistic  []FanoutRow `json:"realistic"` // official socket.io-client listeners, /emit with 8 in flight, unpinned
	Fanout     []FanoutRow `json:"fanout"`
	Memory     []MemoryRow `json:"memory"`
	Ingest     []IngestRow `json:"ingest"`
	Growth     []GrowthRow `json:"growth"`
	Notes      []string    `json:"notes"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs    int    `json:"cpus"`
	Model   string `json:"model"`
	MemKB   int64  `json:"mem_kb"`
	GoVer   string `json:"go"`
	Loadgen string `json:"loadgen"`
}

func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVer: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.Model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &m.MemKB)
	}
	m.Loadgen = fmt.Sprintf("GOMAXPROCS=%d", runtime.GOMAXPROCS(0))
	return m
}

func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *Config) logf(format string, a ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "%s  "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, a...)...)
	}
}

// settle lets the Go GC and V8 finish with connection set-up before RSS is read.
func settle(pid int) procSample {
	time.Sleep(1500 * time.Millisecond)
	s, _ := readProc(pid)
	return s
}

// maxEventsFor bounds a phase's event count so the loss bitmaps stay small.
func maxEventsFor(n int) int64 {
	m := int64(20_000_000 / max(n, 1))
	return min(max(m, 1000), 2_000_000)
}

// Run performs the comparison: fan-out at each N, ingest and store growth,
// connected-clients growth. Each server is started fresh for each series.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	rep := &Report{Started: time.Now().UTC(), Machine: readMachine(), LoadBefore: loadAvg()}
	run := runID()
	if !cfg.SkipRealistic {
		for _, n := range cfg.Clients {
			rows, err := cfg.realisticAt(ctx, run, n)
			if err != nil {
				return rep, err
			}
			rep.Realistic = append(rep.Realistic, rows...)
		}
	}
	if !cfg.SkipFanout {
		for _, n := range cfg.Clients {
			rows, err := cfg.fanoutAt(ctx, run, n)
			if err != nil {
				return rep, err
			}
			rep.Fanout = append(rep.Fanout, rows...)
		}
	}
	if !cfg.SkipMemory {
		for _, n := range cfg.Memory {
			for _, spec := range cfg.Servers {
				row, err := cfg.memory(ctx, spec, n)
				if err != nil {
					row.Error = err.Error()
					cfg.logf("memory N=%d %s: %v", n, spec.Name, err)
				}
				rep.Memory = append(rep.Memory, row)
			}
		}
	}
	if !cfg.SkipIngest {
		for _, spec := range cfg.Servers {
			rows, err := cfg.ingest(ctx, run, spec)
			if err != nil {
				return rep, err
			}
			rep.Ingest = append(rep.Ingest, rows...)
		}
	}
	if !cfg.SkipGrowth {
		for _, spec := range cfg.Servers {
			rows, err := cfg.growth(ctx, run, spec)
			if err != nil {
				return rep, err
			}
			rep.Growth = append(rep.Growth, rows...)
		}
	}
	rep.Finished = time.Now().UTC()
	rep.LoadAfter = loadAvg()
	return rep, nil
}

// workersFor is the producer concurrency of fan-out phases: enough requests
// in flight that neither server waits for the generator (32 HTTP requests, or
// 16 Socket.IO producers × 32 unacknowledged emits).
func workersFor(p Path) int {
	if p == PathEmit {
		return 32
	}
	return 16
}

type live struct {
	proc  *Proc
	fleet *fleet
	r     *runner
	row   FanoutRow
}

func (c *Config) fanoutLoad(path Path, n int, rate float64) Load {
	return Load{
		Path:      path,
		Rate:      rate,
		Window:    max(16, int64(20_000/n)),
		Duration:  c.Phase,
		MaxEvents: maxEventsFor(n),
		Workers:   workersFor(path),
		AckWindow: 32,
		Drain:     c.Drain,
	}
}

// fanoutAt starts every server, connects n consumers to each, measures the
// servers' memory, then runs max-rate phases (/emit, /hook) on each and
// fixed-rate latency phases at half the slower server's sustained rate.
func (c *Config) fanoutAt(ctx context.Context, run string, n int) ([]FanoutRow, error) {
	var lives []*live
	defer func() {
		for _, l := range lives {
			if l.fleet != nil {
				l.fleet.close()
			}
			l.proc.Stop()
		}
	}()
	for _, spec := range c.Servers {
		p, err := Start(ctx, spec, c.Tmp)
		if err != nil {
			return nil, err
		}
		l := &live{proc: p, row: FanoutRow{Server: spec.Name, N: n}}
		lives = append(lives, l)
		idle := settle(p.PID)
		t := time.Now()
		f, err := connectFleet(ctx, p.URL, c.Namespace, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Name, err)
		}
		l.row.ConnectSec = time.Since(t).Seconds()
		l.fleet = f
		withClients := settle(p.PID)
		l.row.IdleRSS, l.row.ClientsRSS = idle.RSS, withClients.RSS
		l.row.MemPerConn = float64(withClients.RSS-idle.RSS) / float64(n)
		l.r = &runner{base: p.URL, ns: c.Namespace, run: run, server: spec.Name, pid: p.PID, fleet: f, client: newHTTPClient(32)}
		c.logf("fanout N=%d %s: connected in %.2fs, RSS idle %s, with clients %s (%.1f KiB/conn)",
			n, spec.Name, l.row.ConnectSec, mib(idle.RSS), mib(withClients.RSS), l.row.MemPerConn/1024)
	}
	sat := map[Path]float64{}
	for _, path := range []Path{PathEmit, PathHook} {
		for _, l := range lives {
			res, err := l.r.runPhase(ctx, c.fanoutLoad(path, n, 0))
			if err != nil {
				return nil, fmt.Errorf("%s max %s N=%d: %w", l.row.Server, path, n, err)
			}
			c.logf("  %s", res.line())
			l.row.Phases = append(l.row.Phases, res)
			ev := res.DeliveriesPerS / float64(n)
			if sat[path] == 0 || ev < sat[path] {
				sat[path] = ev
			}
		}
	}
	for _, path := range []Path{PathEmit, PathHook} {
		rate := sat[path] / 2
		if rate < 1 {
			rate = 1
		}
		for _, l := range lives {
			res, err := l.r.runPhase(ctx, c.fanoutLoad(path, n, rate))
			if err != nil {
				return nil, fmt.Errorf("%s rate %s N=%d: %w", l.row.Server, path, n, err)
			}
			c.logf("  %s", res.line())
			l.row.Phases = append(l.row.Phases, res)
		}
	}
	var rows []FanoutRow
	for _, l := range lives {
		rows = append(rows, l.row)
	}
	return rows, nil
}

// Ingest producers (issue 13 item 3): /emit with 32 requests in flight on
// keep-alive connections; /hook with many producer connections (64), each
// with up to 32 emits waiting for their acks — 2,048 events in flight, so
// group commit has what to batch.
const (
	ingestEmitInFlight = 32
	ingestHookConns    = 64
	ingestHookWindow   = 32
)

func ingestLoad(path Path, d time.Duration, maxEvents int64, drain time.Duration) Load {
	ld := Load{Path: path, Duration: d, MaxEvents: maxEvents, Workers: ingestEmitInFlight, Drain: drain}
	if path == PathHook {
		ld.Workers, ld.AckWindow = ingestHookConns, ingestHookWindow
	}
	return ld
}

// realisticAt starts every server, connects n official socket.io-client
// listeners (clients.js) to each, then runs a max-rate phase on each and a
// fixed-rate phase at half the slower server's rate, with /emit producers.
func (c *Config) realisticAt(ctx context.Context, run string, n int) ([]FanoutRow, error) {
	type rl struct {
		proc  *Proc
		fleet *nodeFleet
		r     *runner
		row   FanoutRow
	}
	var lives []*rl
	defer func() {
		for _, l := range lives {
			if l.fleet != nil {
				l.fleet.close()
			}
			l.proc.Stop()
		}
	}()
	for _, spec := range c.Servers {
		p, err := Start(ctx, spec, c.Tmp)
		if err != nil {
			return nil, err
		}
		l := &rl{proc: p, row: FanoutRow{Server: spec.Name, N: n}}
		lives = append(lives, l)
		idle := settle(p.PID)
		f, secs, err := startNodeFleet(ctx, c.NodeBin, c.ClientsScript, p.URL, c.Namespace, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Name, err)
		}
		l.fleet, l.row.ConnectSec = f, secs
		withClients := settle(p.PID)
		l.row.IdleRSS, l.row.ClientsRSS = idle.RSS, withClients.RSS
		l.row.MemPerConn = float64(withClients.RSS-idle.RSS) / float64(n)
		l.r = &runner{base: p.URL, ns: c.Namespace, run: run, server: spec.Name, pid: p.PID, client: newHTTPClient(realisticInFlight)}
		c.logf("realistic N=%d %s: %d socket.io-client listeners connected in %.2fs", n, spec.Name, n, secs)
	}
	load := func(rate float64) Load {
		return Load{Path: PathEmit, Rate: rate, Window: max(16, int64(20_000/n)), Duration: c.Phase,
			MaxEvents: maxEventsFor(n), Drain: c.Drain}
	}
	sat := 0.0
	for _, l := range lives {
		res, err := l.r.runRealistic(ctx, l.fleet, load(0))
		if err != nil {
			return nil, fmt.Errorf("%s realistic max N=%d: %w", l.row.Server, n, err)
		}
		c.logf("  realistic %s", res.line())
		l.row.Phases = append(l.row.Phases, res)
		if ev := res.DeliveriesPerS / float64(n); sat == 0 || ev < sat {
			sat = ev
		}
	}
	for _, l := range lives {
		res, err := l.r.runRealistic(ctx, l.fleet, load(max(sat/2, 1)))
		if err != nil {
			return nil, fmt.Errorf("%s realistic rate N=%d: %w", l.row.Server, n, err)
		}
		c.logf("  realistic %s", res.line())
		l.row.Phases = append(l.row.Phases, res)
	}
	var rows []FanoutRow
	for _, l := range lives {
		rows = append(rows, l.row)
	}
	return rows, nil
}

// prefillStore, when set (built with -tags benchprofile, see serve.go),
// writes events straight into an mpmd database until it holds n, in large
// batches, so that the 1M-event point does not cost minutes of ingest.
var prefillStore func(ctx context.Context, path string, n int64) error

// ingest measures events stored and acknowledged per second with no
// consumer, through /hook emits and /emit: on an empty store, after filling
// it through the server in chunks (each chunk measured) up to StoreChunk, and
// (for a server with a store) again at StoreTarget stored events.
func (c *Config) ingest(ctx context.Context, run string, spec ServerSpec) ([]IngestRow, error) {
	p, err := Start(ctx, spec, c.Tmp)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p != nil {
			p.Stop()
		}
	}()
	var rows []IngestRow
	stored := func() int64 {
		h, err := GetHealth(ctx, p.URL)
		if err != nil {
			return -1
		}
		return h.StoredEvents
	}
	runner := func() *runner {
		return &runner{base: p.URL, ns: c.Namespace, run: run, server: spec.Name, pid: p.PID, client: newHTTPClient(32)}
	}
	r := runner()
	both := func(label string) error {
		for _, path := range []Path{PathHook, PathEmit} {
			before := stored()
			ld := ingestLoad(path, c.Phase, 2_000_000, c.Drain)
			res, err := r.runPhase(ctx, ld)
			if err != nil {
				return fmt.Errorf("%s ingest %s: %w", spec.Name, path, err)
			}
			res.Mode = label
			c.logf("  %s (stored before %d)", res.line(), before)
			rows = append(rows, IngestRow{Server: spec.Name, StoredStart: before, Result: res})
		}
		return nil
	}
	c.logf("ingest %s", spec.Name)
	if err := both("empty"); err != nil {
		return rows, err
	}
	if stored() <= 0 {
		return rows, nil // no store: nothing grows
	}
	deadline := time.Now().Add(c.StoreBudget)
	fillTo := c.StoreChunk
	if prefillStore == nil {
		fillTo = c.StoreTarget
	}
	for {
		before := stored()
		if before >= fillTo || time.Now().After(deadline) {
			break
		}
		ld := ingestLoad(PathHook, time.Until(deadline), min(c.StoreChunk, fillTo-before), c.Drain)
		res, err := r.runPhase(ctx, ld)
		if err != nil {
			return rows, fmt.Errorf("%s store fill: %w", spec.Name, err)
		}
		res.Mode = "fill"
		c.logf("  fill: %s (stored before %d)", res.line(), before)
		rows = append(rows, IngestRow{Server: spec.Name, StoredStart: before, Result: res})
		if res.Accepted == 0 {
			break
		}
	}
	if err := both(fmt.Sprintf("at %d", stored())); err != nil {
		return rows, err
	}
	if prefillStore == nil || stored() >= c.StoreTarget || spec.DB == nil {
		return rows, nil
	}
	dir := p.Dir()
	p.Stop()
	t := time.Now()
	if err := prefillStore(ctx, spec.DB(dir), c.StoreTarget); err != nil {
		return rows, fmt.Errorf("prefill the store: %w", err)
	}
	c.logf("  prefilled the store to %d events in %.1fs (directly, not through mpmd)", c.StoreTarget, time.Since(t).Seconds())
	np, err := StartIn(ctx, spec, dir)
	if err != nil {
		p = nil // stopped above; the deferred Stop must not see it
		return rows, fmt.Errorf("restart on the prefilled store: %w", err)
	}
	p = np
	r = runner()
	idle := settle(p.PID)
	c.logf("  restarted on %d stored events: RSS %s", stored(), mib(idle.RSS))
	if err := both(fmt.Sprintf("at %d", stored())); err != nil {
		return rows, err
	}
	return rows, nil
}

// growth connects ever more clients to one fresh server and, at each step,
// reads its memory, its idle CPU, and its CPU under a fixed event rate.
func (c *Config) growth(ctx context.Context, run string, spec ServerSpec) ([]GrowthRow, error) {
	p, err := Start(ctx, spec, c.Tmp)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	idle := settle(p.PID)
	f := &fleet{}
	defer f.close()
	r := &runner{base: p.URL, ns: c.Namespace, run: run, server: spec.Name, pid: p.PID, fleet: f, client: newHTTPClient(16)}
	c.logf("growth %s: idle RSS %s", spec.Name, mib(idle.RSS))
	var rows []GrowthRow
	for _, n := range c.Growth {
		row := GrowthRow{Server: spec.Name, N: n}
		t := time.Now()
		if err := f.grow(ctx, p.URL, c.Namespace, n); err != nil {
			row.Error = err.Error()
			rows = append(rows, row)
			c.logf("  N=%d: %v", n, err)
			break
		}
		row.ConnectSec = time.Since(t).Seconds()
		s0 := settle(p.PID)
		row.RSS = s0.RSS
		row.MemPerConn = float64(s0.RSS-idle.RSS) / float64(n)
		time.Sleep(time.Second)
		s1, _ := readProc(p.PID)
		row.IdleCores = (s1.CPU - s0.CPU).Seconds() / 1.0
		ld := Load{Path: PathEmit, Rate: max(c.GrowthRate/float64(n), 1), Duration: c.Phase, MaxEvents: maxEventsFor(n), Workers: 4, Drain: c.Drain}
		res, err := r.runPhase(ctx, ld)
		if err != nil {
			return rows, fmt.Errorf("%s growth N=%d: %w", spec.Name, n, err)
		}
		row.Result = res
		c.logf("  N=%d RSS %s (%.1f KiB/conn) idle %.3f cores; %s", n, mib(row.RSS), row.MemPerConn/1024, row.IdleCores, res.line())
		rows = append(rows, row)
	}
	return rows, nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func (r Result) line() string {
	s := fmt.Sprintf("%-4s %-5s %-5s N=%-4d ingest %8.0f/s", r.Server, r.Path, r.Mode, r.N, r.IngestPerS)
	if r.N > 0 {
		s += fmt.Sprintf(" deliv %9.0f/s p50 %v p99 %v max %v lost %d dropped %d", r.DeliveriesPerS, r.P50, r.P99, r.Max, r.Lost, r.Dropped)
		s += fmt.Sprintf(" cpu/deliv %v", r.CPUPerDelivery)
	}
	s += fmt.Sprintf(" cpu/event %v srv %.2f cores gen %.2f cores", r.CPUPerEvent, r.ServerCores, r.LoadgenCores)
	if r.Refused+r.Errors > 0 {
		s += fmt.Sprintf(" refused %d errors %d", r.Refused, r.Errors)
	}
	if r.DrainIncomplete {
		s += " (drain incomplete)"
	}
	return s
}
