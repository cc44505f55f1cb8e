package mpmdcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mpm-dev/mpm/pkg/admin"
	"github.com/mpm-dev/mpm/pkg/adminui"
	"github.com/mpm-dev/mpm/pkg/cluster"
	"github.com/mpm-dev/mpm/pkg/dashboard"
	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/paths"
	"github.com/mpm-dev/mpm/pkg/server"
	"github.com/mpm-dev/mpm/pkg/spool"
	"github.com/mpm-dev/mpm/pkg/store"
	"github.com/mpm-dev/mpm/pkg/transcript/watch"
	"github.com/mpm-dev/mpm/pkg/version"
	"github.com/prometheus/client_golang/prometheus"
)

// RunCmd runs mpmd in the foreground until SIGINT or SIGTERM.
type RunCmd struct {
	ServeFlags
}

// Run starts the daemon and blocks until a signal stops it.
func (c *RunCmd) Run(env *Env) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.serve(ctx, env)
}

// checkBind refuses to expose an unauthenticated daemon to the network.
func (f *ServeFlags) checkBind() error {
	if f.Token != "" || f.Insecure || isLoopback(f.Host) {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without a token: anyone who can reach it could read your Claude Code sessions. "+
		"Set CLAUDE_MPM_SOCKETIO_TOKEN (or --token), listen on 127.0.0.1, or pass --insecure if you really mean it", f.Host)
}

// Bounds of the transport settings.
const (
	// mpm-hook sends events of up to 512 KiB of JSON (relay.MaxEventBytes);
	// with the packet's framing they must fit.
	minMaxPayload = 576 << 10
	// One polling POST is held in memory whole, and pkg/wire reads
	// messages of up to 64 MiB.
	maxMaxPayload = 64 << 20
	minTimer      = 100 * time.Millisecond
	maxTimer      = time.Hour
)

// checkTransport refuses transport settings mpmd cannot work with.
func (f *ServeFlags) checkTransport() error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"--ping-interval", f.PingInterval},
		{"--ping-timeout", f.PingTimeout},
		{"--connect-timeout", f.ConnectTimeout},
	} {
		if d.v < minTimer || d.v > maxTimer {
			return fmt.Errorf("%s must be between %v and %v, got %v", d.flag, minTimer, maxTimer, d.v)
		}
	}
	if f.MaxPayload < minMaxPayload || f.MaxPayload > maxMaxPayload {
		return fmt.Errorf("--max-payload must be between %d bytes (576 KiB: mpm-hook sends events of up to 512 KiB) and %d bytes (64 MiB), got %d", minMaxPayload, maxMaxPayload, f.MaxPayload)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (f *ServeFlags) corsOrigins() []string {
	var out []string
	for _, o := range f.CORSOrigin {
		for _, p := range strings.Split(o, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (f *ServeFlags) level() slog.Level {
	if d := strings.ToLower(os.Getenv("CLAUDE_MPM_HOOK_DEBUG")); d == "true" || d == "1" || d == "yes" {
		return slog.LevelDebug
	}
	var l slog.Level
	_ = l.UnmarshalText([]byte(f.LogLevel))
	return l
}

// openLog opens the log file under the state dir, keeping one older
// generation once it passes 10 MB.
func openLog(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "mpmd.log")
	if st, err := os.Stat(p); err == nil && st.Size() > 10<<20 {
		_ = os.Rename(p, p+".1")
	}
	return os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
}

func (c *RunCmd) serve(ctx context.Context, env *Env) error {
	if err := c.checkBind(); err != nil {
		return err
	}
	if err := c.checkTransport(); err != nil {
		return err
	}
	adminCfg, err := c.adminConfig()
	if err != nil {
		return err
	}
	level := c.level()
	var logOut io.Writer = env.Stderr
	if lf, err := openLog(env.Dirs.Logs()); err == nil {
		defer lf.Close()
		logOut = io.MultiWriter(env.Stderr, lf)
	} else {
		fmt.Fprintf(env.Stderr, "mpmd: cannot open the log file (logging to stderr only): %v\n", err)
	}
	lh := server.NewLogHandler(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level, AddSource: level == slog.LevelDebug}), level)
	log := slog.New(lh)

	// A discovery file naming a live mpmd means one is already running.
	if d, err := paths.ReadDiscovery(env.Dirs.Discovery()); err == nil && d.PID != os.Getpid() {
		return fmt.Errorf("mpmd is already running (pid %d) at %s; stop it with `mpmd stop` first", d.PID, d.URL)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
	if err != nil {
		return fmt.Errorf("cannot listen on %s:%d: %w (is another mpmd or program using the port? choose another with --port)", c.Host, c.Port, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port

	st, err := store.Open(c.DB)
	if err != nil {
		ln.Close()
		return fmt.Errorf("cannot open the event store: %w", err)
	}
	defer st.Close()

	prices, pricesFrom, err := loadPricing(c.Pricing, env.Dirs.Config)
	if err != nil {
		ln.Close()
		return err
	}
	var srv *server.Server
	var watcher *watch.Watcher
	if !c.NoTranscripts {
		roots := c.ClaudeProjects
		if len(roots) == 0 {
			roots = watch.DefaultRoots()
		}
		watcher, err = watch.New(watch.Config{
			Roots:   roots,
			Ingest:  func(ctx context.Context, evs []*event.Event) error { return srv.IngestBatch(ctx, evs) },
			Offsets: storeOffsets{st: st, log: log},
			Logger:  log.With("component", "transcripts"),
		})
		if err != nil {
			ln.Close()
			return fmt.Errorf("cannot read transcripts: %w", err)
		}
	}
	var dash = dashboard.Handler()
	cfg := server.Config{
		Host:           c.Host,
		Port:           port,
		Token:          c.Token,
		CORSOrigins:    c.corsOrigins(),
		Version:        version.Version,
		Heartbeat:      c.Heartbeat,
		RetentionAge:   c.RetentionAge,
		RetentionCount: c.RetentionCount,
		Dashboard:      dash,
		MaxBacklog:     c.MaxBacklog,
		Pricer:         tablePricer{prices},
		PingInterval:   c.PingInterval,
		PingTimeout:    c.PingTimeout,
		MaxPayload:     c.MaxPayload,
		ConnectTimeout: c.ConnectTimeout,
		Admin:          adminCfg,
		ModelBuild:     modelBuild(pricesFrom),
	}
	if adminCfg != nil && adminui.Built() {
		cfg.AdminUI = adminui.Handler()
	}
	if watcher != nil {
		cfg.Transcripts = watcher
	}
	var clog *cluster.Log
	if c.Redis != "" {
		if clog, err = c.openCluster(ctx, st, port, log); err != nil {
			ln.Close()
			return err
		}
		defer clog.Close() // before the store closes: it may write the outbox
		cfg.Log = clog
		if c.RedisAdminWait <= 0 {
			ln.Close()
			return fmt.Errorf("--redis-admin-timeout must be above 0, got %v", c.RedisAdminWait)
		}
		if adminCfg != nil {
			// The Admin UI sees and acts on every node (docs/ADMIN.md);
			// each node is one server in its list, by node id.
			ah := clog.AdminHost(cluster.AdminConfig{
				Readonly: adminCfg.Readonly, Feed: adminCfg.Mode != admin.ModeProduction, Timeout: c.RedisAdminWait})
			defer ah.Close() // before the log closes: it tells the others
			cfg.AdminCluster = ah.Wrap
			if adminCfg.ServerID == "" {
				adminCfg.ServerID = clog.Status().NodeID
			}
		}
	}
	srv = server.New(cfg, st, log)
	if clog != nil {
		srv.Registry().MustRegister(clog.Collectors()...)
	}
	spooled := prometheus.NewCounter(prometheus.CounterOpts{Name: "mpmd_spool_events_delivered_total",
		Help: "Events mpm-hook spooled while mpmd was down, delivered by mpmd at start."})
	srv.Registry().MustRegister(spooled)
	if watcher != nil {
		registerWatcherMetrics(srv.Registry(), watcher)
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go watcher.Run(wctx)
	}
	lctx, stopLogs := context.WithCancel(ctx)
	defer stopLogs()
	lh.Attach(lctx, srv)

	url := fmt.Sprintf("http://%s/", net.JoinHostPort(displayHost(c.Host), strconv.Itoa(port)))
	disc := env.Dirs.Discovery()
	if err := paths.WriteDiscovery(disc, paths.Discovery{
		PID: os.Getpid(), Host: c.Host, Port: port, Version: version.Version, URL: url,
		Started: event.FormatTime(time.Now()),
	}); err != nil {
		log.Warn("cannot write the discovery file; mpm-hook will fall back to the port", "path", disc, "err", err)
	}
	defer paths.RemoveDiscovery(disc, os.Getpid())

	log.Info("mpmd listening", "url", url, "store", st.Path(), "stored_events", st.Count(), "last_seq", st.LastSeq(),
		"token_required", c.Token != "", "version", version.Version, "prices", orDefaultStr(pricesFrom, prices.Source), "transcripts", !c.NoTranscripts)
	if !dashboard.Built() {
		log.Warn("this binary was built without the dashboard; run `make build` to include it")
	}
	if !c.NoSpoolDrain {
		go drainSpool(ctx, env.Dirs.Spool(), srv, log, spooled)
	}
	if c.Pprof != "" {
		if err := servePprof(ctx, c.Pprof, log); err != nil {
			return err
		}
	}
	if c.Open {
		openBrowser(url)
	}
	// The start-up records go to /log before the first request is served,
	// so what /health counts at once does not change by itself a moment
	// later.
	fctx, cancelFlush := context.WithTimeout(ctx, 2*time.Second)
	lh.Flush(fctx)
	cancelFlush()
	err = srv.Run(ctx, ln)
	log.Info("mpmd stopped", "stored_events", st.Count(), "last_seq", st.LastSeq())
	return err
}

// openCluster joins the cluster whose log is in --redis.
func (c *RunCmd) openCluster(ctx context.Context, st *store.Store, port int, log *slog.Logger) (*cluster.Log, error) {
	if st.Path() == store.Memory {
		return nil, errors.New("--redis needs a store on disk (--db): a node resumes the cluster log from its store's last seq")
	}
	node := c.NodeID
	if node == "" {
		h, _ := os.Hostname()
		node = net.JoinHostPort(h, strconv.Itoa(port))
	}
	l, err := cluster.Open(ctx, cluster.Config{
		URL: c.Redis, NodeID: node, MaxLen: c.RedisMaxLen, DedupTTL: c.RedisDedupTTL, Logger: log,
	}, st)
	if err != nil {
		return nil, fmt.Errorf("cannot join the cluster: %w", err)
	}
	log.Info("cluster node", "node_id", node, "redis", l.Status().Redis, "applied_seq", l.Status().AppliedSeq, "outbox", l.Status().Outbox)
	return l, nil
}

func displayHost(h string) string {
	if h == "" || h == "0.0.0.0" || h == "::" {
		return "127.0.0.1"
	}
	return h
}

// drainSpool delivers the events mpm-hook spooled while mpmd was down.
func drainSpool(ctx context.Context, dir string, srv *server.Server, log *slog.Logger, delivered prometheus.Counter) {
	sp, err := spool.Open(dir)
	if err != nil {
		log.Warn("cannot open the hook spool", "dir", dir, "err", err)
		return
	}
	n, err := sp.Drain(ctx, func(r spool.Record) error {
		ev := &event.Event{Namespace: r.Namespace, Name: r.Event, Data: r.Data}
		_, err := srv.Ingest(ctx, ev)
		var in *server.InputError
		if errors.As(err, &in) {
			log.Warn("dropping a spooled event mpmd cannot accept", "event", r.Event, "err", err)
			return nil
		}
		return err
	})
	delivered.Add(float64(n))
	if n > 0 || err != nil {
		log.Info("delivered spooled hook events", "count", n, "err", err)
	}
}

func openBrowser(url string) {
	for _, cmd := range []string{"xdg-open", "open"} {
		if p, err := exec.LookPath(cmd); err == nil {
			c := exec.Command(p, url)
			if c.Start() == nil {
				go c.Wait()
			}
			return
		}
	}
}

// servePprof serves the runtime profiles on a loopback address until ctx ends.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !isLoopback(host) {
		return fmt.Errorf("--pprof %s: give a loopback address such as 127.0.0.1:6060 (profiles reveal the process's memory)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); hs.Close() }()
	go func() { _ = hs.Serve(ln) }()
	log.Info("profiles served", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}

// modelBuild names the code and prices the session model is derived with,
// so a snapshot of it is only restored by the same (pkg/server's
// Config.ModelBuild): mpmd's version, its binary (size and time, which a
// rebuild changes even when the version does not), and the prices file.
func modelBuild(pricesFrom string) string {
	b := version.Version
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			b += fmt.Sprintf(" exe:%d:%d", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	if pricesFrom != "" {
		if fi, err := os.Stat(pricesFrom); err == nil {
			b += fmt.Sprintf(" prices:%s:%d:%d", pricesFrom, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b
}
