package otlp_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/otlp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

func gzipped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// oneLog is a protobuf logs request with one record that fill sets up.
func oneLog(tb testing.TB, fill func(lr plog.LogRecord)) []byte {
	tb.Helper()
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.Timestamp(1796300011364000000))
	lr.Body().SetStr("claude_code.api_request")
	lr.Attributes().PutStr("session.id", "s1")
	lr.Attributes().PutInt("event.sequence", 7)
	fill(lr)
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func oneEvent(tb testing.TB, body []byte) *event.Event {
	tb.Helper()
	recs, err := otlp.Decoder{}.Logs(body, otlp.Protobuf)
	if err != nil || len(recs) != 1 {
		tb.Fatalf("Logs: %v, %d records", err, len(recs))
	}
	ev, err := recs[0].Event()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := event.AppendPlainJSON(nil, ev.Data); err != nil {
		tb.Fatalf("the event cannot be written as JSON: %v", err)
	}
	return ev
}

func TestInvalidBodies(t *testing.T) {
	valid := oneLog(t, func(plog.LogRecord) {})
	deepJSON := `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"a","value":` +
		strings.Repeat(`{"arrayValue":{"values":[`, 10000) + `{"stringValue":"x"}` + strings.Repeat(`]}}`, 10000) + `}]}]}]}]}`
	cases := []struct {
		name string
		body string
		enc  otlp.Encoding
	}{
		{"protobuf garbage", "\x0a\xff\xff\xff\xff\x0f", otlp.Protobuf},
		{"protobuf truncated early", string(valid[:1]), otlp.Protobuf},
		{"protobuf truncated in the middle", string(valid[:len(valid)/2]), otlp.Protobuf},
		{"protobuf truncated at the end", string(valid[:len(valid)-1]), otlp.Protobuf},
		{"protobuf nested too deeply", string(nestedProto(200)), otlp.Protobuf},
		{"JSON of something else", `{"namespace":"system","event":"x","data":{}}`, otlp.JSON},
		{"JSON not an object", `[{"resourceLogs":[]}]`, otlp.JSON},
		{"not JSON", `resourceLogs`, otlp.JSON},
		{"JSON of the wrong type", `{"resourceLogs": 5}`, otlp.JSON},
		{"JSON nested too deeply", deepJSON, otlp.JSON},
		{"JSON cut short", `{"resourceLogs":[{"scopeLogs":[`, otlp.JSON},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := otlp.Decoder{}.Logs([]byte(c.body), c.enc)
			var inv *otlp.InvalidError
			if !errors.As(err, &inv) || inv.Signal != otlp.Logs {
				t.Fatalf("err = %v, want an *InvalidError for logs", err)
			}
			if !strings.Contains(err.Error(), "not a valid OTLP logs export request") {
				t.Errorf("message %q", err)
			}
		})
	}
	// An empty body is an empty request, in both encodings.
	for _, enc := range []otlp.Encoding{otlp.Protobuf, otlp.JSON} {
		if recs, err := (otlp.Decoder{}).Logs(nil, enc); err != nil || len(recs) != 0 {
			t.Errorf("empty body: %v, %d records", err, len(recs))
		}
	}
	if _, err := (otlp.Decoder{}).Traces([]byte("\x0a\x05ab"), otlp.Protobuf); err == nil {
		t.Error("truncated traces accepted")
	}
	if _, _, err := (otlp.Decoder{}).Metrics([]byte(`{"resourceMetrics":"x"}`), otlp.JSON); err == nil {
		t.Error("wrong metrics JSON accepted")
	}
}

// nestedProto is a logs request whose one attribute value is depth arrays deep.
func nestedProto(depth int) []byte {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("claude_code.deep")
	v := lr.Attributes().PutEmpty("deep")
	for i := 0; i < depth; i++ {
		v = v.SetEmptySlice().AppendEmpty()
	}
	v.SetStr("bottom")
	b, _ := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	return b
}

func TestValuesAreBounded(t *testing.T) {
	lim := otlp.DefaultLimits
	ev := oneEvent(t, oneLog(t, func(lr plog.LogRecord) {
		a := lr.Attributes()
		a.PutStr("huge", strings.Repeat("é", 1<<20)) // 2 MiB of two-byte runes
		a.PutStr("bad_utf8", "ok\xff\xfe end")
		a.PutDouble("not_a_number", nanValue())
		a.PutStr("seq", "mine")
		a.PutStr("timestamp", "yesterday")
		a.PutStr("success", "false")
		a.PutStr("duration_ms", "12.5")
		a.PutStr("input_tokens", "many") // cannot be read as a number: kept
		a.PutEmptyBytes("blob").FromRaw([]byte{1, 2, 3})
		m := a.PutEmptyMap("nested")
		m.PutStr("inner.key", "v")
		sl := a.PutEmptySlice("list")
		for i := 0; i < 1000; i++ {
			sl.AppendEmpty().SetInt(int64(i))
		}
	}))
	d := ev.Data
	huge := d["huge"].(string)
	if !utf8.ValidString(huge) || len(huge) > lim.MaxString+64 || !strings.Contains(huge, "…[truncated ") {
		t.Errorf("huge string: %d bytes, valid %v, suffix %q", len(huge), utf8.ValidString(huge), huge[len(huge)-40:])
	}
	if d["bad_utf8"] != "ok\uFFFD end" {
		t.Errorf("invalid UTF-8 became %q", d["bad_utf8"])
	}
	if d["not_a_number"] != "NaN" {
		t.Errorf("NaN became %v", d["not_a_number"])
	}
	if d["attr_seq"] != "mine" || d["attr_timestamp"] != "yesterday" || d["seq"] != nil {
		t.Errorf("reserved names: %v", d)
	}
	if ts, _ := d["timestamp"].(string); !strings.HasPrefix(ts, "2026-12-03T12:13:31.364") {
		t.Errorf("timestamp %v, want the record's", d["timestamp"])
	}
	if d["success"] != false || d["duration_ms"] != 12.5 || d["input_tokens"] != "many" || d["blob"] != "AQID" {
		t.Errorf("typed: success %#v duration_ms %#v input_tokens %#v blob %#v", d["success"], d["duration_ms"], d["input_tokens"], d["blob"])
	}
	if n := d["nested"].(map[string]any); n["inner.key"] != "v" {
		t.Errorf("nested keys are kept as sent: %v", n)
	}
	list := d["list"].([]any)
	if len(list) != lim.MaxItems+1 || list[lim.MaxItems] != "…[744 more items]" {
		t.Errorf("list of 1000: %d items, last %v", len(list), list[len(list)-1])
	}
	tr := fmt.Sprint(d["truncated"])
	if !strings.Contains(tr, "huge") || !strings.Contains(tr, "list") || strings.Contains(tr, "bad_utf8") {
		t.Errorf("truncated = %v", d["truncated"])
	}
}

func nanValue() float64 {
	var zero float64
	return zero / zero
}

func TestRecordBudget(t *testing.T) {
	lim := otlp.DefaultLimits
	ev := oneEvent(t, oneLog(t, func(lr plog.LogRecord) {
		for i := 0; i < 1000; i++ {
			lr.Attributes().PutStr(fmt.Sprintf("a%04d", i), strings.Repeat("x", 10<<10))
		}
	}))
	total := 0
	attrs := 0
	for k, v := range ev.Data {
		if s, ok := v.(string); ok && strings.HasPrefix(k, "a") {
			total += len(s)
			attrs++
		}
	}
	if attrs > lim.MaxAttributes || total > lim.MaxRecord+attrs*300 {
		t.Errorf("%d attributes, %d bytes of strings; limits %d and %d", attrs, total, lim.MaxAttributes, lim.MaxRecord)
	}
	if tr := fmt.Sprint(ev.Data["truncated"]); !strings.Contains(tr, "more attributes") {
		t.Errorf("truncated = %v", tr)
	}
}

func TestDeepValuesAreCut(t *testing.T) {
	ev := oneEvent(t, nestedProto(30)) // within pdata's own limit (100 messages deep)
	v := ev.Data["deep"]
	depth := 0
	for {
		l, ok := v.([]any)
		if !ok {
			break
		}
		depth++
		v = l[0]
	}
	if depth != otlp.DefaultLimits.MaxDepth || v != "…[nested too deeply]" {
		t.Errorf("depth %d, bottom %v", depth, v)
	}
}

func TestLogNames(t *testing.T) {
	cases := []struct {
		name  string
		fill  func(plog.LogRecord)
		event string // "" when the record is rejected
	}{
		{"body", func(plog.LogRecord) {}, "api_request"},
		{"event.name wins", func(lr plog.LogRecord) { lr.Attributes().PutStr("event.name", "tool_result") }, "tool_result"},
		{"a future event", func(lr plog.LogRecord) { lr.Body().SetStr("claude_code.brand_new") }, "brand_new"},
		{"a name mpm uses itself", func(lr plog.LogRecord) { lr.Body().SetStr("claude_code.usage") }, "otel_usage"},
		{"not Claude Code's", func(lr plog.LogRecord) { lr.Body().SetStr("hello world") }, ""},
		{"no name at all", func(lr plog.LogRecord) { lr.Body().SetEmptyMap().PutStr("k", "v") }, ""},
		{"a reserved name", func(lr plog.LogRecord) { lr.Attributes().PutStr("event.name", "connect") }, ""},
		{"invalid UTF-8 name", func(lr plog.LogRecord) { lr.Attributes().PutStr("event.name", "x\xff") }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := otlp.Decoder{}.Logs(oneLog(t, c.fill), otlp.Protobuf)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := recs[0].Event()
			if c.event == "" {
				if err == nil {
					t.Fatalf("event %q made of a record that should be rejected", ev.Name)
				}
				return
			}
			if err != nil || ev.Name != c.event || ev.Data["session_id"] != "s1" {
				t.Fatalf("event %v, %v; want %s", ev, err, c.event)
			}
		})
	}
}

func TestSpanWithoutIDs(t *testing.T) {
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("x")
	b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	spans, err := otlp.Decoder{}.Traces(b, otlp.Protobuf)
	if err != nil || len(spans) != 1 {
		t.Fatal(err)
	}
	if _, err := spans[0].Event(); err == nil {
		t.Error("a span without ids became an event")
	}
}

func TestReadBody(t *testing.T) {
	const maxBody, maxDecoded = 1 << 20, 8 << 20
	// 256 gzip members of 1 MiB of zeros each: 256 MiB in ~256 KiB
	bomb := bytes.Repeat(gzipped(t, make([]byte, 1<<20)), 256)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := otlp.ReadBody(bytes.NewReader(bomb), "gzip", maxBody, maxDecoded)
	runtime.ReadMemStats(&after)
	var tl *otlp.TooLargeError
	if !errors.As(err, &tl) || !tl.Decompressed || tl.Limit != maxDecoded {
		t.Fatalf("gzip bomb of %d bytes: err %v", len(bomb), err)
	}
	// what reading allocates follows the limit (8 MiB, read in growing
	// buffers), not what the bomb would make
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("reading a 256 MiB gzip bomb allocated %d MiB", alloc>>20)
	}

	cases := []struct {
		name, encoding string
		body           []byte
		check          func(error) bool
	}{
		{"over the body limit", "", make([]byte, maxBody+1), func(err error) bool {
			return errors.As(err, &tl) && !tl.Decompressed
		}},
		{"broken gzip", "gzip", []byte("not gzip at all"), func(err error) bool {
			var inv *otlp.InvalidError
			return errors.As(err, &inv)
		}},
		{"gzip cut short", "gzip", gzipped(t, []byte(strings.Repeat("abc", 1000)))[:30], func(err error) bool {
			var inv *otlp.InvalidError
			return errors.As(err, &inv)
		}},
		{"an encoding mpmd does not take", "br", []byte("x"), func(err error) bool {
			return errors.Is(err, otlp.ErrUnsupportedMediaType)
		}},
		{"identity", "identity", []byte("ok"), func(err error) bool { return err == nil }},
		{"gzip", "GZIP", gzipped(t, []byte("ok")), func(err error) bool { return err == nil }},
	}
	for _, c := range cases {
		_, err := otlp.ReadBody(bytes.NewReader(c.body), c.encoding, maxBody, maxDecoded)
		if !c.check(err) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}

func TestEncodingOf(t *testing.T) {
	cases := map[string]otlp.Encoding{
		"application/x-protobuf":          otlp.Protobuf,
		"application/protobuf":            otlp.Protobuf,
		"application/json":                otlp.JSON,
		"Application/JSON; charset=utf-8": otlp.JSON,
		"":                                0,
		"text/plain":                      0,
		"application/grpc":                0,
	}
	for ct, want := range cases {
		got, err := otlp.EncodingOf(ct)
		if got != want || (want == 0) != errors.Is(err, otlp.ErrUnsupportedMediaType) {
			t.Errorf("EncodingOf(%q) = %v, %v", ct, got, err)
		}
	}
}

// The answers decode as OTLP's own response messages.
func TestResponses(t *testing.T) {
	rej := otlp.Rejects{}
	rej.Add(3, "three records had no name")
	rej.Add(1, "a later reason")

	for _, enc := range []otlp.Encoding{otlp.Protobuf, otlp.JSON} {
		lr := plogotlp.NewExportResponse()
		if err := unmarshalAs(enc, otlp.Response(otlp.Logs, enc, rej), lr.UnmarshalProto, lr.UnmarshalJSON); err != nil {
			t.Fatal(err)
		}
		if ps := lr.PartialSuccess(); ps.RejectedLogRecords() != 4 || ps.ErrorMessage() != "three records had no name" {
			t.Errorf("%v logs partial success %d %q", enc, ps.RejectedLogRecords(), ps.ErrorMessage())
		}
		mr := pmetricotlp.NewExportResponse()
		if err := unmarshalAs(enc, otlp.Response(otlp.Metrics, enc, rej), mr.UnmarshalProto, mr.UnmarshalJSON); err != nil {
			t.Fatal(err)
		}
		if mr.PartialSuccess().RejectedDataPoints() != 4 {
			t.Errorf("%v metrics partial success %d", enc, mr.PartialSuccess().RejectedDataPoints())
		}
		tr := ptraceotlp.NewExportResponse()
		if err := unmarshalAs(enc, otlp.Response(otlp.Traces, enc, otlp.Rejects{}), tr.UnmarshalProto, tr.UnmarshalJSON); err != nil {
			t.Fatal(err)
		}
		if tr.PartialSuccess().RejectedSpans() != 0 {
			t.Errorf("%v traces: rejected %d", enc, tr.PartialSuccess().RejectedSpans())
		}
	}
}

func unmarshalAs(enc otlp.Encoding, b []byte, fromProto, fromJSON func([]byte) error) error {
	if enc == otlp.JSON {
		return fromJSON(b)
	}
	return fromProto(b)
}
