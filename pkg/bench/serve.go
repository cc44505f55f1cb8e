//go:build benchprofile

package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // the profiling listener of serveCmd
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/alecthomas/kong"
	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/server"
	"github.com/mpm-dev/mpm/pkg/store"
)

func init() {
	prefillStore = prefill
	extraCommands = append(extraCommands, kong.DynamicCommand("serve",
		"Run mpmd's server in this process with CPU profiling (for go tool pprof).", "", &serveCmd{}))
}

// serveCmd runs mpmd's server and store in this process, as `mpmd run`
// wires them (without the dashboard, the discovery file and the spool
// drain), so that a benchmark run can be profiled with go tool pprof:
// a CPU profile written at exit, and net/http/pprof on a second loopback
// port. mpmd itself has no profiling endpoint. It is built only with
// -tags benchprofile (bench/profile.sh does that), so that the load tool
// does not depend on the server package's API.
type serveCmd struct {
	Port       int    `default:"0" help:"Port to listen on."`
	DB         string `required:"" help:"Event store file."`
	CPUProfile string `name:"cpuprofile" help:"Write a CPU profile here when the server stops."`
	MemProfile string `name:"memprofile" help:"Write a heap profile here when the server stops."`
	PprofPort  int    `default:"0" help:"Serve net/http/pprof on this loopback port (0: off)."`
}

func (c *serveCmd) Run(ctx context.Context, w *ioPair) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)))
	if err != nil {
		return err
	}
	st, err := store.Open(c.DB)
	if err != nil {
		ln.Close()
		return err
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(w.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := server.New(server.Config{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Version: "bench-inprocess", RetentionCount: 1_000_000}, st, log)
	if c.PprofPort != 0 {
		pl, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.PprofPort)))
		if err != nil {
			return err
		}
		go func() { _ = http.Serve(pl, http.DefaultServeMux) }()
	}
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	fmt.Fprintf(w.err, "mpmd (in-process, for profiling) listening on http://%s/\n", ln.Addr())
	err = srv.Run(ctx, ln)
	if c.MemProfile != "" {
		if f, ferr := os.Create(c.MemProfile); ferr == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	return err
}

// prefill appends realistic /hook events to the store at path, 10,000 per
// transaction, until it holds n.
func prefill(ctx context.Context, path string, n int64) error {
	st, err := store.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().Add(-time.Hour)
	k := st.LastSeq()
	for st.Count() < n {
		tx, err := st.Begin(ctx)
		if err != nil {
			return err
		}
		for i := 0; i < 10_000 && st.Count()+int64(i) < n; i++ {
			k++
			sid := "prefill-session-" + strconv.FormatInt(k%64, 10)
			ev := &event.Event{ID: "prefill-" + strconv.FormatInt(k, 10), Namespace: "/hook", Name: "pre_tool",
				Time: now.Add(time.Duration(k) * time.Millisecond), SessionID: sid, Data: map[string]any{
					"session_id": sid, "hook_event_name": "PreToolUse", "tool_name": "Bash",
					"tool_input":  map[string]any{"command": "go test -count=1 ./...", "description": "Run the test suite"},
					"tool_use_id": "toolu_prefill_" + strconv.FormatInt(k, 10), "cwd": "/home/dev/project"}}
			if _, err := tx.Append(ctx, ev); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
