package otlp_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/otlp"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var update = flag.Bool("update", false, "rewrite the golden event files in testdata")

// request is one recorded OTLP/HTTP request of Claude Code 2.1.332
// (testdata/claude-2.1.332/<run>/requests.json).
type request struct {
	File    string            `json:"file"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"-"` // as sent
}

const fixtures = "testdata/claude-2.1.332"

func loadRun(tb testing.TB, run string) []request {
	tb.Helper()
	dir := filepath.Join(fixtures, run)
	b, err := os.ReadFile(filepath.Join(dir, "requests.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var reqs []request
	if err := json.Unmarshal(b, &reqs); err != nil {
		tb.Fatal(err)
	}
	for i := range reqs {
		if reqs[i].Body, err = os.ReadFile(filepath.Join(dir, reqs[i].File)); err != nil {
			tb.Fatal(err)
		}
	}
	return reqs
}

// body is the request's body decompressed, and its encoding.
func (r request) body(tb testing.TB) ([]byte, otlp.Encoding) {
	tb.Helper()
	enc, err := otlp.EncodingOf(r.Headers["Content-Type"])
	if err != nil {
		tb.Fatal(err)
	}
	b, err := otlp.ReadBody(bytes.NewReader(r.Body), r.Headers["Content-Encoding"], 1<<20, 8<<20)
	if err != nil {
		tb.Fatal(err)
	}
	return b, enc
}

// runEvents decodes a run's requests in order as mpmd does: every log
// record and span an event, the metrics through one Accumulator.
func runEvents(tb testing.TB, reqs []request, acc *otlp.Accumulator) []*event.Event {
	tb.Helper()
	var out []*event.Event
	for _, r := range reqs {
		b, enc := r.body(tb)
		out = append(out, decodeEvents(tb, r.Path, b, enc, acc)...)
	}
	return out
}

func decodeEvents(tb testing.TB, path string, b []byte, enc otlp.Encoding, acc *otlp.Accumulator) []*event.Event {
	tb.Helper()
	var d otlp.Decoder
	var out []*event.Event
	switch path {
	case "/v1/logs":
		recs, err := d.Logs(b, enc)
		if err != nil {
			tb.Fatal(err)
		}
		for _, rec := range recs {
			ev, err := rec.Event()
			if err != nil {
				tb.Fatalf("log record %+v: %v", rec, err)
			}
			out = append(out, ev)
		}
	case "/v1/traces":
		spans, err := d.Traces(b, enc)
		if err != nil {
			tb.Fatal(err)
		}
		for _, s := range spans {
			ev, err := s.Event()
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, ev)
		}
	case "/v1/metrics":
		pts, rej, err := d.Metrics(b, enc)
		if err != nil || rej.N != 0 {
			tb.Fatalf("metrics: %v, %+v", err, rej)
		}
		if _, err := acc.Add(pts, func(evs []*event.Event) error { out = append(out, evs...); return nil }); err != nil {
			tb.Fatal(err)
		}
	default:
		tb.Fatalf("unknown path %s", path)
	}
	return out
}

func byName(evs []*event.Event, name string) []*event.Event {
	var out []*event.Event
	for _, e := range evs {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func names(evs []*event.Event) map[string]int {
	m := map[string]int{}
	for _, e := range evs {
		m[e.Name]++
	}
	return m
}

// The recorded run: one prompt; Claude launches a background subagent
// (SUBTASK-A, which runs one Bash call) and a Bash call that fails; the
// task notification is a second prompt.
func TestRecordedRunEvents(t *testing.T) {
	for _, run := range []string{"protobuf", "json"} {
		t.Run(run, func(t *testing.T) {
			evs := runEvents(t, loadRun(t, run), &otlp.Accumulator{})
			want := map[string]int{
				"managed_settings_resolved": 1, "plugin_loaded": 3, "user_prompt": 2,
				"tool_decision": 3, "tool_result": 3, "api_request": 5, "assistant_response": 4,
				"subagent_completed": 1, "span": 16,
			}
			got := names(evs)
			if got["metrics"] < 2 { // one per export: how many depends on timing
				t.Errorf("%d metrics events", got["metrics"])
			}
			delete(got, "metrics")
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("events %v, want %v", got, want)
			}
			var session string
			for _, e := range evs {
				if e.Namespace != "/claude" || !strings.HasPrefix(e.ID, "otel:") || len(e.ID) > event.MaxIDLen {
					t.Fatalf("event %s %s: namespace %s, id %q", e.Name, e.ID, e.Namespace, e.ID)
				}
				sid, _ := e.Data["session_id"].(string)
				if session == "" {
					session = sid
				}
				if sid == "" || sid != session {
					t.Fatalf("%s has session_id %q, want the run's one session %q", e.Name, sid, session)
				}
				if res, _ := e.Data["resource"].(map[string]any); res["service_version"] != "2.1.332" || res["service_name"] != "claude-code" {
					t.Fatalf("%s resource %v", e.Name, e.Data["resource"])
				}
			}

			// api_request: typed usage, cost and the ids that join it to
			// the transcript (request_id) and the prompt (prompt_id).
			var cost float64
			var input, output, cacheRead, cacheWrite int64
			subagent := 0
			for _, e := range byName(evs, "api_request") {
				d := e.Data
				if d["model"] != "claude-opus-5-5" || d["input_tokens"] != int64(100) || d["output_tokens"] != int64(50) ||
					d["cache_read_input_tokens"] != int64(30) || d["cache_creation_input_tokens"] != int64(20) ||
					d["cost_usd"] != 0.001506 {
					t.Fatalf("api_request %v", d)
				}
				if _, ok := d["duration_ms"].(int64); !ok {
					t.Fatalf("api_request duration_ms %T %v", d["duration_ms"], d["duration_ms"])
				}
				if r, _ := d["request_id"].(string); !strings.HasPrefix(r, "req_msg_") {
					t.Fatalf("api_request request_id %v", d["request_id"])
				}
				if p, _ := d["prompt_id"].(string); len(p) != 36 {
					t.Fatalf("api_request prompt_id %v", d["prompt_id"])
				}
				if d["agent_id"] != nil {
					subagent++
					if d["agent_name"] != "general-purpose" {
						t.Fatalf("subagent api_request %v", d)
					}
				}
				cost += d["cost_usd"].(float64)
				input += d["input_tokens"].(int64)
				output += d["output_tokens"].(int64)
				cacheRead += d["cache_read_input_tokens"].(int64)
				cacheWrite += d["cache_creation_input_tokens"].(int64)
			}
			if subagent != 2 {
				t.Errorf("%d api_requests carry agent_id, want the subagent's 2", subagent)
			}

			// tool_result: Claude Code sends success and duration_ms as strings.
			results := map[string]map[string]any{}
			for _, e := range byName(evs, "tool_result") {
				results[e.Data["tool_use_id"].(string)] = e.Data
			}
			failed := results["toolu_msg_0001_3"]
			if failed["success"] != false || failed["tool_name"] != "Bash" || failed["error_type"] != "ShellError" {
				t.Errorf("the failing Bash call: %v", failed)
			}
			if _, ok := failed["duration_ms"].(int64); !ok {
				t.Errorf("tool_result duration_ms is %T, want an integer", failed["duration_ms"])
			}
			if a := results["toolu_msg_0001_2"]; a["success"] != true || a["tool_name"] != "Agent" {
				t.Errorf("the Agent call: %v", a)
			}
			if sub := results["toolu_msg_0002_1"]; sub["agent_id"] == nil || sub["success"] != true {
				t.Errorf("the subagent's Bash call: %v", sub)
			}
			if p := byName(evs, "user_prompt")[0].Data; p["prompt_length"] != int64(12) || p["prompt"] != "<REDACTED>" {
				t.Errorf("user_prompt %v", p)
			}

			// The metrics' running totals agree with the api_requests.
			ms := byName(evs, "metrics")
			tot := ms[len(ms)-1].Data["totals"].(map[string]any)
			if math.Abs(tot["cost_usd"].(float64)-cost) > 1e-12 || tot["input_tokens"] != input || tot["output_tokens"] != output ||
				tot["cache_read_input_tokens"] != cacheRead || tot["cache_creation_input_tokens"] != cacheWrite ||
				tot["session_count"] != int64(1) {
				t.Errorf("metrics totals %v; api_requests: cost %v, tokens %d/%d/%d/%d", tot, cost, input, output, cacheRead, cacheWrite)
			}
			if _, ok := tot["by_model"].(map[string]any)["claude-opus-5-5"]; !ok {
				t.Errorf("totals by_model %v", tot["by_model"])
			}

			// Spans: the failing tool's execution is an error; ids are hex.
			var sawError bool
			for _, e := range byName(evs, "span") {
				d := e.Data
				if len(d["trace_id"].(string)) != 32 || len(d["span_id"].(string)) != 16 {
					t.Fatalf("span ids %v %v", d["trace_id"], d["span_id"])
				}
				if d["name"] == "claude_code.tool.execution" && d["status"] == "error" {
					sawError = true
					if d["status_message"] != "ShellError" || d["attributes"].(map[string]any)["success"] != false {
						t.Errorf("failed tool span %v", d)
					}
				}
			}
			if !sawError {
				t.Error("no error span for the failing Bash call")
			}
		})
	}
}

// The two recorded runs (one exported protobuf, one JSON) are different
// sessions, so their values differ; what each event holds does not.
func TestRecordedEncodingsHaveTheSameShape(t *testing.T) {
	shape := func(run string) []string {
		var out []string
		for _, e := range runEvents(t, loadRun(t, run), &otlp.Accumulator{}) {
			if e.Name == "span" || e.Name == "metrics" {
				continue // their number per export depends on timing
			}
			var fields []string
			for k, v := range e.Data {
				fields = append(fields, k+":"+reflect.TypeOf(v).String())
			}
			sort.Strings(fields)
			out = append(out, e.Name+" "+strings.Join(fields, ","))
		}
		sort.Strings(out)
		return out
	}
	pb, js := shape("protobuf"), shape("json")
	if !slices.Equal(pb, js) {
		t.Errorf("protobuf and JSON exports give differently shaped events:\nprotobuf %v\njson     %v", pb, js)
	}
}

// The same request in either encoding (pdata's JSON writer re-encodes the
// recorded protobuf) and gzip-compressed gives the same events, ids included.
func TestEncodingsGiveTheSameEvents(t *testing.T) {
	for _, r := range loadRun(t, "protobuf") {
		pb, _ := r.body(t)
		var js []byte
		var err error
		switch r.Path {
		case "/v1/logs":
			var ld plog.Logs
			if ld, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(pb); err == nil {
				js, err = (&plog.JSONMarshaler{}).MarshalLogs(ld)
			}
		case "/v1/metrics":
			var md pmetric.Metrics
			if md, err = (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(pb); err == nil {
				js, err = (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
			}
		case "/v1/traces":
			var td ptrace.Traces
			if td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(pb); err == nil {
				js, err = (&ptrace.JSONMarshaler{}).MarshalTraces(td)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		want := decodeEvents(t, r.Path, pb, otlp.Protobuf, &otlp.Accumulator{})
		got := decodeEvents(t, r.Path, js, otlp.JSON, &otlp.Accumulator{})
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: JSON gives\n%v\nprotobuf\n%v", r.File, got, want)
		}
		gz := gzipped(t, pb)
		zb, err := otlp.ReadBody(bytes.NewReader(gz), "gzip", 1<<20, 8<<20)
		if err != nil || !bytes.Equal(zb, pb) {
			t.Fatalf("gzip round trip: %v", err)
		}
	}
	// Claude Code's own gzip export (OTEL_EXPORTER_OTLP_COMPRESSION=gzip).
	gz := runEvents(t, loadRun(t, "gzip"), &otlp.Accumulator{})
	if n := names(gz); n["user_prompt"] != 1 || n["metrics"] != 1 || n["plugin_loaded"] != 3 {
		t.Errorf("gzip run events %v", n)
	}
}

func TestAPIError(t *testing.T) {
	evs := runEvents(t, loadRun(t, "api-error"), &otlp.Accumulator{})
	errs := byName(evs, "api_error")
	if len(errs) != 1 {
		t.Fatalf("api_error events %v", names(evs))
	}
	d := errs[0].Data
	if d["status_code"] != int64(400) || d["error"] != "stand-in refuses this request" || d["model"] != "claude-opus-5-5" ||
		d["request_id"] != "req_fail_1" || d["attempt"] != int64(1) {
		t.Errorf("api_error %v", d)
	}
	for _, s := range byName(evs, "span") {
		if s.Data["name"] == "claude_code.llm_request" && s.Data["status"] != "error" {
			t.Errorf("the failed request's span: %v", s.Data)
		}
	}
}

// Retrying an export (same body) gives events of the same ids; the
// accumulator takes its points once.
func TestRetriedExportStoresNothingTwice(t *testing.T) {
	reqs := loadRun(t, "protobuf")
	acc := &otlp.Accumulator{}
	first := runEvents(t, reqs, acc)
	again := runEvents(t, reqs, &otlp.Accumulator{})
	for i := range first {
		if first[i].ID != again[i].ID {
			t.Fatalf("event %d (%s): id %s, then %s", i, first[i].Name, first[i].ID, again[i].ID)
		}
	}
	seen := map[string]bool{}
	for _, e := range first {
		if seen[e.ID] {
			t.Fatalf("two events of id %s", e.ID)
		}
		seen[e.ID] = true
	}
	if retried := byName(runEvents(t, reqs, acc), "metrics"); len(retried) != 0 {
		t.Errorf("metrics exports sent again made %d events", len(retried))
	}
}

// TestGoldenEvents keeps the events of the recorded protobuf run in
// testdata/claude-2.1.332/protobuf.events.jsonl (go test -update rewrites
// it): a readable record of what Claude Code's export becomes.
func TestGoldenEvents(t *testing.T) {
	var buf bytes.Buffer
	for _, e := range runEvents(t, loadRun(t, "protobuf"), &otlp.Accumulator{}) {
		b, err := event.AppendPlainJSON(nil, map[string]any{"namespace": e.Namespace, "event": e.Name, "event_id": e.ID, "data": e.Data})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	golden := filepath.Join(fixtures, "protobuf.events.jsonl")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("events differ from %s (run with -update if the change is meant)", golden)
	}
}
