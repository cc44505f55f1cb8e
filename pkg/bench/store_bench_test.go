//go:build benchprofile

package bench

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

// BenchmarkStoreBatch measures pkg/store's cost per event against the
// number of events per transaction (Begin … Append × k … Commit): what
// mpmd's pipeline pays when its batches stay small. Run with
// go test -tags benchprofile -run '^$' -bench StoreBatch ./pkg/bench
func BenchmarkStoreBatch(b *testing.B) {
	for _, k := range []int{1, 4, 16, 64, 256} {
		b.Run("events_per_tx="+strconv.Itoa(k), func(b *testing.B) {
			st, err := store.Open(filepath.Join(b.TempDir(), "events.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			now := time.Now()
			n := 0
			b.ResetTimer()
			for n < b.N {
				tx, err := st.Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < k && n < b.N; i++ {
					n++
					ev := &event.Event{ID: "b-" + strconv.Itoa(n), Namespace: "/hook", Name: "bench", Time: now, SessionID: "bench-session-0001",
						Data: map[string]any{"session_id": "bench-session-0001", "hook_event_name": "PreToolUse", "tool_name": "Bash",
							"tool_input":  map[string]any{"command": "go test -count=1 ./...", "description": "Run the test suite"},
							"tool_use_id": "toolu_bench_" + strconv.Itoa(n), "cwd": "/home/dev/project", "sent_ns": float64(now.UnixNano())}}
					if _, err := tx.Append(ctx, ev); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/event")
		})
	}
}
