package relay_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
	"github.com/mpm-dev/mpm/pkg/paths"
	"github.com/mpm-dev/mpm/pkg/relay"
	"github.com/mpm-dev/mpm/pkg/spool"
	"github.com/mpm-dev/mpm/pkg/wire"
)

func dirsOf(root string) paths.Dirs {
	return paths.Dirs{
		Config:  filepath.Join(root, "config", "mpm"),
		State:   filepath.Join(root, "state", "mpm"),
		Runtime: filepath.Join(root, "run", "mpm"),
	}
}

func input(i int) string {
	return `{"session_id":"run","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"echo ` + string(rune('0'+i)) + `"}}`
}

// TestRunDeliverSpoolDrain runs the relay in-process (so -race sees it)
// against the real mpmd: delivered while it runs, spooled while it is down,
// and the spool drained, in order, before the next live event.
func TestRunDeliverSpoolDrain(t *testing.T) {
	d := mpmdtest.Start(t)
	cfg := func(i int) relay.Config {
		return relay.Config{
			Stdin:  strings.NewReader(input(i)),
			Client: wire.Options{Port: d.Port},
			Dirs:   dirsOf(d.Root),
		}
	}
	// A loaded machine can make one run spool instead of deliver within
	// its short connect budget; the promise is that the next run that reaches mpmd
	// delivers it, in order. deliver runs from i on until one delivers and
	// returns the last i it used.
	deliver := func(i int) int {
		t.Helper()
		out := relay.Run(cfg(i))
		for try := 0; !out.Delivered && out.Spooled && try < 3; try++ {
			t.Logf("run %d spooled (%v); the next run must deliver it", i, out.Err)
			i++
			out = relay.Run(cfg(i))
		}
		if !out.Delivered || out.Seq == 0 || out.Event != "pre_tool" || out.Err != nil {
			t.Fatalf("mpmd up, run %d: %+v", i, out)
		}
		return i
	}
	first := deliver(0)

	d.Stop(t)
	for i := first + 1; i <= first+3; i++ {
		out := relay.Run(cfg(i))
		if out.Delivered || !out.Spooled {
			t.Fatalf("mpmd down: %+v", out)
		}
		// Known at once, not after a connect timeout.
		if !errors.Is(out.Err, wire.ErrNoDaemon) {
			t.Errorf("mpmd down: err %v, want ErrNoDaemon", out.Err)
		}
	}
	d = d.Restart(t)
	// mpmd drained the spool at start-up, or this run does.
	last := deliver(first + 4)
	s, _ := spool.Open(dirsOf(d.Root).Spool())
	if n, _ := s.Len(); n != 0 {
		t.Errorf("spool holds %d", n)
	}
	evs := d.Events(t, "namespace=hook&session_id=run")
	var got []string
	for _, ev := range evs {
		ti := ev["data"].(map[string]any)["tool_input"].(map[string]any)
		got = append(got, ti["command"].(string))
	}
	var want []string
	for i := 0; i <= last; i++ {
		want = append(want, "echo "+string(rune('0'+i)))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %s", got, want)
	}
}

func TestRunReadTimeout(t *testing.T) {
	// stdin that never closes: the relay gives up reading and spools a
	// hook_error (no mpmd here) well within its deadline.
	root := t.TempDir()
	r, w := ioPipe(t)
	defer w.Close()
	w.Write([]byte(`{"hook_event_name":"Stop"`))
	start := time.Now()
	out := relay.Run(relay.Config{Stdin: r, Client: wire.Options{Port: 1}, Dirs: dirsOf(root), ReadTimeout: 50 * time.Millisecond})
	if took := time.Since(start); took > relay.DefaultDeadline {
		t.Errorf("took %s", took)
	}
	if !out.Spooled || out.Event != "stop" {
		t.Errorf("outcome %+v, want a spooled stop salvaged from the cut input", out)
	}
}

// TestRunDrainsSpoolFirstWhileMpmdRuns: events spooled while mpmd runs (a
// hook that missed its budget) go out before the next hook's own event, over
// Socket.IO, in order; with an empty spool the event goes by POST /emit.
func TestRunDrainsSpoolFirstWhileMpmdRuns(t *testing.T) {
	d := mpmdtest.Start(t)
	dirs := dirsOf(d.Root)
	s, err := spool.Open(dirs.Spool())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Minute)
	for i := 0; i < 3; i++ {
		rec := relay.Build([]byte(input(i)), nil, t0.Add(time.Duration(i)*time.Millisecond))
		if err := s.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	cfg := relay.Config{
		Stdin:       strings.NewReader(input(3)),
		Client:      wire.Options{Port: d.Port},
		Dirs:        dirs,
		SendTimeout: 3 * time.Second, Deadline: 4 * time.Second, DrainBudget: 2 * time.Second,
	}
	out := relay.Run(cfg)
	if !out.Delivered || out.Drained != 3 || out.Err != nil {
		t.Fatalf("outcome %+v, want delivered after draining 3", out)
	}
	if n, _ := s.Len(); n != 0 {
		t.Errorf("spool holds %d", n)
	}
	cfg.Stdin = strings.NewReader(input(4))
	if out := relay.Run(cfg); !out.Delivered || out.Drained != 0 || out.Err != nil {
		t.Fatalf("second run %+v", out)
	}
	var got []string
	for _, ev := range d.Events(t, "namespace=hook&session_id=run") {
		got = append(got, ev["data"].(map[string]any)["tool_input"].(map[string]any)["command"].(string))
	}
	if want := "echo 0,echo 1,echo 2,echo 3,echo 4"; strings.Join(got, ",") != want {
		t.Errorf("events %v, want %s", got, want)
	}
}
