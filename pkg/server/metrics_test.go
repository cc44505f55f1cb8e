package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

// /metrics is Prometheus text that promtool accepts, with the counts of
// what mpmd did: events received by namespace, derived, deduplicated,
// broadcast, the commit latency histogram and the Go and process metrics.
func TestMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: `make test-deps` installs it (Debian package prometheus)")
	}
	st, err := store.Open(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := startServer(t, st)
	ingestHooks(t, ts.Server, hookInputs(t))
	// the same events again: all duplicates
	for i, in := range hookInputs(t)[:3] {
		data := map[string]any{"event_id": "hook-00" + string(rune('0'+i))}
		for k, v := range in {
			data[k] = v
		}
		if _, err := ts.Ingest(context.Background(), &event.Event{Namespace: "/hook", Name: "x", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	var body []byte
	eventually(t, 5*time.Second, "derived events in the metrics", func() bool {
		resp, err := http.Get(ts.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		return bytes.Contains(body, []byte(`mpmd_events_derived_total{namespace="/agent"}`))
	})
	for _, want := range []string{
		`socket_io_events_received_total{namespace="/hook"} 27`,
		`mpmd_events_deduplicated_total{namespace="/hook"} 3`,
		`mpmd_events_broadcast_total{namespace="/hook"} 27`,
		`socket_io_connected{namespace="/hook",transport="websocket"} 0`,
		"mpmd_store_commit_seconds_bucket", "mpmd_pipeline_queue_length", "mpmd_sessions 1",
		"go_goroutines", "process_resident_memory_bytes", "mpmd_slow_clients_dropped_total 0",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
