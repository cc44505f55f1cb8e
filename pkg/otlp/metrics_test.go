package otlp_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/otlp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func lastTotals(tb testing.TB, evs []*event.Event) map[string]any {
	tb.Helper()
	ms := byName(evs, "metrics")
	if len(ms) == 0 {
		tb.Fatal("no metrics event")
	}
	return ms[len(ms)-1].Data["totals"].(map[string]any)
}

func near(a, b any) bool {
	x, ok1 := a.(float64)
	y, ok2 := b.(float64)
	return ok1 && ok2 && math.Abs(x-y) < 1e-12
}

// Claude Code with OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative:
// two exports of running totals. The second's totals are its values, not
// their sum with the first's.
func TestCumulativeIsNotCountedTwice(t *testing.T) {
	evs := runEvents(t, loadRun(t, "cumulative"), &otlp.Accumulator{})
	ms := byName(evs, "metrics")
	if len(ms) != 2 {
		t.Fatalf("%d metrics events", len(ms))
	}
	tot := ms[1].Data["totals"].(map[string]any)
	// main 3 requests + subagent 2, 100 input tokens each
	if !near(tot["cost_usd"], 0.004518+0.003012) || tot["input_tokens"] != int64(500) || tot["output_tokens"] != int64(250) {
		t.Errorf("totals %v", tot)
	}
	for _, s := range ms[1].Data["series"].([]any) {
		s := s.(map[string]any)
		if s["metric"] == "claude_code.token.usage" && s["attributes"].(map[string]any)["type"] == "input" &&
			s["attributes"].(map[string]any)["query_source"] == "main" {
			if s["value"] != 300.0 || s["total"] != 300.0 || s["delta"] != 200.0 || s["temporality"] != "cumulative" {
				t.Errorf("main input tokens series %v", s)
			}
		}
	}
}

type pt struct {
	temporality string
	start, at   int64 // seconds
	v           float64
}

func points(sess string, ps ...pt) []otlp.Point {
	var out []otlp.Point
	for _, p := range ps {
		out = append(out, otlp.Point{
			Metric: "claude_code.cost.usage", Unit: "USD", Kind: "sum", Temporality: p.temporality, Monotonic: true,
			Start: time.Unix(p.start, 0).UTC(), Time: time.Unix(p.at, 0).UTC(), Value: p.v,
			SessionID: sess, Attributes: map[string]any{"model": "m"},
		})
	}
	return out
}

func TestAccumulator(t *testing.T) {
	cases := []struct {
		name    string
		exports [][]pt
		total   float64
		events  int
	}{
		{"deltas add up", [][]pt{{{"delta", 0, 10, 1}}, {{"delta", 10, 20, 2}}, {{"delta", 20, 30, 0.5}}}, 3.5, 3},
		{"a delta export sent again counts once", [][]pt{{{"delta", 0, 10, 1}}, {{"delta", 0, 10, 1}}, {{"delta", 10, 20, 2}}}, 3, 2},
		{"cumulative values replace each other", [][]pt{{{"cumulative", 0, 10, 1}}, {{"cumulative", 0, 20, 3}}, {{"cumulative", 0, 30, 4}}}, 4, 3},
		{"a cumulative export sent again counts once", [][]pt{{{"cumulative", 0, 10, 1}}, {{"cumulative", 0, 20, 3}}, {{"cumulative", 0, 20, 3}}}, 3, 2},
		{"a new cumulative stream (restarted exporter) adds to the old", [][]pt{{{"cumulative", 0, 10, 3}}, {{"cumulative", 50, 60, 1}}, {{"cumulative", 50, 70, 2}}}, 5, 3},
		{"a late point of a replaced stream is dropped", [][]pt{{{"cumulative", 50, 60, 1}}, {{"cumulative", 0, 40, 9}}}, 1, 1},
		{"an older delta is dropped", [][]pt{{{"delta", 10, 20, 2}}, {{"delta", 0, 10, 1}}}, 2, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acc := &otlp.Accumulator{}
			n := 0
			for _, ex := range c.exports {
				if _, err := acc.Add(points("s", ex...), func(evs []*event.Event) error { n += len(evs); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			got := acc.Totals("s")
			if len(got) != 1 || math.Abs(got[0].Total-c.total) > 1e-12 || n != c.events {
				t.Errorf("totals %+v, %d events; want total %v in %d events", got, n, c.total, c.events)
			}
		})
	}
}

// An export whose events could not be stored leaves the totals as they
// were; sent again, it counts, with the same event id.
func TestAccumulatorStoreFailure(t *testing.T) {
	acc := &otlp.Accumulator{}
	ex := points("s", pt{"delta", 0, 10, 1})
	var firstID string
	_, err := acc.Add(ex, func(evs []*event.Event) error { firstID = evs[0].ID; return errors.New("disk full") })
	if err == nil || len(acc.Totals("s")) != 0 {
		t.Fatalf("err %v, totals %+v", err, acc.Totals("s"))
	}
	var again string
	if _, err := acc.Add(ex, func(evs []*event.Event) error { again = evs[0].ID; return nil }); err != nil {
		t.Fatal(err)
	}
	if again != firstID || acc.Totals("s")[0].Total != 1 {
		t.Errorf("id %s then %s, totals %+v", firstID, again, acc.Totals("s"))
	}
}

// After a restart the accumulator goes on from the last stored metrics
// event (read back as JSON, as the store gives it).
func TestAccumulatorSeed(t *testing.T) {
	reqs := loadRun(t, "protobuf")
	var mreqs []request
	for _, r := range reqs {
		if r.Path == "/v1/metrics" {
			mreqs = append(mreqs, r)
		}
	}
	whole := lastTotals(t, runEvents(t, mreqs, &otlp.Accumulator{}))

	first := runEvents(t, mreqs[:1], &otlp.Accumulator{})
	stored := storedData(t, first[len(first)-1])
	seeded := &otlp.Accumulator{Seed: func(sess string) map[string]any {
		if sess != first[0].Data["session_id"] {
			t.Errorf("seed asked for session %q", sess)
		}
		return stored
	}}
	rest := lastTotals(t, runEvents(t, mreqs[1:], seeded))
	for _, k := range []string{"input_tokens", "output_tokens", "cache_read_input_tokens", "session_count"} {
		if rest[k] != whole[k] {
			t.Errorf("%s: %v after a restart, %v without", k, rest[k], whole[k])
		}
	}
	if !near(rest["cost_usd"], whole["cost_usd"]) || !near(rest["active_time_seconds"], whole["active_time_seconds"]) {
		t.Errorf("after a restart %v, without %v", rest, whole)
	}
	// Sent again after the restart, the first export changes nothing.
	if evs := runEvents(t, mreqs[:1], seeded); len(evs) != 0 {
		t.Errorf("the first export sent again after a restart made %d events", len(evs))
	}
}

func storedData(tb testing.TB, e *event.Event) map[string]any {
	tb.Helper()
	b, err := json.Marshal(e.Data)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestAccumulatorLimits(t *testing.T) {
	acc := &otlp.Accumulator{MaxSeries: 2, MaxSessions: 2}
	var ps []otlp.Point
	for i, m := range []string{"a", "b", "c"} {
		p := points("s", pt{"delta", 0, int64(10 + i), 1})[0]
		p.Metric = m
		ps = append(ps, p)
	}
	noop := func([]*event.Event) error { return nil }
	rej, err := acc.Add(ps, noop)
	if err != nil || rej.N != 1 || len(acc.Totals("s")) != 2 {
		t.Errorf("rejects %+v, %d series", rej, len(acc.Totals("s")))
	}
	for _, s := range []string{"t", "u"} {
		if _, err := acc.Add(points(s, pt{"delta", 0, 10, 1}), noop); err != nil {
			t.Fatal(err)
		}
	}
	if len(acc.Totals("s")) != 0 || len(acc.Totals("u")) != 1 {
		t.Error("the least recently used session was not evicted")
	}
	rej, _ = acc.Add([]otlp.Point{{Metric: "x", Kind: "sum", Temporality: "delta", SessionID: "s"}}, noop)
	if rej.N != 1 {
		t.Errorf("a point without time: rejects %+v", rej)
	}
}

func TestHistogramsAreRejected(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	h := ms.AppendEmpty()
	h.SetName("latency")
	h.SetEmptyHistogram().DataPoints().AppendEmpty().SetCount(3)
	h.Histogram().DataPoints().AppendEmpty().SetCount(4)
	g := ms.AppendEmpty()
	g.SetName("queue")
	dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetIntValue(7)
	dp.SetTimestamp(pcommon.Timestamp(time.Unix(100, 0).UnixNano()))
	dp.Attributes().PutStr("session.id", "s")
	b, _ := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	pts, rej, err := otlp.Decoder{}.Metrics(b, otlp.Protobuf)
	if err != nil || rej.N != 2 || len(pts) != 1 || pts[0].Kind != "gauge" || pts[0].Value != 7 || pts[0].SessionID != "s" {
		t.Errorf("points %+v, rejects %+v, %v", pts, rej, err)
	}
}
