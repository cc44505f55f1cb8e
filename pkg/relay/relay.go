// Package relay is what mpm-hook does when Claude Code runs it: read one hook
// JSON object from stdin, turn it into a /hook event (see Build) and hand it
// to mpmd with one POST /emit, answered once the event is stored; or, when
// older events wait in the spool, drain them over a Socket.IO connection
// first and emit this one behind them; or append it to the spool when mpmd
// cannot take it in time.
//
// Run never fails and never writes to stdout or stderr: Claude Code reads a
// hook's stdout and exit code, and a relay that disturbs either harms the
// session it observes. Everything it has to say goes to a debug log file when
// CLAUDE_MPM_HOOK_DEBUG is set.
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/paths"
	"github.com/mpm-dev/mpm/pkg/spool"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// Defaults of Config's time limits. They are ceilings for a machine under
// load (a 20 MB input on two busy cores); a normal hook takes a few ms.
const (
	DefaultDeadline    = 700 * time.Millisecond
	DefaultReadTimeout = 400 * time.Millisecond
	DefaultSendTimeout = 250 * time.Millisecond
	DefaultDrainBudget = 100 * time.Millisecond
	// drainWindow is how many spooled events are in flight at once.
	drainWindow = 64
	// minRetryBudget is the least time left for a second connection.
	minRetryBudget = 30 * time.Millisecond
	// MaxInputBytes bounds the stdin read; the rest is discarded.
	MaxInputBytes = 64 << 20
)

// Config is one relay run.
type Config struct {
	Stdin  io.Reader
	Client wire.Options
	// AutoStart starts mpmd in the background when none is running.
	AutoStart bool
	// MpmdPath is the mpmd binary for AutoStart; default: next to this
	// executable, else from PATH.
	MpmdPath string
	Dirs     paths.Dirs
	Log      *slog.Logger
	Now      func() time.Time

	Deadline    time.Duration // reading, connecting, draining and sending; default 700ms
	ReadTimeout time.Duration // stdin, default 400ms
	SendTimeout time.Duration // connect + ack once the event is built, default 250ms
	DrainBudget time.Duration // spooled events before this one, default 100ms

	// HardDeadline, when set, calls Exit once it passes, whatever the
	// relay is doing; but first an event read and not yet acked or
	// spooled is spooled. On a machine so loaded that the relay's own
	// deadlines are overrun, the hook still ends in time and the event
	// is kept (a duplicate of one acked meanwhile is dropped by mpmd by
	// its event_id).
	HardDeadline time.Duration
	Exit         func()
}

func (c *Config) defaults() {
	if c.Stdin == nil {
		c.Stdin = strings.NewReader("")
	}
	if c.Dirs == (paths.Dirs{}) {
		c.Dirs = paths.Resolve()
	}
	if c.Client.DiscoveryFile == "" {
		c.Client.DiscoveryFile = c.Dirs.Discovery()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Deadline, DefaultDeadline)
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.SendTimeout, DefaultSendTimeout)
	def(&c.DrainBudget, DefaultDrainBudget)
}

// Outcome says what a run did with the event.
type Outcome struct {
	Event     string
	EventID   string
	Delivered bool  // mpmd acked it
	Seq       int64 // mpmd's seq when delivered
	Spooled   bool  // appended to the spool
	Drained   int   // spooled events delivered after it
	Err       error // why it was not delivered, or why spooling failed
}

// Run relays one hook input. It returns when the event was acked or spooled
// (or, should even the spool fail, when the deadline passed) and never panics.
func Run(cfg Config) (out Outcome) {
	cfg.defaults()
	start := cfg.Now()
	var rec spool.Record
	k := &keeper{dir: cfg.Dirs.Spool()}
	if cfg.HardDeadline > 0 && cfg.Exit != nil {
		t := time.AfterFunc(cfg.HardDeadline, func() {
			if k.keep() {
				cfg.Log.Warn("hard deadline: spooled the event before exiting")
			}
			cfg.Exit()
		})
		defer t.Stop()
	}
	defer func() {
		if r := recover(); r != nil {
			out.Err = fmt.Errorf("relay panic: %v", r)
			cfg.Log.Error("relay panic", "panic", r)
			// A bug must not cost the event: keep it if it was built.
			if !out.Delivered && !out.Spooled {
				out.Spooled = k.keep()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Deadline)
	defer cancel()

	// Discovery first (a file read), then stdin; the connection comes after.
	// Connecting while stdin was read, on a goroutine of its own, cost
	// more than it saved (≈0.45 ms at p50, docs/PERFORMANCE-hook.md): on
	// loopback the connect takes microseconds, while handing the result
	// between goroutines woke another thread on a busy machine.
	baseURL, discovered := wire.CandidateFrom(cfg.Client)
	input, readErr := readInput(cfg.Stdin, cfg.ReadTimeout)
	rec = Build(input, readErr, start)
	if _, ok := rec.Data["claude_pid"]; !ok && rec.Event != event.HookErrorEvent {
		rec.Data["claude_pid"] = claudePID()
	}
	k.built(rec)
	out.Event, out.EventID = rec.Event, rec.Data["event_id"].(string)
	cfg.Log.Debug("hook input", "url", baseURL, "from_discovery_file", discovered, "bytes", len(input), "event", rec.Event, "event_id", out.EventID, "read_error", readErr)

	sendCtx, sendCancel := context.WithTimeout(ctx, cfg.SendTimeout)
	defer sendCancel()
	// The connection is a plain TCP one for a POST /emit: one round trip,
	// acked once mpmd stored the event (wire.PostConn).
	pc, err := wire.DialPost(sendCtx, baseURL)
	if err != nil {
		out.Err = err
	}
	if pc != nil {
		if spooled(cfg) {
			// Spooled events are older than this one: they go first,
			// over a Socket.IO connection that keeps many in flight,
			// and this one behind them, so a session's events reach
			// mpmd in order.
			pc.Close()
			sendSocketIO(sendCtx, ctx, cfg, baseURL, rec, k, &out)
		} else {
			post(sendCtx, cfg, baseURL, pc, rec, k, &out)
		}
	}
	if !out.Delivered {
		cfg.Log.Debug("not delivered, spooling", "event_id", out.EventID, "err", out.Err)
		if err := k.spool(); err != nil {
			out.Err = errors.Join(out.Err, err)
			cfg.Log.Error("spool failed: event lost", "event_id", out.EventID, "err", err)
		} else {
			out.Spooled = true
		}
		if cfg.AutoStart && errors.Is(out.Err, wire.ErrNoDaemon) {
			if err := autoStart(cfg); err != nil {
				cfg.Log.Debug("auto-start", "err", err)
			}
		}
		return out
	}
	cfg.Log.Debug("delivered", "event_id", out.EventID, "seq", out.Seq, "drained", out.Drained, "after", cfg.Now().Sub(start))
	return out
}

// spooled reports whether the spool holds events (listing an empty
// directory is cheap; an error counts as "maybe": the Socket.IO path's drain
// then finds out).
func spooled(cfg Config) bool {
	s, err := spool.Open(cfg.Dirs.Spool())
	if err != nil {
		return false
	}
	n, err := s.Len()
	return err != nil || n > 0
}

// post delivers rec with one POST /emit on pc. A connection lost before the
// answer gets one more try on a fresh connection while the budget lasts: the
// event keeps its event_id, so a duplicate is dropped by mpmd.
func post(sendCtx context.Context, cfg Config, baseURL string, pc *wire.PostConn, rec spool.Record, k *keeper, out *Outcome) {
	for try := 0; ; try++ {
		ack, err := pc.Post(sendCtx, cfg.Client.Token, HookNamespace, rec.Event, rec.Data)
		if err == nil {
			k.settle()
			out.Delivered, out.Seq, out.Err = true, ack.Seq, nil
			return
		}
		out.Err = err
		var ae *wire.AckError
		if errors.As(err, &ae) || try > 0 {
			return
		}
		if dl, _ := sendCtx.Deadline(); time.Until(dl) < minRetryBudget {
			return
		}
		cfg.Log.Debug("retrying on a new connection", "event_id", out.EventID, "err", err)
		if pc, err = wire.DialPost(sendCtx, baseURL); err != nil {
			out.Err = errors.Join(out.Err, err)
			return
		}
	}
}

// sendSocketIO drains the spool and then delivers rec over one Socket.IO
// connection to /hook.
func sendSocketIO(sendCtx, ctx context.Context, cfg Config, baseURL string, rec spool.Record, k *keeper, out *Outcome) {
	dial := func(retries int) (*wire.Conn, error) {
		dl, _ := sendCtx.Deadline()
		return wire.Dial(sendCtx, baseURL, HookNamespace, wire.DialOptions{
			Token: cfg.Client.Token, Producer: true,
			ConnectTimeout: time.Until(dl) / 2, Retries: retries,
		})
	}
	send := func(conn *wire.Conn) (retry bool) {
		n, rest, err := drain(ctx, cfg, conn)
		out.Drained += n
		if err != nil || rest > 0 {
			out.Err = fmt.Errorf("%d older events are still spooled (%v); spooling this one behind them", rest, err)
			return false
		}
		ack, err := conn.Emit(sendCtx, rec.Event, rec.Data)
		if err == nil {
			k.settle()
			out.Delivered, out.Seq, out.Err = true, ack.Seq, nil
			return false
		}
		out.Err = err
		var ae *wire.AckError
		return !errors.As(err, &ae)
	}
	conn, err := dial(2)
	if err != nil {
		out.Err = err
		return
	}
	retry := send(conn)
	conn.Close()
	// A connection lost between handshake and ack gets one more try on a
	// fresh connection while the budget lasts.
	if dl, _ := sendCtx.Deadline(); retry && time.Until(dl) > minRetryBudget {
		cfg.Log.Debug("retrying on a new connection", "event_id", out.EventID, "err", out.Err)
		c2, err := dial(1)
		if err == nil {
			send(c2)
			c2.Close()
		} else {
			out.Err = errors.Join(out.Err, err)
		}
	}
}

// keeper spools the run's event exactly once, from the relay's own path or
// from the hard deadline's, whichever comes first.
type keeper struct {
	dir     string
	mu      sync.Mutex
	rec     spool.Record
	has     bool
	settled bool // acked or spooled
}

func (k *keeper) built(rec spool.Record) {
	k.mu.Lock()
	k.rec, k.has = rec, true
	k.mu.Unlock()
}

// settle records that the event was acked.
func (k *keeper) settle() {
	k.mu.Lock()
	k.settled = true
	k.mu.Unlock()
}

// spool appends the event unless that was done already.
func (k *keeper) spool() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.settled || !k.has {
		return nil
	}
	if err := spoolRecord(k.dir, k.rec); err != nil {
		return err
	}
	k.settled = true
	return nil
}

// keep spools the event if it is built and neither acked nor spooled, and
// reports whether it did.
func (k *keeper) keep() bool {
	k.mu.Lock()
	pending := k.has && !k.settled
	k.mu.Unlock()
	return pending && k.spool() == nil
}

func spoolRecord(dir string, rec spool.Record) error {
	s, err := spool.Open(dir)
	if err != nil {
		return err
	}
	return s.Append(rec)
}

// drain delivers spooled events through conn within the drain budget and
// reports how many it delivered and how many are left. An event mpmd refuses
// for what it is (bad name or data) would be refused forever: it is logged
// and dropped rather than left to block every later hook. A refusal about
// mpmd's state (it could not store the event) stops the drain, keeping the
// event.
func drain(ctx context.Context, cfg Config, conn *wire.Conn) (delivered, left int, err error) {
	s, err := spool.Open(cfg.Dirs.Spool())
	if err != nil {
		return 0, 0, err
	}
	// Listing an empty directory is cheap; skip the lock when there is
	// nothing to do, which is nearly always.
	if n, err := s.Len(); err != nil || n == 0 {
		return 0, 0, err
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.DrainBudget)
	defer cancel()
	// Up to drainWindow events go out before the first ack is awaited: mpmd
	// takes a connection's events in order and stores those in flight
	// together, so a backlog costs a round trip or two, not one per event.
	n, err := s.DrainWindow(dctx, drainWindow, func(r spool.Record) (func() error, error) {
		if r.Namespace != conn.Namespace() {
			cfg.Log.Warn("dropping a spooled event for another namespace", "namespace", r.Namespace, "event", r.Event)
			return func() error { return nil }, nil
		}
		keep := func(err error) error {
			var ae *wire.AckError
			if errors.As(err, &ae) && !ae.Transient() {
				cfg.Log.Warn("mpmd refused a spooled event; dropping it", "event", r.Event, "event_id", r.Data["event_id"], "err", err)
				return nil
			}
			return err
		}
		p, err := conn.Send(dctx, r.Event, r.Data)
		if err != nil {
			if err := keep(err); err != nil {
				return nil, err
			}
			return func() error { return nil }, nil // dropped
		}
		return func() error {
			_, err := p.Wait(dctx)
			return keep(err)
		}, nil
	})
	left, lerr := s.Len()
	cfg.Log.Debug("drained spool", "delivered", n, "left", left, "err", err)
	return n, left, errors.Join(err, lerr)
}

// readInput reads stdin up to MaxInputBytes, for at most timeout. What it
// returns is all that arrived; the error says why it may be incomplete.
func readInput(r io.Reader, timeout time.Duration) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	var buf safeBuffer
	go func() {
		b, err := readBounded(r, &buf)
		ch <- result{b, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case res := <-ch:
		return res.b, res.err
	case <-t.C:
		return buf.snapshot(), fmt.Errorf("stdin was not closed within %s", timeout)
	}
}

func readBounded(r io.Reader, buf *safeBuffer) ([]byte, error) {
	// Most hook inputs are a few KB: start small (two 64 KiB buffers
	// were a third of what a relay run allocates, each a fresh span to
	// fault in) and grow the read chunk while reads fill it.
	size := 8 << 10
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = int(min(max(fi.Size()+1, 512), MaxInputBytes+1))
		}
	}
	buf.grow(size)
	chunk := make([]byte, min(size, 1<<20))
	for {
		n, err := r.Read(chunk)
		if n > 0 {
			if buf.add(chunk[:n], MaxInputBytes) {
				// Over the limit: the rest is not read, so the writer
				// (Claude Code) may see EPIPE; it does not wait for it.
				return buf.snapshot(), fmt.Errorf("input is larger than %d MiB; the rest was not read", MaxInputBytes>>20)
			}
			if n == len(chunk) && len(chunk) < 1<<20 {
				chunk = make([]byte, min(4*len(chunk), 1<<20))
			}
		}
		if errors.Is(err, io.EOF) {
			return buf.snapshot(), nil
		}
		if err != nil {
			return buf.snapshot(), fmt.Errorf("read stdin: %w", err)
		}
	}
}

// DebugLogger returns a logger that appends to logs/mpm-hook.log when
// CLAUDE_MPM_HOOK_DEBUG is "1" or "true", else one that discards, and a
// function to close the file.
func DebugLogger(d paths.Dirs) (*slog.Logger, *os.File) {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CLAUDE_MPM_HOOK_DEBUG")))
	if v != "1" && v != "true" && v != "yes" && v != "on" {
		return slog.New(slog.DiscardHandler), nil
	}
	if err := os.MkdirAll(d.Logs(), 0o700); err != nil {
		return slog.New(slog.DiscardHandler), nil
	}
	f, err := os.OpenFile(filepath.Join(d.Logs(), "mpm-hook.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return slog.New(slog.DiscardHandler), nil
	}
	h := slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h).With("pid", os.Getpid()), f
}
