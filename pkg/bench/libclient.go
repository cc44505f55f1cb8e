package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/zishang520/socket.io/clients/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// dialLibConsumer connects one consumer with the project's Socket.IO client
// library instead of the raw reader. It exists to measure what the library
// costs the load generator (see docs/PERFORMANCE.md, "Load generator"); the
// numbers are taken with the raw reader.
func dialLibConsumer(ctx context.Context, base, ns string, idx int) (*consumer, error) {
	opts := socket.DefaultOptions()
	opts.SetTransports(types.NewSet(socket.WebSocket))
	opts.SetForceNew(true)
	opts.SetReconnection(false)
	s, err := socket.Connect(base+ns, opts)
	if err != nil {
		return nil, err
	}
	cs := &consumer{idx: idx, done: make(chan struct{}), lib: s}
	ready := make(chan error, 2)
	_ = s.Once("connect", func(...any) { ready <- nil })
	_ = s.Once("connect_error", func(a ...any) { ready <- fmt.Errorf("connect_error: %v", a) })
	_ = s.On("disconnect", func(...any) { cs.closed.Store(true) })
	s.OnAny(func(args ...any) { cs.onLibEvent(args) })
	select {
	case err := <-ready:
		if err != nil {
			s.Disconnect()
			return nil, err
		}
	case <-ctx.Done():
		s.Disconnect()
		return nil, ctx.Err()
	case <-time.After(15 * time.Second):
		s.Disconnect()
		return nil, fmt.Errorf("connect %s%s: no answer in 15s", base, ns)
	}
	close(cs.done)
	return cs, nil
}

func (cs *consumer) onLibEvent(args []any) {
	now := time.Now()
	if len(args) < 2 {
		return
	}
	m, ok := args[1].(map[string]any)
	if !ok {
		return
	}
	ph := cs.phase.Load()
	if ph == nil {
		return
	}
	pid, _ := m["bench_phase"].(float64)
	seq, _ := m["bench_seq"].(float64)
	sent, _ := m["sent_ns"].(float64)
	if int64(pid) != ph.id {
		return
	}
	cs.mu.Lock()
	ph.slots[cs.idx].record(int64(seq), now.Sub(time.Unix(0, int64(sent))))
	cs.mu.Unlock()
}
