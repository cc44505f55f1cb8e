package spool_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/spool"
)

// TestMain doubles as a writer process for TestAppendConcurrentProcesses:
// with SPOOL_TEST_WRITER set it appends records and exits.
func TestMain(m *testing.M) {
	if dir := os.Getenv("SPOOL_TEST_WRITER"); dir != "" {
		s, err := spool.Open(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		id := os.Getenv("SPOOL_TEST_ID")
		for i := range 10 {
			if err := s.Append(rec(id, i, base)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var base = time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)

func rec(session string, i int, t0 time.Time) spool.Record {
	return spool.Record{Namespace: "/hook", Event: "pre_tool", Data: map[string]any{
		"event_id":   fmt.Sprintf("%s-%03d", session, i),
		"session_id": session,
		"timestamp":  t0.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00"),
		"n":          float64(i),
	}}
}

func mustOpen(tb testing.TB) *spool.Spool {
	tb.Helper()
	s, err := spool.Open(filepath.Join(tb.TempDir(), "spool"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func drainAll(tb testing.TB, s *spool.Spool) []spool.Record {
	tb.Helper()
	var got []spool.Record
	n, err := s.Drain(context.Background(), func(r spool.Record) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if n != len(got) {
		tb.Fatalf("Drain reported %d, sent %d", n, len(got))
	}
	return got
}

// checkPerSession verifies every session's records arrived once each, in order.
func checkPerSession(tb testing.TB, got []spool.Record, sessions, per int) {
	tb.Helper()
	if len(got) != sessions*per {
		tb.Fatalf("got %d records, want %d", len(got), sessions*per)
	}
	next := map[string]int{}
	seen := map[string]bool{}
	for _, r := range got {
		id := r.Data["event_id"].(string)
		if seen[id] {
			tb.Fatalf("record %s delivered twice", id)
		}
		seen[id] = true
		sid := r.Data["session_id"].(string)
		if got, want := int(r.Data["n"].(float64)), next[sid]; got != want {
			tb.Fatalf("session %s: got record %d, want %d (out of order)", sid, got, want)
		}
		next[sid]++
	}
}

func TestAppendDrainOrder(t *testing.T) {
	s := mustOpen(t)
	// Appended out of order: the hook that ran first may spool last.
	for _, i := range []int{2, 0, 3, 1, 4} {
		if err := s.Append(rec("a", i, base)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Len(); err != nil || n != 5 {
		t.Fatalf("Len = %d, %v; want 5", n, err)
	}
	got := drainAll(t, s)
	checkPerSession(t, got, 1, 5)
	if got, want := got[0].Namespace+" "+got[0].Event, "/hook pre_tool"; got != want {
		t.Errorf("record = %q, want %q", got, want)
	}
	if n, _ := s.Len(); n != 0 {
		t.Errorf("Len after drain = %d, want 0", n)
	}
}

func TestAppendConcurrentGoroutines(t *testing.T) {
	s := mustOpen(t)
	const writers, per = 50, 20
	appendConcurrently(t, s, writers, per)
	checkPerSession(t, drainAll(t, s), writers, per)
}

// appendConcurrently has writers goroutines append per records each, of
// session s<writer>, with increasing times, so each writer's order
// survives being split across drains.
func appendConcurrently(t *testing.T, s *spool.Spool, writers, per int) {
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				if err := s.Append(rec("s"+strconv.Itoa(w), i, base)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// Processes append while a drainer takes the log away under them, again and
// again: every record is delivered once, in its session's order.
func TestAppendConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 50 processes")
	}
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := spool.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []spool.Record
	collect := func(r spool.Record) error { got = append(got, r); return nil }
	during := 0 // drains that delivered while the writers ran
	stop, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := s.Drain(context.Background(), collect)
			if err != nil {
				t.Error(err)
				return
			}
			if n > 0 {
				during++
			}
			time.Sleep(time.Millisecond)
		}
	}()
	const writers = 50
	cmds := make([]*exec.Cmd, writers)
	for w := range writers {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SPOOL_TEST_WRITER="+dir, "SPOOL_TEST_ID=p"+strconv.Itoa(w))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[w] = cmd
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer %d: %v", cmd.Process.Pid, err)
		}
	}
	close(stop)
	<-drained
	t.Logf("%d drains delivered records while the writers ran", during)
	if _, err := s.Drain(context.Background(), collect); err != nil {
		t.Fatal(err)
	}
	checkPerSession(t, got, writers, 10)
}

func TestDrainStopsAtError(t *testing.T) {
	s := mustOpen(t)
	for i := range 5 {
		if err := s.Append(rec("a", i, base)); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("mpmd went away")
	calls := 0
	n, err := s.Drain(context.Background(), func(r spool.Record) error {
		calls++
		if calls == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 2 {
		t.Fatalf("Drain = %d, %v; want 2, %v", n, err, boom)
	}
	if l, _ := s.Len(); l != 3 {
		t.Fatalf("Len = %d, want 3 (the failed record stays)", l)
	}
	// More records arrive before the next drain.
	if err := s.Append(rec("a", 5, base)); err != nil {
		t.Fatal(err)
	}
	got := drainAll(t, s)
	if len(got) != 4 || got[0].Data["event_id"] != "a-002" || got[3].Data["event_id"] != "a-005" {
		t.Fatalf("second drain delivered %d from %v, want a-002 … a-005", len(got), got[0].Data["event_id"])
	}
}

func TestDrainContextEnds(t *testing.T) {
	s := mustOpen(t)
	for i := range 3 {
		if err := s.Append(rec("a", i, base)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := s.Drain(ctx, func(spool.Record) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("Drain = %d, %v; want 1, context.Canceled", n, err)
	}
}

func TestDrainConcurrentDrainersExactlyOnce(t *testing.T) {
	s := mustOpen(t)
	const sessions, per = 10, 30
	for sIdx := range sessions {
		for i := range per {
			if err := s.Append(rec("s"+strconv.Itoa(sIdx), i, base)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	var got []spool.Record
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				n, err := s.Drain(context.Background(), func(r spool.Record) error {
					mu.Lock()
					got = append(got, r)
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	checkPerSession(t, got, sessions, per)
}

// A legacy record file (the file-per-record format of earlier versions) that
// does not decode moves to bad/ under its name; the rest is delivered.
func TestDrainQuarantinesCorruptLegacyRecord(t *testing.T) {
	s := mustOpen(t)
	if err := s.Append(rec("a", 1, base)); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(s.Dir(), "0000000000000-0000000000000000000-000000000000.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := drainAll(t, s)
	if len(got) != 1 {
		t.Fatalf("got %d records, want 1", len(got))
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "bad", filepath.Base(bad))); err != nil {
		t.Errorf("corrupt record not quarantined: %v", err)
	}
}

// appendRaw appends bytes to spool.log as a crashed or cut-short writer
// would have left them.
func appendRaw(tb testing.TB, s *spool.Spool, b string) {
	tb.Helper()
	f, err := os.OpenFile(filepath.Join(s.Dir(), "spool.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(b); err != nil {
		tb.Fatal(err)
	}
}

// A partial last line (a write cut short) goes to bad/ and never blocks the
// drain; a record appended after it on the same line is still delivered.
func TestDrainQuarantinesPartialLine(t *testing.T) {
	s := mustOpen(t)
	if err := s.Append(rec("a", 0, base)); err != nil {
		t.Fatal(err)
	}
	appendRaw(t, s, `{"namespace":"/hook","event":"pre_tool","data":{"event_id":"cut`)
	if err := s.Append(rec("a", 1, base)); err != nil {
		t.Fatal(err)
	}
	appendRaw(t, s, "{garbage}\n")
	if err := s.Append(rec("a", 2, base)); err != nil {
		t.Fatal(err)
	}
	appendRaw(t, s, `{"namespace":"/hook","ev`) // the last line, cut
	got := drainAll(t, s)
	checkPerSession(t, got, 1, 3)
	b, err := os.ReadFile(filepath.Join(s.Dir(), "bad", "lines.log"))
	if err != nil {
		t.Fatalf("bad lines not quarantined: %v", err)
	}
	want := `{"namespace":"/hook","event":"pre_tool","data":{"event_id":"cut` + "\n{garbage}\n" + `{"namespace":"/hook","ev` + "\n"
	if string(b) != want {
		t.Errorf("bad/lines.log = %q, want %q", b, want)
	}
	if n, _ := s.Len(); n != 0 {
		t.Errorf("Len after drain = %d, want 0", n)
	}
	if again := drainAll(t, s); len(again) != 0 {
		t.Errorf("second drain delivered %d", len(again))
	}
}

// Legacy record files are drained with the log's records, in event order.
func TestDrainLegacyRecords(t *testing.T) {
	s := mustOpen(t)
	for _, i := range []int{1, 3} {
		b, err := json.Marshal(rec("a", i, base))
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%013d-%019d-00000000000%d.json", base.UnixMilli()+int64(i), base.UnixNano(), i)
		if err := os.WriteFile(filepath.Join(s.Dir(), name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{0, 2, 4} {
		if err := s.Append(rec("a", i, base)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Len(); err != nil || n != 5 {
		t.Fatalf("Len = %d, %v; want 5", n, err)
	}
	checkPerSession(t, drainAll(t, s), 1, 5)
	if left, _ := filepath.Glob(filepath.Join(s.Dir(), "[^.]*")); len(left) != 0 {
		t.Errorf("left in the spool: %v", left)
	}
}

// Drains racing with appenders: every record is delivered exactly once across
// the racing drains and a final one.
func TestDrainRacingAppends(t *testing.T) {
	s := mustOpen(t)
	const writers, per = 8, 50
	var mu sync.Mutex
	var got []spool.Record
	collect := func(r spool.Record) error {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		return nil
	}
	stop := make(chan struct{})
	var drainers sync.WaitGroup
	for range 2 {
		drainers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Drain(context.Background(), collect); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	appendConcurrently(t, s, writers, per)
	close(stop)
	drainers.Wait()
	if _, err := s.Drain(context.Background(), collect); err != nil {
		t.Fatal(err)
	}
	checkPerSession(t, got, writers, per)
	if n, _ := s.Len(); n != 0 {
		t.Errorf("Len after the drains = %d, want 0", n)
	}
}

// DrainWindow starts up to window records before the oldest one's wait,
// removes them in order as their waits succeed, and at a failed wait keeps
// that record and every later one (their delivery is unknown).
func TestDrainWindowInFlightAndFailedWait(t *testing.T) {
	s := mustOpen(t)
	for i := range 10 {
		if err := s.Append(rec("a", i, base)); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("connection lost")
	var started []string
	inFlight, most := 0, 0
	n, err := s.DrainWindow(context.Background(), 4, func(r spool.Record) (func() error, error) {
		id := r.Data["event_id"].(string)
		started = append(started, id)
		inFlight++
		most = max(most, inFlight)
		return func() error {
			inFlight--
			if id == "a-005" {
				return boom
			}
			return nil
		}, nil
	})
	if !errors.Is(err, boom) || n != 5 {
		t.Fatalf("DrainWindow = %d, %v; want 5, %v", n, err, boom)
	}
	if most != 4 {
		t.Errorf("at most %d in flight, want 4", most)
	}
	if started[0] != "a-000" || started[len(started)-1] != "a-008" {
		t.Errorf("started %v, want a-000 … a-008 in order", started)
	}
	if inFlight != 0 {
		t.Errorf("%d waits never awaited", inFlight)
	}
	got := drainAll(t, s)
	if len(got) != 5 || got[0].Data["event_id"] != "a-005" {
		t.Fatalf("left %d records from %v, want 5 from a-005", len(got), got[0].Data["event_id"])
	}
}
