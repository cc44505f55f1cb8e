package watch_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/transcript/watch"
)

const (
	sampleProject = "../testdata/projects/-home-user-proj"
	sampleSession = "d7e48aee-9368-4c80-a16b-8747364778e8"
	agentA        = "aa154b8ada56de8c7"
	agentB        = "acddcbf8a45f80f24"
)

// sink is a fake Ingest: it keeps every batch, and the events by id as the
// store does (a repeated id is a duplicate, dropped).
type sink struct {
	mu      sync.Mutex
	batches [][]*event.Event
	byID    map[string]*event.Event
	order   []string
	dups    int
	fail    error
}

func newSink() *sink { return &sink{byID: map[string]*event.Event{}} }

func (s *sink) ingest(_ context.Context, evs []*event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.batches = append(s.batches, evs)
	for _, e := range evs {
		if _, dup := s.byID[e.ID]; dup {
			s.dups++
			continue
		}
		s.byID[e.ID] = e
		s.order = append(s.order, e.ID)
	}
	return nil
}

func (s *sink) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

// events returns the stored events named name (all when name is ""), in order.
func (s *sink) events(name string) []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*event.Event
	for _, id := range s.order {
		if e := s.byID[id]; name == "" || e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func (s *sink) count(name string) int { return len(s.events(name)) }

// offsets is a test Offsets store that records each Save.
type offsets struct {
	mu    sync.Mutex
	m     map[string]int64
	saves []int64
}

func newOffsets() *offsets { return &offsets{m: map[string]int64{}} }

func (o *offsets) Load(p string) (int64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.m[p]
	return v, ok
}

func (o *offsets) Save(p string, off int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m[p] = off
	o.saves = append(o.saves, off)
}

func (o *offsets) get(p string) int64 {
	v, _ := o.Load(p)
	return v
}

// start runs a Watcher until the test ends.
func start(t *testing.T, cfg watch.Config) *watch.Watcher {
	t.Helper()
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	if cfg.IdlePoll == 0 {
		cfg.IdlePoll = 40 * time.Millisecond
	}
	w, err := watch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return w
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// copyTree copies the sample project into root and returns the main transcript's path.
func copySample(t *testing.T, root string) string {
	t.Helper()
	dst := filepath.Join(root, "-home-user-proj")
	err := filepath.WalkDir(sampleProject, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(sampleProject, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dst, sampleSession+".jsonl")
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	return lines[:len(lines)-1] // after the last newline: ""
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

var idRE = regexp.MustCompile(`^tx:[0-9a-f]{16}:(@\d+|[0-9a-f-]{36}):(output|thinking|usage|cost_state)$`)

// The sample session with two parallel subagents: following the main
// transcript finds both subagents' transcripts, and the events carry the
// contract's fields.
func TestFollowSession(t *testing.T) {
	root := t.TempDir()
	main := copySample(t, root)
	s := newSink()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest})
	w.Follow(sampleSession, main)
	waitFor(t, "the session's events", func() bool { return s.count("output") == 6 && s.count("cost_state") == 1 })
	waitFor(t, "the subagents' usage", func() bool { return s.count("usage") == 8 })

	if got := s.count("thinking"); got != 3 {
		t.Errorf("%d thinking events, want 3 (main and each subagent)", got)
	}
	agents := map[string]int{}
	for _, e := range s.events("") {
		if !idRE.MatchString(e.ID) || e.Namespace != "/claude" || e.SessionID != sampleSession || e.Data["session_id"] != sampleSession {
			t.Errorf("event %s %s: namespace %q session %q", e.ID, e.Name, e.Namespace, e.SessionID)
		}
		if a, ok := e.Data["agent_id"].(string); ok {
			agents[a]++
		}
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(e.Data["timestamp"])); err != nil {
			t.Errorf("%s: timestamp %v", e.ID, e.Data["timestamp"])
		}
	}
	if agents[agentA] == 0 || agents[agentB] == 0 || len(agents) != 2 {
		t.Errorf("events by agent: %v", agents)
	}

	var first *event.Event
	for _, e := range s.events("output") {
		if e.Data["uuid"] == "827c4e21-4c25-4a11-9be5-ccc2096aa48f" {
			first = e
		}
	}
	if first == nil {
		t.Fatal("no output event for the main transcript's first text")
	}
	want := map[string]any{
		"session_id": sampleSession, "message_id": "msg_0001", "request_id": "req_msg_0001", "model": "claude-opus-5-5",
		"requested_model": "claude-opus-5-5", "uuid": "827c4e21-4c25-4a11-9be5-ccc2096aa48f", "content": "Launching two agents.",
		"stream": "assistant", "timestamp": "2026-12-03T11:33:41.641Z",
	}
	if fmt.Sprint(first.Data) != fmt.Sprint(want) {
		t.Errorf("output data\n %v\nwant\n %v", first.Data, want)
	}
	if !strings.HasSuffix(first.ID, ":827c4e21-4c25-4a11-9be5-ccc2096aa48f:output") {
		t.Errorf("id %s", first.ID)
	}

	var in int64
	for _, e := range s.events("usage") {
		in += e.Data["input_tokens"].(int64)
		for _, k := range []string{"output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
			"cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens", "web_search_requests", "service_tier", "inference_geo", "speed", "message_id", "request_id", "model"} {
			if _, ok := e.Data[k]; !ok {
				t.Errorf("usage event lacks %s", k)
			}
		}
	}
	cs := s.events("cost_state")[0].Data
	mu := cs["model_usage"].(map[string]any)["claude-opus-5-5"].(map[string]any)
	if in != 800 || mu["input_tokens"] != int64(800) || cs["total_cost_usd"] != 0.012048000000000001 ||
		cs["total_api_duration_ms"] != int64(538) || cs["has_unknown_model_cost"] != false || mu["cost_usd"] != 0.012048000000000001 {
		t.Errorf("usage input %d; cost_state %v", in, cs)
	}
	if ts := cs["timestamp"]; ts == nil {
		t.Error("cost_state has no timestamp (it should take the last entry's)")
	}
	if s.dups != 0 {
		t.Errorf("%d duplicate ids", s.dups)
	}
}

// Half a line is held back until the rest arrives.
func TestIncrementalGrowth(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "p")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s1.jsonl")
	appendFile(t, path, "")
	s := newSink()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest})
	w.Follow("s1", path)

	line := assistantLine("u-1", "m1", "hello") + "\n"
	appendFile(t, path, line[:len(line)/2])
	waitFor(t, "half a line read", func() bool { return w.Stats().BytesRead == int64(len(line)/2) })
	if n := s.count(""); n != 0 {
		t.Fatalf("%d events from half a line", n)
	}
	appendFile(t, path, line[len(line)/2:])
	waitFor(t, "the completed line's events", func() bool { return s.count("output") == 1 && s.count("usage") == 1 })
	appendFile(t, path, assistantLine("u-2", "m1", "again")+"\n") // the same message: its usage is not new
	waitFor(t, "the next line", func() bool { return s.count("output") == 2 })
	if n := s.count("usage"); n != 1 {
		t.Errorf("%d usage events for one message", n)
	}
	if got := s.events("output")[1].Data["content"]; got != "again" {
		t.Errorf("content %v", got)
	}
	if got := s.events("output")[0].Data["session_id"]; got != "s" {
		t.Errorf("session %v: the line's own sessionId should win", got)
	}
}

func assistantLine(uuid, msg, text string) string {
	return `{"type":"assistant","uuid":"` + uuid + `","sessionId":"s","requestId":"r-` + msg + `","message":{"id":"` + msg +
		`","model":"claude-opus-5-5","content":[{"type":"text","text":"` + text +
		`"}],"usage":{"input_tokens":3,"output_tokens":4}},"timestamp":"2026-12-03T11:33:41.625Z"}`
}

// A second watcher sharing the first one's offsets reads only what was
// appended since: no id twice, none missing.
func TestRestartResumesFromSavedOffsets(t *testing.T) {
	root := t.TempDir()
	main := copySample(t, root)
	lines := readLines(t, main)
	cut := 30 // a line boundary between two API messages
	if err := os.WriteFile(main, []byte(strings.Join(lines[:cut], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	off := newOffsets()
	s := newSink()
	cfg := watch.Config{Roots: []string{root}, Ingest: s.ingest, Offsets: off}
	t.Run("first run", func(t *testing.T) { // its watcher stops when it ends
		w := start(t, cfg)
		w.Follow(sampleSession, main)
		waitFor(t, "the first part", func() bool { return off.get(main) == int64(len(strings.Join(lines[:cut], ""))) })
	})
	firstRun := s.count("")
	if firstRun == 0 {
		t.Fatal("the first run stored nothing")
	}
	appendFile(t, main, strings.Join(lines[cut:], ""))
	w := start(t, cfg)
	w.Follow(sampleSession, main)
	waitFor(t, "the rest", func() bool { return s.count("cost_state") == 1 })
	waitFor(t, "the subagents", func() bool { return s.count("output") == 6 })
	if s.dups != 0 {
		t.Errorf("the second run repeated %d ids", s.dups)
	}

	// the same as one read of the whole session
	whole := newSink()
	w2 := start(t, watch.Config{Roots: []string{root}, Ingest: whole.ingest})
	w2.Follow(sampleSession, main)
	waitFor(t, "a whole read", func() bool {
		return whole.count("output") == 6 && whole.count("cost_state") == 1 && whole.count("usage") == 8
	})
	if got, want := strings.Join(s.order, "\n"), strings.Join(whole.order, "\n"); len(s.order) != len(whole.order) || !sameSet(s.order, whole.order) {
		t.Errorf("resumed read's ids\n%s\nwhole read's\n%s", got, want)
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

// A file that shrinks or is replaced by a new one (Claude Code rewrites a
// long transcript into a new file renamed over the old) is read again from
// the start; the ids of lines read before are the same, so nothing doubles.
func TestTruncationAndReplacement(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "p")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s.jsonl")
	a, b, c := assistantLine("u-a", "ma", "A")+"\n", assistantLine("u-b", "mb", "B")+"\n", assistantLine("u-c", "mc", "C")+"\n"
	appendFile(t, path, a+b+c)
	s := newSink()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest})
	w.Follow("s", path)
	waitFor(t, "three lines", func() bool { return s.count("output") == 3 })

	// replaced: a new file (new inode) holding the lines kept, then a new one
	d := assistantLine("u-d", "md", "D") + "\n"
	tmp := filepath.Join(dir, "s.jsonl.tmp")
	if err := os.WriteFile(tmp, []byte(a+c+d), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replaced file's new line", func() bool { return s.count("output") == 4 })
	if st := w.Stats(); st.Restarts != 1 {
		t.Errorf("restarts %d, want 1", st.Restarts)
	}

	// truncated in place and written anew
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	e := assistantLine("u-e", "me", "E") + "\n"
	appendFile(t, path, e)
	waitFor(t, "the truncated file's line", func() bool { return s.count("output") == 5 })
	var got []string
	for _, ev := range s.events("output") {
		got = append(got, ev.Data["content"].(string))
	}
	if strings.Join(got, "") != "ABCDE" {
		t.Errorf("contents %v", got)
	}
	if s.dups == 0 {
		t.Error("no line was read again after the replacement (the store's de-duplication should have seen A and C twice)")
	}
}

func TestCostStateOncePerLine(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "p")
	_ = os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, "s.jsonl")
	cost := func(usd string) string {
		return `{"type":"cost-state","sessionId":"s","totalCostUSD":` + usd + `,"modelUsage":{"m":{"inputTokens":1,"costUSD":` + usd + `}},"hasUnknownModelCost":false}` + "\n"
	}
	appendFile(t, path, assistantLine("u1", "m1", "x")+"\n"+cost("0.5"))
	s := newSink()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest})
	w.Follow("s", path)
	waitFor(t, "the first cost-state", func() bool { return s.count("cost_state") == 1 })
	appendFile(t, path, cost("0.75"))
	waitFor(t, "the second cost-state", func() bool { return s.count("cost_state") == 2 })
	for range 3 {
		w.Follow("s", path) // hook events naming the file again
	}
	appendFile(t, path, assistantLine("u2", "m2", "after")+"\n")
	waitFor(t, "a line after the Follows", func() bool { return s.count("output") == 2 })
	evs := s.events("cost_state")
	if len(evs) != 2 || s.dups != 0 || evs[0].Data["total_cost_usd"] != 0.5 || evs[1].Data["total_cost_usd"] != 0.75 {
		t.Errorf("cost_state events %d (dups %d): %v", len(evs), s.dups, evs)
	}
	if !strings.Contains(evs[0].ID, ":@") {
		t.Errorf("cost-state id %s: want the line offset (it has no uuid)", evs[0].ID)
	}
}

// Offsets are saved only after Ingest accepted the events before them; a
// failing Ingest is retried from the last saved offset.
func TestOffsetSavedOnlyAfterIngest(t *testing.T) {
	root := t.TempDir()
	main := copySample(t, root)
	s := newSink()
	s.setFail(errors.New("store is down"))
	off := newOffsets()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest, Offsets: off})
	w.Follow(sampleSession, main)
	waitFor(t, "failed ingests", func() bool { return w.Stats().IngestErrors >= 2 })
	off.mu.Lock()
	saves := len(off.saves)
	off.mu.Unlock()
	if saves != 0 {
		t.Fatalf("%d offsets saved while Ingest failed", saves)
	}
	s.setFail(nil)
	size, _ := os.Stat(main)
	waitFor(t, "the retry", func() bool { return s.count("cost_state") == 1 && off.get(main) == size.Size() })
	if s.dups != 0 {
		t.Errorf("%d duplicates", s.dups)
	}
}

// Events come in batches of at most Batch, and a file bigger than
// ReadPerCycle is read over several cycles, each saving its offset.
func TestBatchesAndReadBound(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "p")
	_ = os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, "s.jsonl")
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintln(&b, assistantLine(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), fmt.Sprintf("m%d", i), strings.Repeat("z", 200)))
	}
	appendFile(t, path, b.String())
	s := newSink()
	off := newOffsets()
	const perCycle = 64 << 10
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest, Offsets: off, Batch: 100, ReadPerCycle: perCycle})
	w.Follow("s", path)
	waitFor(t, "all lines", func() bool { return s.count("output") == 1000 && s.count("usage") == 1000 })
	s.mu.Lock()
	for _, batch := range s.batches {
		if len(batch) > 100 {
			t.Errorf("a batch of %d events", len(batch))
		}
	}
	s.mu.Unlock()
	off.mu.Lock()
	defer off.mu.Unlock()
	prev := int64(0)
	for _, o := range off.saves {
		if o-prev > perCycle {
			t.Errorf("one cycle read %d bytes (from %d to %d), over the bound %d", o-prev, prev, o, perCycle)
		}
		prev = o
	}
	if prev != int64(b.Len()) {
		t.Errorf("last offset %d, want %d", prev, b.Len())
	}
}

// logLines is a slog handler collecting messages with their path.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	var path string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "path" {
			path = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, r.Level.String()+" "+r.Message+" "+path)
	l.mu.Unlock()
	return nil
}

func (l *logLines) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

// Hostile paths: nothing outside the roots is read, nothing blocks, and each
// refusal is one debug line however often the path is named.
func TestConfinement(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "projects")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "p"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := assistantLine("5ec7e700-0000-4000-8000-000000000000", "secret", "SECRET") + "\n"
	if err := os.WriteFile(filepath.Join(outside, "x.jsonl"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("/etc/passwd", filepath.Join(root, "p", "passwd.jsonl")))
	must(os.Symlink(filepath.Join(outside, "x.jsonl"), filepath.Join(root, "p", "link.jsonl")))
	must(os.Symlink("../../outside/x.jsonl", filepath.Join(root, "p", "rellink.jsonl")))
	must(os.Symlink(outside, filepath.Join(root, "linkdir")))
	must(os.Mkdir(filepath.Join(root, "p", "dir.jsonl"), 0o755))
	must(mkfifo(filepath.Join(root, "p", "fifo.jsonl")))
	big := filepath.Join(root, "p", "big.jsonl")
	fh, err := os.Create(big)
	must(err)
	must(fh.Truncate(2 << 20)) // sparse, over the 1 MiB limit below
	must(fh.Close())
	must(os.WriteFile(filepath.Join(root, "p", "notes.txt"), []byte(secret), 0o600))

	hostile := []string{
		"/etc/passwd",
		filepath.Join(root, "p", "passwd.jsonl"),  // symlink to /etc/passwd
		filepath.Join(root, "p", "link.jsonl"),    // absolute symlink out of the root
		filepath.Join(root, "p", "rellink.jsonl"), // relative symlink out of the root
		filepath.Join(root, "linkdir", "x.jsonl"), // through a symlinked directory
		root + "/p/../../outside/x.jsonl",         // ../ escape (Join would clean it away)
		filepath.Join(root, "p", "dir.jsonl"),     // a directory
		filepath.Join(root, "p", "fifo.jsonl"),    // a FIFO: must not block
		big,                                       // over the size limit
		filepath.Join(root, "p", "notes.txt"),     // not .jsonl
		filepath.Join(root, "p", "a\x00.jsonl"),   // NUL
		"p/s.jsonl",                               // relative
		filepath.Join(outside, "x.jsonl"),         // outside
	}
	logs := &logLines{}
	s := newSink()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest, Logger: slog.New(logs), MaxFileSize: 1 << 20})
	for range 3 {
		for _, p := range hostile {
			w.Follow("evil", p)
		}
	}
	// a good file followed after them is still read: nothing blocked
	good := filepath.Join(root, "p", "good.jsonl")
	appendFile(t, good, assistantLine("600d0000-0000-4000-8000-000000000000", "good", "GOOD")+"\n")
	w.Follow("s", good)
	waitFor(t, "the good file", func() bool { return s.count("output") == 1 })
	waitFor(t, "every hostile path refused", func() bool { return w.Stats().Rejected >= int64(len(hostile)) })
	for _, e := range s.events("") {
		if e.Data["message_id"] == "secret" || strings.Contains(fmt.Sprint(e.Data), "root:") {
			t.Errorf("read from outside the root: %v", e.Data)
		}
	}
	if n := s.count(""); n != 2 {
		t.Errorf("%d events, want the good file's 2", n)
	}
	for _, p := range hostile {
		if n := logs.count("transcript not read " + p); n != 1 {
			t.Errorf("%q: %d log lines, want 1", p, n)
		}
	}
	if n := logs.count("WARN"); n != 0 {
		t.Errorf("%d warnings for hostile paths (want debug lines only)", n)
	}
}

// A symlink inside the root to a transcript inside the root is followed:
// confinement is about the root, not about links.
func TestSymlinkWithinRootIsRead(t *testing.T) {
	root := t.TempDir()
	main := copySample(t, root)
	link := filepath.Join(root, "-home-user-proj", "alias.jsonl")
	if err := os.Symlink(filepath.Base(main), link); err != nil {
		t.Fatal(err)
	}
	s := newSink()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest})
	w.Follow(sampleSession, link)
	waitFor(t, "the linked file", func() bool { return s.count("cost_state") == 1 })
}

// Following more files than MaxFiles drops the least active one, which
// resumes where it was when followed again.
func TestMaxFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "p")
	_ = os.MkdirAll(dir, 0o755)
	s := newSink()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest, MaxFiles: 2})
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("s%d.jsonl", i))
		appendFile(t, p, assistantLine(fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i), fmt.Sprintf("m%d", i), "x")+"\n")
		w.Follow("s", p)
		waitFor(t, "the file's event", func() bool { return s.count("output") == i+1 })
	}
	if st := w.Stats(); st.Files > 2 {
		t.Errorf("%d files followed, over MaxFiles", st.Files)
	}
	p0 := filepath.Join(dir, "s0.jsonl")
	appendFile(t, p0, assistantLine("00000000-0000-4000-8000-000000000009", "m9", "y")+"\n")
	w.Follow("s", p0)
	waitFor(t, "the evicted file's new line", func() bool { return s.count("output") == 4 })
	if s.dups != 0 {
		t.Errorf("%d duplicates: the evicted file was read again from the start", s.dups)
	}
}

func TestNewNeedsIngest(t *testing.T) {
	if _, err := watch.New(watch.Config{}); err == nil {
		t.Error("New without Ingest succeeded")
	}
}

// A subagent's transcript followed on its own (SubagentStop names it) is
// attributed to its agent, and to its session when its lines say none.
func TestFollowSubagentDirectly(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "p", "sess-1", "subagents")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "agent-a1b2.jsonl")
	line := strings.Replace(assistantLine("u-1", "m1", "sub"), `"sessionId":"s",`, "", 1)
	appendFile(t, path, line+"\n")
	s := newSink()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest})
	w.Follow("", path)
	waitFor(t, "the subagent's event", func() bool { return s.count("output") == 1 })
	d := s.events("output")[0].Data
	if d["agent_id"] != "a1b2" || d["session_id"] != "sess-1" {
		t.Errorf("agent %v session %v", d["agent_id"], d["session_id"])
	}
}

// A storm of hook events naming a file polls it at most every Poll.
func TestFollowStormIsRateLimited(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "p")
	_ = os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, "s.jsonl")
	appendFile(t, path, assistantLine("u1", "m1", "x")+"\n")
	s := newSink()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest, Poll: 50 * time.Millisecond, IdlePoll: time.Second})
	w.Follow("s", path)
	waitFor(t, "the first line", func() bool { return s.count("output") == 1 })
	before, t0 := w.Stats().Polls, time.Now()
	for n := 0; time.Since(t0) < 300*time.Millisecond; n++ { // hook events, spread so the watcher wakes for many
		w.Follow("s", path)
		time.Sleep(100 * time.Microsecond)
	}
	appendFile(t, path, assistantLine("u2", "m2", "y")+"\n")
	w.Follow("s", path)
	waitFor(t, "the next line", func() bool { return s.count("output") == 2 })
	polls, elapsed := w.Stats().Polls-before, time.Since(t0)
	if limit := int64(elapsed/(50*time.Millisecond)) + 3; polls > limit {
		t.Errorf("%d polls in %v of Follows, want at most %d", polls, elapsed, limit)
	}
}

// Claude Code creates ~/.claude/projects with the first session, after
// mpmd started and after that session's first hook event named the
// transcript: the path waits for its root, and is read once it appears,
// with no further Follow.
func TestRootAppearsAfterFollow(t *testing.T) {
	root := filepath.Join(t.TempDir(), "projects")
	s := newSink()
	w := start(t, watch.Config{Roots: []string{root}, Ingest: s.ingest})
	main := filepath.Join(root, "-home-user-proj", sampleSession+".jsonl")
	w.Follow(sampleSession, main)
	time.Sleep(30 * time.Millisecond) // a few passes with no root
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	copySample(t, root)
	waitFor(t, "the session's events", func() bool { return s.count("output") == 6 && s.count("cost_state") == 1 })
}
