package relay_test

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/relay"
	"github.com/mpm-dev/mpm/pkg/spool"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// A machine so loaded that the relay overruns its own deadlines must not
// cost the event: when the hard deadline ends the hook, an event neither
// acked nor spooled yet is spooled first, and only once.
func TestHardDeadlineSpoolsFirst(t *testing.T) {
	// An "mpmd" that accepts connections and never answers: the relay
	// waits for its handshake until its (here long) budgets run out.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	root := t.TempDir()
	var exits atomic.Int32
	exited := make(chan struct{})
	done := make(chan relay.Outcome, 1)
	go func() {
		done <- relay.Run(relay.Config{
			Stdin:        strings.NewReader(input(1)),
			Client:       wire.Options{Port: ln.Addr().(*net.TCPAddr).Port},
			Dirs:         dirsOf(root),
			Deadline:     3 * time.Second,
			SendTimeout:  2 * time.Second,
			HardDeadline: 100 * time.Millisecond,
			Exit: func() {
				if exits.Add(1) == 1 {
					close(exited)
				}
			},
		})
	}()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the hard deadline did not end the run")
	}
	sp, err := spool.Open(dirsOf(root).Spool())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := sp.Len(); err != nil || n != 1 {
		t.Fatalf("spool holds %d events at the hard deadline (%v), want the one being sent", n, err)
	}
	// The relay's own path ends later and must not spool it again.
	out := <-done
	if out.Delivered {
		t.Fatalf("delivered to a server that never answers: %+v", out)
	}
	if n, _ := sp.Len(); n != 1 {
		t.Errorf("spool holds %d events after the run, want 1", n)
	}
}
