package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
)

// cli is mpm-bench's command line.
type cli struct {
	Compare compareCmd `cmd:"" default:"withargs" help:"Run the whole comparison: mpmd (store on) and the reference Node server, fan-out at each N, ingest, growth."`
	Fanout  fanoutCmd  `cmd:"" help:"Measure one running server: connect N clients, drive events in, print the figures."`
	Report  reportCmd  `cmd:"" help:"Print the Markdown tables of a saved --json result file."`
	Growth  growthCmd  `cmd:"" help:"Growth to 10 M stored events: append cost, start-up, GET /api/events latency per query shape, the transcript reader (issue 13 item 5)."`
}

type reportCmd struct {
	File string `arg:"" help:"results-*.json written by compare --json."`
}

func (c *reportCmd) Run(w *ioPair) error {
	b, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("read %s: %w", c.File, err)
	}
	rep.Markdown(w.out)
	return nil
}

// extraCommands are commands compiled in only with build tags (see serve.go).
var extraCommands []kong.Option

type compareCmd struct {
	Mpmd       string        `default:"bin/mpmd" help:"mpmd binary."`
	Baseline   string        `help:"Another mpmd binary (an older build), measured too as server mpmd-baseline: before and after in the same run."`
	NodeScript string        `default:"bench/node-ref/server.js" help:"Reference Node server script (npm ci in its directory first)."`
	Node       string        `default:"node" help:"Node.js binary."`
	Quick      bool          `env:"BENCH_QUICK" help:"Seconds, not minutes: small N, short phases, small store."`
	Pin        bool          `env:"BENCH_PIN" default:"true" negatable:"" help:"Pin the servers to CPU 1 (GOMAXPROCS=1 for mpmd) and expect the load generator on CPU 0 (run.sh does that)."`
	Clients    []int         `default:"10,100,1000" help:"Fan-out client counts."`
	Memory     []int         `default:"500,10000" help:"Idle clients held for the memory series (one server at a time)."`
	Held       time.Duration `default:"60s" help:"How long the memory series holds its idle clients (heartbeat CPU over it; at least two ping intervals)."`
	Growth     []int         `default:"10,100,500,1000,2000,5000" help:"Connected clients for the growth series."`
	Phase      time.Duration `default:"5s" help:"Length of each sending phase."`
	Store      int64         `default:"1000000" help:"Stored events to reach in the ingest series."`
	StoreTime  time.Duration `default:"240s" help:"Longest time the store fill may take."`
	Only       []string      `enum:"mpmd,node" default:"mpmd,node" help:"Servers to run."`
	Skip       []string      `enum:"realistic,fanout,memory,ingest,growth," default:"" help:"Series to leave out (realistic: official socket.io-client listeners and /emit producers; fanout: the raw-websocket series)."`
	JSON       string        `help:"Also write the full results as JSON to this file."`
	Out        string        `help:"Write the Markdown tables to this file as well as stdout."`
	Tmp        string        `help:"Parent directory for the servers' private dirs (default: a new temp dir, removed at the end)."`
}

type fanoutCmd struct {
	URL       string        `required:"" help:"Server base URL, e.g. http://127.0.0.1:8765 (loopback only)."`
	PID       int           `required:"" help:"Server process id, for CPU time and RSS."`
	N         int           `short:"n" default:"10" help:"Clients."`
	Path      string        `enum:"emit,hook" default:"emit" help:"emit: POST /emit; hook: Socket.IO emits with ack."`
	Rate      float64       `help:"Offered events/s (0: as fast as the server sustains)."`
	Duration  time.Duration `default:"3s" help:"Sending time."`
	NS        string        `default:"/hook" help:"Namespace."`
	Client    string        `enum:"raw,lib,node" default:"raw" help:"raw: the tool's own websocket reader; lib: the Go Socket.IO client library (to measure its cost); node: the official JS socket.io-client (bench/node-ref/clients.js), with /emit producers (8 in flight) as the realistic series."`
	Clients   string        `default:"bench/node-ref/clients.js" help:"clients.js for --client node."`
	Node      string        `default:"node" help:"Node.js binary for --client node."`
	Workers   int           `default:"8" help:"Concurrent /emit requests, or producer connections."`
	AckWindow int           `default:"32" help:"Unacknowledged emits per producer connection."`
}

// Main runs mpm-bench with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	var c cli
	exited := false
	opts := append([]kong.Option{kong.Name("mpm-bench"),
		kong.Description("Load tool for mpmd: fan-out, ingest and growth, beside the reference Node socket.io server."),
		kong.Writers(stdout, stderr), kong.Exit(func(int) { exited = true })}, extraCommands...)
	parser, err := kong.New(&c, opts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	kctx, err := parser.Parse(args)
	if exited {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mpm-bench: %v\n", err)
		return 2
	}
	if kctx == nil {
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.Bind(&ioPair{stdout, stderr})
	if err := kctx.Run(); err != nil {
		fmt.Fprintf(stderr, "mpm-bench: %v\n", err)
		return 1
	}
	return 0
}

type ioPair struct{ out, err io.Writer }

func (f *fanoutCmd) Run(ctx context.Context, w *ioPair) error {
	t := Target{Name: "server", URL: f.URL, PID: f.PID}
	if f.Client == "node" {
		res, err := MeasureRealistic(ctx, t, f.Node, f.Clients, f.NS, max(f.N, 1), Load{Rate: f.Rate, Window: max(16, int64(20_000/max(f.N, 1))),
			Duration: f.Duration, MaxEvents: maxEventsFor(f.N), Drain: 10 * time.Second})
		for _, r := range res {
			fmt.Fprintln(w.out, r.line())
		}
		return err
	}
	r := &runner{base: t.URL, ns: f.NS, run: runID(), server: t.Name, pid: t.PID, client: newHTTPClient(f.Workers)}
	if f.N > 0 { // N=0 measures ingest alone
		fl := &fleet{lib: f.Client == "lib"}
		if err := fl.grow(ctx, t.URL, f.NS, f.N); err != nil {
			fl.close()
			return err
		}
		defer fl.close()
		r.fleet = fl
	}
	res, err := r.runPhase(ctx, Load{Path: Path(f.Path), Rate: f.Rate, Window: max(16, int64(20_000/max(f.N, 1))), Duration: f.Duration,
		MaxEvents: maxEventsFor(f.N), Workers: f.Workers, AckWindow: f.AckWindow, Drain: 10 * time.Second})
	if err != nil {
		return err
	}
	fmt.Fprintln(w.out, res.line())
	return nil
}

func (c *compareCmd) Run(ctx context.Context, w *ioPair) error {
	tmp := c.Tmp
	if tmp == "" {
		d, err := os.MkdirTemp("", "mpm-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		tmp = d
	}
	cpus := ""
	gmp := "2"
	if c.Pin {
		if _, err := exec.LookPath("taskset"); err != nil {
			return fmt.Errorf("--pin needs taskset (util-linux); pass --no-pin to run unpinned")
		}
		cpus, gmp = "1", "1"
	}
	mpmd, err := filepath.Abs(c.Mpmd)
	if err != nil {
		return err
	}
	script, err := filepath.Abs(c.NodeScript)
	if err != nil {
		return err
	}
	mpmdSpec := func(name, bin string) ServerSpec {
		return ServerSpec{Name: name, CPUs: cpus, Env: []string{"GOMAXPROCS=" + gmp},
			DB: func(dir string) string { return filepath.Join(dir, "events.db") },
			Argv: func(port int, dir string) []string {
				return []string{bin, "run", "--port", strconv.Itoa(port), "--db", filepath.Join(dir, "events.db")}
			}}
	}
	specs := map[string]ServerSpec{
		"mpmd": mpmdSpec("mpmd", mpmd),
		"node": {Name: "node", CPUs: cpus,
			Argv: func(port int, dir string) []string { return []string{c.Node, script} }},
	}
	cfg := Config{Tmp: tmp, Log: w.err, Namespace: "/hook", Clients: c.Clients, Phase: c.Phase, Drain: 15 * time.Second,
		NodeBin: c.Node, ClientsScript: filepath.Join(filepath.Dir(script), "clients.js"),
		Memory: c.Memory, Held: c.Held, Growth: c.Growth, GrowthRate: 10_000, StoreTarget: c.Store, StoreChunk: 100_000, StoreBudget: c.StoreTime}
	if c.Quick {
		cfg.Clients = []int{10, 50}
		cfg.Growth = []int{10, 100}
		cfg.Memory, cfg.Held = []int{100}, 3*time.Second
		cfg.Phase = time.Second
		cfg.Drain = 5 * time.Second
		cfg.StoreTarget, cfg.StoreChunk, cfg.StoreBudget = 20_000, 10_000, 20*time.Second
	}
	if c.Baseline != "" {
		base, err := filepath.Abs(c.Baseline)
		if err != nil {
			return err
		}
		cfg.Servers = append(cfg.Servers, mpmdSpec("mpmd-baseline", base))
	}
	for _, name := range c.Only {
		cfg.Servers = append(cfg.Servers, specs[name])
	}
	for _, s := range c.Skip {
		switch s {
		case "fanout":
			cfg.SkipFanout = true
		case "memory":
			cfg.SkipMemory = true
		case "ingest":
			cfg.SkipIngest = true
		case "growth":
			cfg.SkipGrowth = true
		case "realistic":
			cfg.SkipRealistic = true
		}
	}
	rep, err := Run(ctx, cfg)
	if rep != nil {
		if c.Pin {
			rep.Notes = append(rep.Notes, "Servers pinned to CPU 1 with taskset (mpmd GOMAXPROCS=1); the load generator runs on CPU 0.")
		} else {
			rep.Notes = append(rep.Notes, "Unpinned; mpmd GOMAXPROCS=2; load generator shares both cores.")
		}
		writeReport(w.out, rep, c.Out, c.JSON)
	}
	return err
}

// writeReport prints rep as Markdown to out and, when given, to the file
// mdPath too, and writes it as JSON to jsonPath. A file that cannot be
// written is left out: the report is on out.
func writeReport(out io.Writer, rep interface{ Markdown(io.Writer) }, mdPath, jsonPath string) {
	outs := []io.Writer{out}
	if mdPath != "" {
		if f, err := os.Create(mdPath); err == nil {
			defer f.Close()
			outs = append(outs, f)
		}
	}
	rep.Markdown(io.MultiWriter(outs...))
	if jsonPath != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		_ = os.WriteFile(jsonPath, b, 0o644)
	}
}
