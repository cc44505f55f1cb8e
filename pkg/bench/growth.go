package bench

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/store"
	"github.com/mpm-dev/mpm/pkg/transcript"
	"github.com/mpm-dev/mpm/pkg/transcript/transcripttest"
)

// The growth benchmark (issue 13 item 5): what a large store costs. For
// each size (10 k, 100 k, 1 M, 10 M stored events) it measures the
// store's append cost per event, mpmd's start-up to a ready /health with
// the session model rebuilt, and GET /api/events p50/p99 for every query
// shape docs/HTTP.md offers, with the query plan of each; then the
// transcript reader's MB/s and peak RSS on a ≥ 1 GB transcript. The
// databases are generated once (growthgen.go) and cached.

type growthCmd struct {
	Gen        growthGenCmd        `cmd:"" help:"Generate (or extend) a growth database to --events stored events."`
	Run        growthRunCmd        `cmd:"" default:"withargs" help:"Measure every growth target at each size (generating the databases first when not cached)."`
	Transcript growthTranscriptCmd `cmd:"" help:"Read one transcript file with pkg/transcript's reader; print MB/s and peak RSS (run as a child of 'growth run')."`
}

type growthGenCmd struct {
	DB     string `required:"" help:"Database file (created or extended)."`
	Events int64  `required:"" help:"Stored events to reach."`
}

func (c *growthGenCmd) Run(ctx context.Context, w *ioPair) error {
	st, err := store.Open(c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	stats, err := Generate(ctx, st, c.Events, []int64{c.Events}, min(20_000, c.Events/2), nil)
	fmt.Fprintf(w.out, "stored %d events (%d raw, %d sessions) in %v; append %v/event at the end\n",
		stats.Stored, stats.Raw, stats.Sessions, stats.Took.Round(time.Millisecond), stats.Append[c.Events])
	return err
}

type growthRunCmd struct {
	Mpmd       string   `default:"bin/mpmd" help:"mpmd binary."`
	Cache      string   `default:"/tmp/mpm-growth" env:"MPM_GROWTH_CACHE" help:"Where the generated databases and the transcript are kept between runs."`
	Sizes      []int64  `default:"10000,100000,1000000,10000000" help:"Stored-event counts to measure at."`
	Quick      bool     `env:"BENCH_QUICK" help:"CI size: 10k and 100k events, 50 requests a shape, a 64 MB transcript."`
	Requests   int      `default:"200" help:"Requests per query shape and size."`
	Transcript int64    `default:"1073741824" help:"Bytes of generated transcript to read."`
	Fresh      bool     `help:"Regenerate the databases even when cached."`
	Template   string   `default:"pkg/transcript/testdata/projects/-home-user-proj/d7e48aee-9368-4c80-a16b-8747364778e8.jsonl" help:"A real transcript the large one is made from."`
	Out        string   `help:"Also write the Markdown report to this file."`
	JSON       string   `help:"Also write the results as JSON to this file."`
	Skip       []string `enum:"append,api,startup,transcript," default:"" help:"Parts to leave out."`
}

// GrowthResult is one size's figures.
type GrowthResult struct {
	Size        int64         `json:"size"`
	Stored      int64         `json:"stored"`
	DBBytes     int64         `json:"db_bytes"`
	GenAppend   time.Duration `json:"gen_append_per_event"` // wall, while generating (busy machine: noisy)
	Append      time.Duration `json:"append_per_event"`     // wall, median batch, measured in this run
	AppendCPU   time.Duration `json:"append_cpu_per_event"` // the appending thread's CPU
	LastInput   int64         `json:"last_model_input_seq"`
	ColdStartup time.Duration `json:"cold_startup"` // the first start on the database: every event replayed
	ColdRebuild string        `json:"cold_rebuild"`
	// SnapshotSaved is when the first start had saved the model (from exec).
	SnapshotSaved time.Duration `json:"snapshot_saved"`
	Startup       time.Duration `json:"startup"`   // exec to /health answering, model complete
	Rebuild       string        `json:"rebuild"`   // mpmd's own "session model rebuilt" line: events, took
	Sessions      int           `json:"sessions"`  // in /api/sessions
	ModelSeq      int64         `json:"model_seq"` // the model's seq at the first answer
	HeadSeq       int64         `json:"head_seq"`
	RSS           int64         `json:"rss_after"`
	Oldest        time.Time     `json:"oldest"` // the stored events' time range
	Newest        time.Time     `json:"newest"`
	Shapes        []ShapeResult `json:"shapes"`
}

// ShapeResult is one query shape's latency at one size.
type ShapeResult struct {
	Name    string        `json:"name"`
	Example string        `json:"example"`
	N       int           `json:"n"`
	P50     time.Duration `json:"p50"`
	P99     time.Duration `json:"p99"`
	Max     time.Duration `json:"max"`
	Rows    float64       `json:"rows_mean"`
	Bytes   float64       `json:"bytes_mean"`
	CPU     time.Duration `json:"cpu_per_request"` // mpmd's CPU time (all threads) per request, mean: what the load does not change
	Plan    string        `json:"plan"`
	Errors  int           `json:"errors"`
}

// TranscriptResult is the reader's figures.
type TranscriptResult struct {
	Bytes   int64         `json:"bytes"`
	Took    time.Duration `json:"took"`
	MBps    float64       `json:"mb_per_s"`
	Records int64         `json:"records"`
	PeakRSS int64         `json:"peak_rss"`
	Heap    int64         `json:"peak_heap_inuse"`
}

// GrowthReport is the whole run.
type GrowthReport struct {
	When       string            `json:"when"`
	Machine    string            `json:"machine"`
	Sizes      []GrowthResult    `json:"sizes"`
	Transcript *TranscriptResult `json:"transcript,omitempty"`
}

func (c *growthRunCmd) Run(ctx context.Context, w *ioPair) error {
	if c.Quick {
		c.Sizes = []int64{10_000, 100_000}
		c.Requests = min(c.Requests, 50)
		c.Transcript = 64 << 20
	}
	skip := map[string]bool{}
	for _, s := range c.Skip {
		skip[s] = true
	}
	sort.Slice(c.Sizes, func(i, j int) bool { return c.Sizes[i] < c.Sizes[j] })
	if err := os.MkdirAll(c.Cache, 0o755); err != nil {
		return err
	}
	mpmd, err := filepath.Abs(c.Mpmd)
	if err != nil {
		return err
	}
	rep := &GrowthReport{When: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Machine: machineLine()}
	if err := c.prepare(ctx, w); err != nil {
		return err
	}
	for _, size := range c.Sizes {
		r, err := c.measure(ctx, w, mpmd, size, skip)
		if err != nil {
			return err
		}
		rep.Sizes = append(rep.Sizes, r)
	}
	if !skip["transcript"] {
		tr, err := c.transcript(ctx, w)
		if err != nil {
			return err
		}
		rep.Transcript = tr
	}
	writeReport(w.out, rep, c.Out, c.JSON)
	return nil
}

func (c *growthRunCmd) dbPath(size int64) string {
	return filepath.Join(c.Cache, "growth-"+strconv.FormatInt(size, 10)+".db")
}

// appendRecord is what generating measured, kept beside a cached database.
type appendRecord struct {
	PerEvent time.Duration `json:"per_event"`
	When     string        `json:"when"`
}

// prepare makes the database of every size not cached yet: one history
// grown through the sizes, copied out at each (the largest is moved).
func (c *growthRunCmd) prepare(ctx context.Context, w *ioPair) error {
	var missing []int64
	for _, size := range c.Sizes {
		if _, err := os.Stat(c.dbPath(size)); err != nil || c.Fresh {
			missing = append(missing, size)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	grow := filepath.Join(c.Cache, "growing.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(grow + suffix)
	}
	st, err := store.Open(grow)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			st.Close()
		}
	}()
	last := missing[len(missing)-1]
	fmt.Fprintf(w.err, "growth: generating %d events into %s\n", last, grow)
	want := map[int64]bool{}
	for _, m := range missing {
		want[m] = true
	}
	start := time.Now()
	stats, err := Generate(ctx, st, last, c.Sizes, 20_000, func(n int64, per time.Duration) error {
		fmt.Fprintf(w.err, "growth: %d stored after %v, append %v/event\n", n, time.Since(start).Round(time.Second), per)
		if !want[n] {
			return nil
		}
		rec, _ := json.Marshal(appendRecord{PerEvent: per, When: time.Now().UTC().Format(time.RFC3339)})
		if err := os.WriteFile(c.dbPath(n)+".json", rec, 0o644); err != nil {
			return err
		}
		if n == last {
			return nil
		}
		// A consistent copy of the database as it is now.
		_ = os.Remove(c.dbPath(n))
		return st.VacuumInto(ctx, c.dbPath(n))
	})
	if err != nil {
		return err
	}
	closed = true
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Fprintf(w.err, "growth: %d events (%d raw, %d sessions) in %v\n", stats.Stored, stats.Raw, stats.Sessions, stats.Took.Round(time.Second))
	return os.Rename(grow, c.dbPath(last))
}

// measure runs mpmd on the database of one size and measures it.
func (c *growthRunCmd) measure(ctx context.Context, w *ioPair, mpmd string, size int64, skip map[string]bool) (GrowthResult, error) {
	r := GrowthResult{Size: size}
	db := c.dbPath(size)
	if fi, err := os.Stat(db); err == nil {
		r.DBBytes = fi.Size()
	}
	if b, err := os.ReadFile(db + ".json"); err == nil {
		var rec appendRecord
		if json.Unmarshal(b, &rec) == nil {
			r.GenAppend = rec.PerEvent
		}
	}
	if !skip["append"] {
		if err := c.appendCost(ctx, db, &r); err != nil {
			return r, err
		}
		fmt.Fprintf(w.err, "growth: %d: append %v/event wall, %v CPU\n", size, r.Append, r.AppendCPU)
	}
	if skip["api"] && skip["startup"] {
		return r, nil
	}
	tmp, err := os.MkdirTemp("", "mpm-growth-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	spec := ServerSpec{Name: "mpmd", Ready: 15 * time.Minute, Argv: func(port int, dir string) []string {
		return []string{mpmd, "run", "--port", strconv.Itoa(port), "--db", db, "--retention-age", "0", "--retention-count", "0"}
	}}
	// The first start replays (no snapshot of this build yet) and saves the
	// model when it stops; the second restores it.
	before := snapshotRow(db)
	t0 := time.Now()
	p, err := Start(ctx, spec, tmp)
	if err != nil {
		return r, err
	}
	r.ColdStartup = time.Since(t0)
	r.ColdRebuild = rebuildLine(filepath.Join(p.Dir(), "server.log"))
	fmt.Fprintf(w.err, "growth: %d: first start ready in %v (%s)\n", size, r.ColdStartup.Round(time.Millisecond), r.ColdRebuild)
	if !strings.Contains(r.ColdRebuild, "restored") {
		// A start that replayed saves the model at once, after it serves:
		// stop it only once that is stored (at 10 M it takes seconds).
		deadline := time.Now().Add(5 * time.Minute)
		for snapshotRow(db) == before && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
		}
		r.SnapshotSaved = time.Since(t0)
	}
	p.Stop()
	t0 = time.Now()
	p, err = Start(ctx, spec, tmp)
	if err != nil {
		return r, err
	}
	r.Startup = time.Since(t0)
	defer p.Stop()
	cl := &http.Client{Timeout: 60 * time.Second}
	var sess struct {
		Sessions []struct {
			ID string `json:"session_id"`
		} `json:"sessions"`
		Seq int64 `json:"seq"`
	}
	if err := getJSON(ctx, cl, p.URL+"/api/sessions", &sess); err != nil {
		return r, err
	}
	var health struct {
		Stored  int64 `json:"stored_events"`
		LastSeq int64 `json:"last_seq"`
	}
	if err := getJSON(ctx, cl, p.URL+"/health", &health); err != nil {
		return r, err
	}
	r.Stored, r.HeadSeq, r.ModelSeq, r.Sessions = health.Stored, health.LastSeq, sess.Seq, len(sess.Sessions)
	r.Rebuild = rebuildLine(filepath.Join(p.Dir(), "server.log"))
	fmt.Fprintf(w.err, "growth: %d: mpmd ready in %v (%s), %d sessions\n", size, r.Startup.Round(time.Millisecond), r.Rebuild, r.Sessions)
	if !skip["api"] {
		ids := make([]string, len(sess.Sessions))
		for i, s := range sess.Sessions {
			ids[i] = s.ID
		}
		oldest, newest := c.timeRange(ctx, cl, p.URL)
		r.Oldest, r.Newest = oldest, newest
		shapes := growthShapes(ids, health.LastSeq, oldest, newest)
		rng := rand.New(rand.NewPCG(uint64(size), 7))
		for _, sh := range shapes {
			n := c.Requests
			if strings.HasPrefix(sh.name, "wide range") || strings.HasPrefix(sh.name, "old range") {
				n = min(n, 10)
			}
			res := runShape(ctx, cl, p.URL, p.PID, sh, n, rng)
			fmt.Fprintf(w.err, "growth: %d: %-22s p50 %v p99 %v cpu %v (%.0f rows)\n", size, sh.name, res.P50.Round(10*time.Microsecond), res.P99.Round(10*time.Microsecond), res.CPU.Round(10*time.Microsecond), res.Rows)
			r.Shapes = append(r.Shapes, res)
		}
	}
	r.RSS = rssOf(p.PID)
	p.Stop()
	if st, err := store.Open(db); err == nil {
		if evs, err := st.Query(ctx, store.Filter{Namespaces: []string{"/hook", "/claude"}, UntilSeq: r.HeadSeq, Desc: true, Limit: 1}); err == nil && len(evs) > 0 {
			r.LastInput = evs[0].Seq
		}
		st.Close()
	}
	// The plan of each shape's query, from the store that served it.
	if !skip["api"] {
		st, err := store.Open(db)
		if err != nil {
			return r, err
		}
		defer st.Close()
		for i, sh := range growthShapes([]string{"s"}, health.LastSeq, r.Oldest, r.Newest) {
			q := sh.query(rand.New(rand.NewPCG(1, 1)))
			f, ferr := parseShapeFilter(q)
			if ferr != nil {
				continue
			}
			plan, err := st.Explain(ctx, f)
			if err == nil {
				r.Shapes[i].Plan = strings.Join(plan, "; ")
			}
		}
	}
	return r, nil
}

// appendCost measures appending 5,120 events (20 batches) to the
// database, then removes them.
func (c *growthRunCmd) appendCost(ctx context.Context, db string, r *GrowthResult) error {
	st, err := store.Open(db)
	if err != nil {
		return err
	}
	head := st.LastSeq()
	r.Append, r.AppendCPU, err = AppendCost(ctx, st, 20*genBatch)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if rerr := RemoveAfter(db, head); err == nil {
		err = rerr
	}
	return err
}

// snapshotRow is the session model's snapshot row as "seq build bytes"
// ("" when there is none), read without the store.
func snapshotRow(db string) string {
	h, err := sql.Open("sqlite", "file:"+db+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return ""
	}
	defer h.Close()
	var seq, n int64
	var build string
	if err := h.QueryRow(`SELECT seq, build, length(data) FROM snapshots WHERE name = 'session_model'`).Scan(&seq, &build, &n); err != nil {
		return ""
	}
	return fmt.Sprintf("%d %s %d", seq, build, n)
}

// timeRange is the time of the oldest and the newest stored event.
func (c *growthRunCmd) timeRange(ctx context.Context, cl *http.Client, base string) (oldest, newest time.Time) {
	var page struct {
		Events []struct {
			Timestamp time.Time `json:"timestamp"`
		} `json:"events"`
	}
	if getJSON(ctx, cl, base+"/api/events?limit=1", &page) == nil && len(page.Events) > 0 {
		oldest = page.Events[0].Timestamp
	}
	if getJSON(ctx, cl, base+"/api/events?limit=1&order=desc", &page) == nil && len(page.Events) > 0 {
		newest = page.Events[0].Timestamp
	}
	return oldest, newest
}

// shape is one kind of GET /api/events request.
type shape struct {
	name  string
	query func(*rand.Rand) url.Values
}

func growthShapes(sessions []string, head int64, oldest, newest time.Time) []shape {
	sess := func(r *rand.Rand) string { return sessions[r.IntN(len(sessions))] }
	seq := func(r *rand.Rand) string { return strconv.FormatInt(1+r.Int64N(max(head, 1)), 10) }
	v := func(kv ...string) url.Values {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	now := newest
	span := max(newest.Sub(oldest), time.Minute)
	return []shape{
		{"latest page", func(r *rand.Rand) url.Values { return v("order", "desc", "limit", "1000") }},
		{"oldest page (default)", func(r *rand.Rand) url.Values { return v() }},
		{"since_seq", func(r *rand.Rand) url.Values { return v("since_seq", seq(r), "limit", "1000") }},
		{"page back (until_seq)", func(r *rand.Rand) url.Values { return v("until_seq", seq(r), "order", "desc", "limit", "1000") }},
		{"session", func(r *rand.Rand) url.Values { return v("session_id", sess(r), "limit", "1000") }},
		{"session newest", func(r *rand.Rand) url.Values { return v("session_id", sess(r), "order", "desc", "limit", "100") }},
		{"session since_seq", func(r *rand.Rand) url.Values { return v("session_id", sess(r), "since_seq", seq(r), "limit", "1000") }},
		{"namespace", func(r *rand.Rand) url.Values { return v("namespace", "hook", "order", "desc", "limit", "1000") }},
		{"rare namespace", func(r *rand.Rand) url.Values { return v("namespace", "agent", "order", "desc", "limit", "1000") }},
		{"event", func(r *rand.Rand) url.Values { return v("event", "pre_tool", "order", "desc", "limit", "1000") }},
		{"rare event", func(r *rand.Rand) url.Values { return v("event", "session_end", "order", "desc", "limit", "1000") }},
		{"namespace+event", func(r *rand.Rand) url.Values {
			return v("namespace", "hook", "event", "subagent_stop", "order", "desc", "limit", "1000")
		}},
		{"session+event", func(r *rand.Rand) url.Values { return v("session_id", sess(r), "event", "post_tool", "limit", "1000") }},
		{"last hour (since)", func(r *rand.Rand) url.Values {
			return v("since", now.Add(-time.Hour).UTC().Format(time.RFC3339), "order", "desc", "limit", "1000")
		}},
		{"time window", func(r *rand.Rand) url.Values {
			t := now.Add(-time.Duration(r.Int64N(int64(span))))
			return v("since", t.Add(-10*time.Minute).UTC().Format(time.RFC3339), "until", t.UTC().Format(time.RFC3339), "limit", "1000")
		}},
		// A wide time range is read in seq order: quick from the end it
		// starts at, slow when its matches are far from it (measured with
		// few requests; docs/PERFORMANCE.md says where it bends).
		{"wide range, oldest first", func(r *rand.Rand) url.Values {
			return v("since", now.Add(-span/2).UTC().Format(time.RFC3339), "limit", "1000")
		}},
		{"old range, newest first", func(r *rand.Rand) url.Values {
			return v("until", now.Add(-span*9/10).UTC().Format(time.RFC3339), "order", "desc", "limit", "1000")
		}},
		{"text (q), newest", func(r *rand.Rand) url.Values { return v("q", "permission", "order", "desc", "limit", "100") }},
		{"session+text", func(r *rand.Rand) url.Values { return v("session_id", sess(r), "q", "Bash", "limit", "1000") }},
		{"session export (jsonl)", func(r *rand.Rand) url.Values { return v("session_id", sess(r), "format", "jsonl") }},
	}
}

func parseShapeFilter(q url.Values) (store.Filter, error) {
	// The same reading of the parameters as the server's (pkg/server
	// parseFilter), reduced to what the shapes use.
	var f store.Filter
	if ns := q.Get("namespace"); ns != "" {
		f.Namespace = "/" + strings.TrimPrefix(ns, "/")
	}
	f.Event, f.SessionID, f.Q = q.Get("event"), q.Get("session_id"), q.Get("q")
	f.SinceSeq, _ = strconv.ParseInt(q.Get("since_seq"), 10, 64)
	f.UntilSeq, _ = strconv.ParseInt(q.Get("until_seq"), 10, 64)
	if s := q.Get("since"); s != "" {
		f.Since, _ = time.Parse(time.RFC3339, s)
	}
	if s := q.Get("until"); s != "" {
		f.Until, _ = time.Parse(time.RFC3339, s)
	}
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	if f.Limit == 0 && q.Get("format") != "jsonl" {
		f.Limit = 1000
	}
	f.Desc = q.Get("order") == "desc"
	return f, nil
}

func runShape(ctx context.Context, cl *http.Client, base string, pid int, sh shape, n int, rng *rand.Rand) ShapeResult {
	res := ShapeResult{Name: sh.name, N: n}
	p0, perr := readProc(pid)
	lat := make([]time.Duration, 0, n)
	var rows, bytes float64
	for i := 0; i < n && ctx.Err() == nil; i++ {
		q := sh.query(rng)
		if i == 0 {
			res.Example = "/api/events?" + q.Encode()
		}
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/events?"+q.Encode(), nil)
		resp, err := cl.Do(req)
		if err != nil {
			res.Errors++
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil || resp.StatusCode != 200 {
			res.Errors++
			continue
		}
		lat = append(lat, d)
		bytes += float64(len(b))
		if q.Get("format") == "jsonl" {
			rows += float64(strings.Count(string(b), "\n"))
		} else {
			var body struct {
				Events []json.RawMessage `json:"events"`
			}
			_ = json.Unmarshal(b, &body)
			rows += float64(len(body.Events))
		}
	}
	if p1, err := readProc(pid); err == nil && perr == nil && n > 0 {
		res.CPU = (p1.CPU - p0.CPU) / time.Duration(n)
	}
	if len(lat) == 0 {
		return res
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.P50 = lat[len(lat)/2]
	res.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	res.Max = lat[len(lat)-1]
	res.Rows = rows / float64(len(lat))
	res.Bytes = bytes / float64(len(lat))
	return res
}

func getJSON(ctx context.Context, cl *http.Client, u string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// rebuildLine finds mpmd's "session model rebuilt" log line.
func rebuildLine(logPath string) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "session model") {
			var parts []string
			for _, k := range []string{"events=", "took=", "snapshot="} {
				if i := strings.Index(line, k); i >= 0 {
					v := line[i:]
					end := strings.IndexByte(v, ' ')
					if strings.HasPrefix(v[len(k):], `"`) {
						end = len(k) + 1 + strings.IndexByte(v[len(k)+1:], '"') + 1
					}
					if end >= len(k) {
						v = v[:end]
					}
					parts = append(parts, v)
				}
			}
			return strings.Join(parts, " ")
		}
	}
	return ""
}

func rssOf(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	return statusKB(string(b), "VmRSS:")
}

func statusKB(status, key string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line[len(key):])
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

func machineLine() string {
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("nproc %d, %s, load %s", runtime.NumCPU(), runtime.Version(), strings.Join(strings.Fields(string(load))[:3], " "))
}

// transcript makes (once) a large transcript and reads it in a child
// process, so the peak RSS is the reader's alone.
func (c *growthRunCmd) transcript(ctx context.Context, w *ioPair) (*TranscriptResult, error) {
	path := filepath.Join(c.Cache, "transcript-"+strconv.FormatInt(c.Transcript, 10)+".jsonl")
	if fi, err := os.Stat(path); err != nil || fi.Size() < c.Transcript {
		tmpl, err := os.ReadFile(c.Template)
		if err != nil {
			return nil, fmt.Errorf("the transcript template: %w", err)
		}
		f, err := os.Create(path + ".tmp")
		if err != nil {
			return nil, err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		if _, err := transcripttest.New(tmpl).WriteTo(bw, c.Transcript); err != nil {
			f.Close()
			return nil, err
		}
		if err := bw.Flush(); err != nil {
			f.Close()
			return nil, err
		}
		f.Close()
		if err := os.Rename(path+".tmp", path); err != nil {
			return nil, err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, exe, "growth", "transcript", "--file", path).Output()
	if err != nil {
		return nil, fmt.Errorf("read the transcript: %w", err)
	}
	var tr TranscriptResult
	if err := json.Unmarshal(out, &tr); err != nil {
		return nil, fmt.Errorf("the reader's output %q: %w", out, err)
	}
	fmt.Fprintf(w.err, "growth: transcript %d MB at %.0f MB/s, peak RSS %d MB\n", tr.Bytes>>20, tr.MBps, tr.PeakRSS>>20)
	return &tr, nil
}

type growthTranscriptCmd struct {
	File string `required:"" help:"Transcript to read."`
}

func (c *growthTranscriptCmd) Run(ctx context.Context, w *ioPair) error {
	f, err := os.Open(c.File)
	if err != nil {
		return err
	}
	defer f.Close()
	r := transcript.NewReader(0, 0)
	var recs int64
	var ms runtime.MemStats
	var heap uint64
	next := int64(0)
	t0 := time.Now()
	err = r.Scan(f, func(rec *transcript.Record) error {
		recs++
		if rec.Offset >= next {
			runtime.ReadMemStats(&ms)
			heap = max(heap, ms.HeapInuse)
			next = rec.Offset + 64<<20
		}
		return nil
	})
	took := time.Since(t0)
	if err != nil {
		return err
	}
	status, _ := os.ReadFile("/proc/self/status")
	tr := TranscriptResult{Bytes: r.Offset(), Took: took, MBps: float64(r.Offset()) / 1e6 / took.Seconds(), Records: recs,
		PeakRSS: statusKB(string(status), "VmHWM:"), Heap: int64(heap)}
	return json.NewEncoder(w.out).Encode(tr)
}

// Markdown prints the report's tables.
func (rep *GrowthReport) Markdown(w io.Writer) {
	fmt.Fprintf(w, "### Growth run of %s\n\nMachine: %s (shared with other work).\n\n", rep.When, rep.Machine)
	fmt.Fprintln(w, "| stored | database | append/event (wall, median batch) | append CPU/event | while generating | start-up to /health | model rebuild (mpmd's log) | sessions | model complete | RSS after |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---|---:|---|---:|")
	defer func() {
		fmt.Fprintln(w, "\nFirst start on each database (no snapshot of this build: every event replayed, then the model saved):")
		fmt.Fprintln(w)
		for _, r := range rep.Sizes {
			fmt.Fprintf(w, "* %d stored: ready in %v (%s); the model saved %v after exec\n", r.Stored, r.ColdStartup.Round(time.Millisecond), r.ColdRebuild, r.SnapshotSaved.Round(time.Millisecond))
		}
	}()
	for _, r := range rep.Sizes {
		fmt.Fprintf(w, "| %d | %s | %v | %v | %v | %v | %s | %d | %v | %s |\n", r.Stored, gmib(r.DBBytes), r.Append.Round(100*time.Nanosecond),
			r.AppendCPU.Round(100*time.Nanosecond), r.GenAppend.Round(100*time.Nanosecond),
			r.Startup.Round(time.Millisecond), r.Rebuild, r.Sessions, r.LastInput > 0 && r.ModelSeq >= r.LastInput, gmib(r.RSS))
	}
	if len(rep.Sizes) > 0 && len(rep.Sizes[0].Shapes) > 0 {
		fmt.Fprintln(w, "\nGET /api/events p50 / p99 (ms) by query shape and stored events:")
		fmt.Fprintln(w)
		fmt.Fprint(w, "| shape | rows |")
		for _, r := range rep.Sizes {
			fmt.Fprintf(w, " %s |", short(r.Size))
		}
		fmt.Fprintln(w, " mpmd CPU/request (largest) | query plan (largest size) |")
		fmt.Fprint(w, "|---|---:|")
		for range rep.Sizes {
			fmt.Fprint(w, "---:|")
		}
		fmt.Fprintln(w, "---:|---|")
		last := rep.Sizes[len(rep.Sizes)-1]
		for i, sh := range rep.Sizes[0].Shapes {
			fmt.Fprintf(w, "| %s | %.0f |", sh.Name, last.Shapes[i].Rows)
			for _, r := range rep.Sizes {
				s := r.Shapes[i]
				errs := ""
				if s.Errors > 0 {
					errs = fmt.Sprintf(" (%d errors)", s.Errors)
				}
				fmt.Fprintf(w, " %.1f / %.1f%s |", ms(s.P50), ms(s.P99), errs)
			}
			fmt.Fprintf(w, " %.1f ms | %s |\n", ms(last.Shapes[i].CPU), last.Shapes[i].Plan)
		}
		fmt.Fprintln(w, "\nExamples:")
		fmt.Fprintln(w)
		for _, sh := range last.Shapes {
			fmt.Fprintf(w, "* %s: `%s`\n", sh.Name, sh.Example)
		}
	}
	if t := rep.Transcript; t != nil {
		fmt.Fprintf(w, "\nTranscript reader: %d MB in %v, %.0f MB/s, %d records, peak RSS %s (heap in use ≤ %s).\n",
			t.Bytes>>20, t.Took.Round(time.Millisecond), t.MBps, t.Records, gmib(t.PeakRSS), gmib(t.Heap))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func gmib(b int64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func short(n int64) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.FormatInt(n/1_000_000, 10) + " M"
	case n >= 1000 && n%1000 == 0:
		return strconv.FormatInt(n/1000, 10) + " k"
	}
	return strconv.FormatInt(n, 10)
}
