package bench

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// MemoryRow is one server holding N idle clients: its memory once they are
// connected and again after a held window, and its CPU over that window
// (nothing but heartbeats: the server's pings and the clients' pongs).
type MemoryRow struct {
	Server     string  `json:"server"`
	N          int     `json:"clients"`
	IdleRSS    int64   `json:"idle_rss"`     // before any client
	RSS        int64   `json:"rss"`          // after the connect and a settle
	HeldRSS    int64   `json:"held_rss"`     // at the end of the held window
	MemPerConn float64 `json:"mem_per_conn"` // (max(RSS, HeldRSS) − IdleRSS)/N
	ConnectSec float64 `json:"connect_seconds"`

	Held         time.Duration `json:"held_ns"`       // the idle window
	HeartbeatCPU time.Duration `json:"heartbeat_cpu"` // server utime+stime over it
	Pings        int64         `json:"pings"`         // pings the clients got in it
	Dropped      int           `json:"dropped"`       // clients the server closed
	Error        string        `json:"error,omitempty"`
}

// HeartbeatCores is the server's CPU over the held window, in cores.
func (r MemoryRow) HeartbeatCores() float64 {
	if r.Held <= 0 {
		return 0
	}
	return r.HeartbeatCPU.Seconds() / r.Held.Seconds()
}

// CPUPerPing is the server's CPU per heartbeat (ping sent, pong handled).
func (r MemoryRow) CPUPerPing() time.Duration {
	if r.Pings <= 0 {
		return 0
	}
	return r.HeartbeatCPU / time.Duration(r.Pings)
}

// raiseFileLimit lifts this process's open-file limit to its hard limit
// (the servers it starts inherit it) and returns the limit in force.
func raiseFileLimit() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	return l.Cur
}

// memory starts spec afresh, connects n idle clients (the load generator's
// own websocket clients: each answers pings and reads nothing else), reads
// the server's RSS after a settle, holds them for c.Held, and reads its
// RSS and CPU again. One server at a time: at 10,000 clients the generator
// holds 10,000 sockets, the server as many.
func (c *Config) memory(ctx context.Context, spec ServerSpec, n int) (MemoryRow, error) {
	row := MemoryRow{Server: spec.Name, N: n, Held: c.Held}
	if lim := raiseFileLimit(); lim != 0 && uint64(n)+256 > lim {
		return row, fmt.Errorf("%d clients need %d open files in the load generator and in the server; the limit is %d (ulimit -Hn)", n, n+256, lim)
	}
	p, err := Start(ctx, spec, c.Tmp)
	if err != nil {
		return row, err
	}
	defer p.Stop()
	idle := settle(p.PID)
	row.IdleRSS = idle.RSS
	t := time.Now()
	f, err := connectFleet(ctx, p.URL, c.Namespace, n)
	if f == nil {
		f = &fleet{}
	}
	defer f.close()
	if err != nil {
		return row, fmt.Errorf("%s: %w", spec.Name, err)
	}
	row.ConnectSec = time.Since(t).Seconds()
	s0 := settle(p.PID)
	row.RSS = s0.RSS
	pings0 := f.pings()
	select {
	case <-ctx.Done():
		return row, ctx.Err()
	case <-time.After(c.Held):
	}
	s1, err := readProc(p.PID)
	if err != nil {
		return row, err
	}
	row.HeldRSS = s1.RSS
	row.HeartbeatCPU = s1.CPU - s0.CPU
	row.Pings = f.pings() - pings0
	row.Dropped = f.closedCount()
	row.MemPerConn = float64(max(row.RSS, row.HeldRSS)-row.IdleRSS) / float64(n)
	c.logf("memory N=%d %s: connected in %.2fs, RSS idle %s, with clients %s, after %v held %s (%.1f KiB/conn); heartbeats %d pings, %.4f cores, %v CPU/ping, dropped %d",
		n, spec.Name, row.ConnectSec, mib(row.IdleRSS), mib(row.RSS), c.Held, mib(row.HeldRSS), row.MemPerConn/1024,
		row.Pings, row.HeartbeatCores(), row.CPUPerPing(), row.Dropped)
	return row, nil
}
