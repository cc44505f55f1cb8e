package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/server"
	"github.com/mpm-dev/mpm/pkg/store"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

const otlpToken = "sekrit" // the token the recorded exports carry

// startOTLPServer is an in-process mpmd with the token the recorded
// Claude Code exports were sent with. stop (also run when the test ends)
// shuts it down.
func startOTLPServer(tb testing.TB, st *store.Store) (url string, stop func()) {
	tb.Helper()
	srv := server.New(server.Config{Heartbeat: time.Hour, Token: otlpToken}, st, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("Run: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	url = "http://" + ln.Addr().String()
	eventually(tb, 5*time.Second, "mpmd to serve", func() bool {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return url, stop
}

type recorded struct {
	File    string            `json:"file"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	body    []byte
}

func recordedRun(tb testing.TB, run string) []recorded {
	tb.Helper()
	dir := filepath.Join("../otlp/testdata/claude-2.1.332", run)
	b, err := os.ReadFile(filepath.Join(dir, "requests.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var reqs []recorded
	if err := json.Unmarshal(b, &reqs); err != nil {
		tb.Fatal(err)
	}
	for i := range reqs {
		if reqs[i].body, err = os.ReadFile(filepath.Join(dir, reqs[i].File)); err != nil {
			tb.Fatal(err)
		}
	}
	return reqs
}

func post(tb testing.TB, url, path string, headers map[string]string, body []byte) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func claudeEvents(tb testing.TB, st *store.Store) map[string]int {
	tb.Helper()
	evs, err := st.Query(context.Background(), store.Filter{Namespace: "/claude"})
	if err != nil {
		tb.Fatal(err)
	}
	m := map[string]int{}
	for _, e := range evs {
		m[e.Name]++
	}
	return m
}

// Claude Code's recorded exports, sent as they were (headers included),
// are answered as an OTLP receiver answers and stored once, however often
// they are sent.
func TestOTLPRecordedExports(t *testing.T) {
	for _, run := range []string{"protobuf", "json", "gzip"} {
		t.Run(run, func(t *testing.T) {
			st, err := store.Open(store.Memory)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			url, _ := startOTLPServer(t, st)
			reqs := recordedRun(t, run)
			for round := 0; round < 2; round++ { // the second round is an exporter's retry
				for _, r := range reqs {
					resp, body := post(t, url, r.Path, r.Headers, r.body)
					ct := r.Headers["Content-Type"]
					if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct {
						t.Fatalf("%s: %d %s %s", r.File, resp.StatusCode, resp.Header.Get("Content-Type"), body)
					}
					if (ct == "application/json" && string(body) != "{}") || (ct != "application/json" && len(body) != 0) {
						t.Fatalf("%s: answer %q, want an empty export response", r.File, body)
					}
				}
				got := claudeEvents(t, st)
				switch run {
				case "gzip":
					if got["user_prompt"] != 1 || got["plugin_loaded"] != 3 || got["metrics"] != 1 {
						t.Fatalf("round %d: %v", round, got)
					}
				default:
					if got["api_request"] != 5 || got["tool_result"] != 3 || got["span"] != 16 || got["subagent_completed"] != 1 || got["metrics"] < 2 {
						t.Fatalf("round %d: %v", round, got)
					}
				}
			}
			// The events are filed under the session, for /api/events?session_id=.
			evs, err := st.Query(context.Background(), store.Filter{Namespace: "/claude", Event: "api_request"})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.SessionID == "" || e.SessionID != e.Data["session_id"] || e.Time.Year() != 2026 {
					t.Fatalf("api_request stored with session %q, time %v: %v", e.SessionID, e.Time, e.Data)
				}
			}
		})
	}
}

func TestOTLPErrors(t *testing.T) {
	st, err := store.Open(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	url, _ := startOTLPServer(t, st)
	auth := "Bearer " + otlpToken
	pbLogs := recordedRun(t, "protobuf")[0].body
	// a gzip bomb: members of 1 MiB of zeros, one after the other (a
	// valid gzip stream), more than the decompressed limit in all
	var member bytes.Buffer
	zw := gzip.NewWriter(&member)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	bomb := bytes.Repeat(member.Bytes(), server.MaxOTLPDecodedBytes>>20+1)

	cases := []struct {
		name    string
		path    string
		headers map[string]string
		body    []byte
		status  int
		answer  string // text the answer holds
	}{
		{"no token", "/v1/logs", map[string]string{"Content-Type": "application/x-protobuf"}, pbLogs, 401, "authentication required"},
		{"wrong token", "/v1/logs", map[string]string{"Content-Type": "application/x-protobuf", "Authorization": "Bearer nope"}, pbLogs, 401, "invalid"},
		{"no content type", "/v1/logs", map[string]string{"Authorization": auth}, pbLogs, 415, "application/x-protobuf or application/json"},
		{"wrong content type", "/v1/traces", map[string]string{"Authorization": auth, "Content-Type": "text/plain"}, []byte("hi"), 415, "text/plain"},
		{"unknown content encoding", "/v1/logs", map[string]string{"Authorization": auth, "Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, pbLogs, 415, "Content-Encoding"},
		{"garbage protobuf", "/v1/logs", map[string]string{"Authorization": auth, "Content-Type": "application/x-protobuf"}, []byte("\x0a\xff\xff\xff\xff\x0f"), 400, "not a valid OTLP logs export request"},
		{"truncated protobuf", "/v1/metrics", map[string]string{"Authorization": auth, "Content-Type": "application/x-protobuf"}, recordedRun(t, "protobuf")[1].body[:100], 400, "not a valid OTLP metrics export request"},
		{"not OTLP JSON", "/v1/logs", map[string]string{"Authorization": auth, "Content-Type": "application/json"}, []byte(`{"namespace":"system","event":"x"}`), 400, `"error":"the body is not a valid OTLP logs`},
		{"broken gzip", "/v1/logs", map[string]string{"Authorization": auth, "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, []byte("nope"), 400, "gzip"},
		{"gzip bomb", "/v1/logs", map[string]string{"Authorization": auth, "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, bomb, 413, "once decompressed"},
		{"body too large", "/v1/logs", map[string]string{"Authorization": auth, "Content-Type": "application/json"}, bytes.Repeat([]byte(" "), server.MaxOTLPBodyBytes+1), 413, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(t, url, c.path, c.headers, c.body)
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.answer) {
				t.Fatalf("%d %q, want %d with %q", resp.StatusCode, body, c.status, c.answer)
			}
			if c.status == 400 && c.headers["Content-Type"] == "application/x-protobuf" {
				if resp.Header.Get("Content-Type") != "application/x-protobuf" || body[0] != 0x08 || body[1] != 3 {
					t.Errorf("want a protobuf google.rpc.Status {code: 3}, got %s %q", resp.Header.Get("Content-Type"), body)
				}
			}
		})
	}
	if got := claudeEvents(t, st); len(got) != 0 {
		t.Errorf("refused requests stored %v", got)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/v1/logs", nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /v1/logs: %d", resp.StatusCode)
	}
}

// Records that cannot be events are counted in partial_success; the rest
// are stored.
func TestOTLPPartialSuccess(t *testing.T) {
	st, err := store.Open(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	url, _ := startOTLPServer(t, st)
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, body := range []string{"claude_code.tool_result", "not an event name", "claude_code.api_request"} {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr(body)
		lr.SetTimestamp(pcommon.Timestamp(time.Now().UnixNano()))
		lr.Attributes().PutStr("session.id", "s-partial")
	}
	for _, enc := range []string{"application/x-protobuf", "application/json"} {
		var b []byte
		if enc == "application/json" {
			b, err = (&plog.JSONMarshaler{}).MarshalLogs(ld)
		} else {
			b, err = (&plog.ProtoMarshaler{}).MarshalLogs(ld)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp, body := post(t, url, "/v1/logs", map[string]string{"Authorization": "Bearer " + otlpToken, "Content-Type": enc}, b)
		out := plogotlp.NewExportResponse()
		if enc == "application/json" {
			err = out.UnmarshalJSON(body)
		} else {
			err = out.UnmarshalProto(body)
		}
		ps := out.PartialSuccess()
		if resp.StatusCode != 200 || err != nil || ps.RejectedLogRecords() != 1 || !strings.Contains(ps.ErrorMessage(), "not a Claude Code event") {
			t.Fatalf("%s: %d %v rejected %d %q", enc, resp.StatusCode, err, ps.RejectedLogRecords(), ps.ErrorMessage())
		}
	}
	if got := claudeEvents(t, st); got["tool_result"] != 1 || got["api_request"] != 1 || len(got) != 2 {
		t.Errorf("stored %v", got)
	}
}

// The metrics' running totals go on across a restart of mpmd: the second
// server takes them from the last stored metrics event.
func TestOTLPMetricsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	var metrics []recorded
	for _, r := range recordedRun(t, "protobuf") {
		if r.Path == "/v1/metrics" {
			metrics = append(metrics, r)
		}
	}
	send := func(reqs []recorded) map[string]any {
		st, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		url, stop := startOTLPServer(t, st)
		defer stop()
		for _, r := range reqs {
			if resp, b := post(t, url, r.Path, r.Headers, r.body); resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		}
		evs, err := st.Query(context.Background(), store.Filter{Namespace: "/claude", Event: "metrics", Desc: true, Limit: 1})
		if err != nil || len(evs) != 1 {
			t.Fatalf("%v, %d", err, len(evs))
		}
		return evs[0].Data["totals"].(map[string]any)
	}
	send(metrics[:1])
	tot := send(metrics[1:])
	// five API requests of 100 input tokens, $0.001506 each
	if tot["input_tokens"] != 500.0 || tot["session_count"] != 1.0 || tot["cost_usd"].(float64)-0.00753 > 1e-12 || 0.00753-tot["cost_usd"].(float64) > 1e-12 {
		t.Errorf("totals after a restart: %v", tot)
	}
}
