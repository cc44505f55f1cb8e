package otlp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Point is one number data point of a sum or gauge metric, such as Claude
// Code's claude_code.token.usage {type: input, model: …} = 100.
type Point struct {
	Metric      string
	Unit        string
	Kind        string // sum or gauge
	Temporality string // delta or cumulative for sums; "" for gauges
	Monotonic   bool
	Start, Time time.Time
	Value       float64
	SessionID   string         // session.id
	UserID      string         // user.id
	Attributes  map[string]any // the point's other attributes (model, type, query_source, …), snake_case
	Resource    map[string]any
}

// Rejects counts records a request held that became no event, and says why
// (the first reason): OTLP's partial success.
type Rejects struct {
	N   int64
	Msg string
}

// Add counts n more rejects for reason msg.
func (r *Rejects) Add(n int64, msg string) {
	if n <= 0 {
		return
	}
	r.N += n
	if r.Msg == "" {
		r.Msg = msg
	}
}

// Metrics decodes an ExportMetricsServiceRequest body into its sum and
// gauge points; histograms and summaries (Claude Code sends none) are
// counted as rejected.
func (d Decoder) Metrics(body []byte, enc Encoding) ([]Point, Rejects, error) {
	var rej Rejects
	md, err := decode(body, enc, Metrics, "resourceMetrics", "resource_metrics", pmetric.NewMetrics,
		(&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics, (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics)
	if err != nil {
		return nil, rej, err
	}
	lim := d.Limits.orDefault()
	var out []Point
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := resource(rm.Resource(), lim)
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				p := Point{Metric: cutKey(newConverter(lim).str(m.Name())), Unit: cutKey(newConverter(lim).str(m.Unit())), Resource: res}
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
					p.Kind, p.Monotonic = "sum", m.Sum().IsMonotonic()
					switch m.Sum().AggregationTemporality() {
					case pmetric.AggregationTemporalityDelta:
						p.Temporality = "delta"
					case pmetric.AggregationTemporalityCumulative:
						p.Temporality = "cumulative"
					default:
						rej.Add(int64(dps.Len()), fmt.Sprintf("metric %s has no aggregation temporality", p.Metric))
						continue
					}
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
					p.Kind = "gauge"
				default:
					rej.Add(dataPoints(m), fmt.Sprintf("metric %s is a %s: mpm keeps sums and gauges", p.Metric, strings.ToLower(m.Type().String())))
					continue
				}
				for n := 0; n < dps.Len(); n++ {
					out = append(out, point(p, dps.At(n), lim))
				}
			}
		}
	}
	return out, rej, nil
}

func dataPoints(m pmetric.Metric) int64 {
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		return int64(m.Histogram().DataPoints().Len())
	case pmetric.MetricTypeExponentialHistogram:
		return int64(m.ExponentialHistogram().DataPoints().Len())
	case pmetric.MetricTypeSummary:
		return int64(m.Summary().DataPoints().Len())
	}
	return 0
}

func point(p Point, dp pmetric.NumberDataPoint, lim Limits) Point {
	c := newConverter(lim)
	p.Attributes = c.attributes(dp.Attributes())
	p.SessionID = takeString(p.Attributes, "session_id")
	p.UserID = takeString(p.Attributes, "user_id")
	p.Start = nanos(uint64(dp.StartTimestamp()))
	p.Time = nanos(uint64(dp.Timestamp()))
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		p.Value = float64(dp.IntValue())
	} else {
		p.Value = dp.DoubleValue()
	}
	return p
}

// Series is one time series of a session — a metric and its attributes —
// and what the Accumulator made of its points so far.
type Series struct {
	Metric      string
	Unit        string
	Temporality string
	Attributes  map[string]any
	Start, Time time.Time // of the last point taken
	Value       float64   // the last point's value
	Total       float64   // the running total over the session (a gauge's: its last value)
	base        float64   // cumulative: the total of the streams before the current one
}

// Accumulator keeps the running totals of every session's series, so that
// Claude Code's DELTA sums (its default) become totals, and CUMULATIVE ones
// are not counted twice. It is safe for concurrent use; Add holds a lock
// while it stores, so two exports of one session never race.
type Accumulator struct {
	// Seed, when set, returns the data of the last metrics event stored
	// for a session the Accumulator does not hold (after mpmd restarts, or
	// once the session was evicted), so its totals go on from there.
	Seed        func(sessionID string) map[string]any
	MaxSessions int // sessions held (least recently used evicted; 0: 1024)
	MaxSeries   int // series per session (more are rejected; 0: 512)

	mu       sync.Mutex
	sessions map[string]*sessionSeries
	tick     int64
}

type sessionSeries struct {
	series map[string]*Series
	used   int64
}

// Add accumulates points and hands store one metrics event per session
// that changed. The totals advance only when store returns nil, so an
// export that could not be stored counts when it is sent again; a point
// already taken (a retried export) changes nothing.
func (a *Accumulator) Add(points []Point, store func([]*event.Event) error) (Rejects, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var rej Rejects
	type change struct {
		sess    string
		next    map[string]*Series // the session's series after this export
		deltas  map[string]float64
		touched []string
		first   Point
	}
	var order []string
	changes := map[string]*change{}
	for _, p := range points {
		if p.Time.IsZero() {
			rej.Add(1, fmt.Sprintf("a data point of %s has no time_unix_nano", p.Metric))
			continue
		}
		ch := changes[p.SessionID]
		if ch == nil {
			ch = &change{sess: p.SessionID, next: a.copySession(p.SessionID), deltas: map[string]float64{}, first: p}
			changes[p.SessionID] = ch
			order = append(order, p.SessionID)
		}
		key := seriesKey(p.Metric, p.Attributes)
		s := ch.next[key]
		if s == nil {
			if len(ch.next) >= a.maxSeries() {
				rej.Add(1, fmt.Sprintf("session %s has more than %d metric series", p.SessionID, a.maxSeries()))
				continue
			}
			s = &Series{Metric: p.Metric, Unit: p.Unit, Temporality: p.Temporality, Attributes: p.Attributes}
			ch.next[key] = s
		}
		d, ok := s.take(p)
		if !ok {
			continue
		}
		ch.deltas[key] += d
		ch.touched = append(ch.touched, key+"\x00"+strconv.FormatInt(p.Start.UnixNano(), 10)+"\x00"+strconv.FormatInt(p.Time.UnixNano(), 10)+"\x00"+strconv.FormatFloat(p.Value, 'g', -1, 64))
	}
	var evs []*event.Event
	for _, sess := range order {
		ch := changes[sess]
		if len(ch.touched) == 0 {
			continue
		}
		evs = append(evs, metricsEvent(ch.sess, ch.first, ch.next, ch.deltas, ch.touched))
	}
	if len(evs) == 0 {
		return rej, nil
	}
	if err := store(evs); err != nil {
		return rej, err
	}
	for _, sess := range order {
		if ch := changes[sess]; len(ch.touched) > 0 {
			a.set(sess, ch.next)
		}
	}
	return rej, nil
}

// take applies p to s and returns the amount it adds, or false when p was
// taken before (or is older than what was).
func (s *Series) take(p Point) (float64, bool) {
	if !s.Time.IsZero() && !p.Time.After(s.Time) {
		return 0, false
	}
	var d float64
	switch {
	case p.Kind == "gauge":
		d = p.Value - s.Value
		s.Total = p.Value
	case p.Temporality == "cumulative":
		if !s.Time.IsZero() && p.Start.Before(s.Start) {
			return 0, false // a point of a stream that was replaced
		}
		if s.Time.IsZero() || !p.Start.Equal(s.Start) || p.Value < s.Value {
			// a new stream (the exporter restarted) or a reset: what
			// came before stays counted
			s.base = s.Total
			s.Value = 0
		}
		d = p.Value - s.Value
		s.Total = s.base + p.Value
	default: // delta
		d = p.Value
		s.Total += p.Value
	}
	s.Start, s.Time, s.Value = p.Start, p.Time, p.Value
	s.Temporality, s.Unit = p.Temporality, p.Unit
	return d, true
}

func (a *Accumulator) maxSeries() int {
	if a.MaxSeries > 0 {
		return a.MaxSeries
	}
	return 512
}

// copySession returns a copy of a session's series to work on, loading
// them through Seed when the session is not held.
func (a *Accumulator) copySession(sess string) map[string]*Series {
	out := map[string]*Series{}
	held, ok := a.sessions[sess]
	if !ok {
		if a.Seed != nil && sess != "" {
			for _, s := range seriesFrom(a.Seed(sess)) {
				out[seriesKey(s.Metric, s.Attributes)] = s
			}
		}
		return out
	}
	for k, s := range held.series {
		c := *s
		out[k] = &c
	}
	return out
}

func (a *Accumulator) set(sess string, series map[string]*Series) {
	if a.sessions == nil {
		a.sessions = map[string]*sessionSeries{}
	}
	a.tick++
	a.sessions[sess] = &sessionSeries{series: series, used: a.tick}
	limit := a.MaxSessions
	if limit <= 0 {
		limit = 1024
	}
	for len(a.sessions) > limit {
		oldest, at := "", int64(math.MaxInt64)
		for k, s := range a.sessions {
			if s.used < at {
				oldest, at = k, s.used
			}
		}
		delete(a.sessions, oldest)
	}
}

// Totals returns a copy of what the Accumulator holds for a session.
func (a *Accumulator) Totals(sess string) []Series {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Series
	if s, ok := a.sessions[sess]; ok {
		for _, k := range sortedKeys(s.series) {
			out = append(out, *s.series[k])
		}
	}
	return out
}

func seriesKey(metric string, attrs map[string]any) string {
	b, _ := event.AppendPlainJSON([]byte(metric+"\x00"), attrs) // map keys sorted: one key per attribute set
	return string(b)
}

func sortedKeys(m map[string]*Series) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// metricsEvent is the /claude metrics event of one session after one export:
// every series with its delta in this export and its total, and the totals
// of Claude Code's own metrics by name (cost_usd, input_tokens, …).
func metricsEvent(sess string, first Point, series map[string]*Series, deltas map[string]float64, touched []string) *event.Event {
	list := make([]any, 0, len(series))
	var latest time.Time
	for _, k := range sortedKeys(series) {
		s := series[k]
		item := map[string]any{
			"metric":     s.Metric,
			"attributes": s.Attributes,
			"start":      s.Start.Format(time.RFC3339Nano),
			"time":       s.Time.Format(time.RFC3339Nano),
			"value":      s.Value,
			"delta":      deltas[k],
			"total":      s.Total,
		}
		setString(item, "unit", s.Unit)
		setString(item, "temporality", s.Temporality)
		list = append(list, item)
		if _, ok := deltas[k]; ok && s.Time.After(latest) {
			latest = s.Time
		}
	}
	data := map[string]any{
		"series":    list,
		"totals":    totals(series),
		"timestamp": latest.Format(time.RFC3339Nano),
	}
	setString(data, "session_id", sess)
	setString(data, "user_id", first.UserID)
	if len(first.Resource) > 0 {
		data["resource"] = first.Resource
	}
	h := sha256.New()
	h.Write([]byte(sess))
	for _, t := range touched {
		h.Write([]byte{0})
		h.Write([]byte(t))
	}
	return &event.Event{Namespace: Namespace, Name: "metrics", ID: "otel:metrics:" + hex.EncodeToString(h.Sum(nil)[:16]), Data: data}
}

// tokenTypes maps claude_code.token.usage's type attribute to mpm's usage field names.
var tokenTypes = map[string]string{
	"input": "input_tokens", "output": "output_tokens",
	"cacheRead": "cache_read_input_tokens", "cacheCreation": "cache_creation_input_tokens",
}

// totals sums Claude Code's metrics of a session into mpm's names:
// cost_usd, input_tokens, output_tokens, cache_read_input_tokens,
// cache_creation_input_tokens, lines_added, lines_removed,
// active_time_seconds, session_count, commit_count, pull_request_count,
// and by_model {model: {cost_usd, …tokens}}.
func totals(series map[string]*Series) map[string]any {
	out := map[string]any{}
	byModel := map[string]map[string]any{}
	add := func(m map[string]any, k string, v float64, integer bool) {
		if integer {
			n, _ := m[k].(int64)
			m[k] = n + int64(math.Round(v))
			return
		}
		f, _ := m[k].(float64)
		m[k] = f + v
	}
	for _, s := range series {
		typ, _ := s.Attributes["type"].(string)
		model, _ := s.Attributes["model"].(string)
		var field string
		integer := true
		switch s.Metric {
		case "claude_code.cost.usage":
			field, integer = "cost_usd", false
		case "claude_code.token.usage":
			field = tokenTypes[typ]
		case "claude_code.lines_of_code.count":
			if typ == "added" || typ == "removed" {
				field = "lines_" + typ
			}
		case "claude_code.active_time.total":
			field, integer = "active_time_seconds", false
		case "claude_code.session.count":
			field = "session_count"
		case "claude_code.commit.count":
			field = "commit_count"
		case "claude_code.pull_request.count":
			field = "pull_request_count"
		}
		if field == "" {
			continue
		}
		add(out, field, s.Total, integer)
		if model != "" && (field == "cost_usd" || strings.HasSuffix(field, "_tokens")) {
			if byModel[model] == nil {
				byModel[model] = map[string]any{}
			}
			add(byModel[model], field, s.Total, integer)
		}
	}
	if len(byModel) > 0 {
		bm := make(map[string]any, len(byModel))
		for k, v := range byModel {
			bm[k] = v
		}
		out["by_model"] = bm
	}
	return out
}

// seriesFrom reads the series back out of a stored metrics event's data.
func seriesFrom(data map[string]any) []*Series {
	list, _ := data["series"].([]any)
	var out []*Series
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		metric, _ := m["metric"].(string)
		if metric == "" {
			continue
		}
		s := &Series{Metric: metric}
		s.Unit, _ = m["unit"].(string)
		s.Temporality, _ = m["temporality"].(string)
		s.Attributes, _ = m["attributes"].(map[string]any)
		if s.Attributes == nil {
			s.Attributes = map[string]any{}
		}
		s.Start = parseTime(m["start"])
		s.Time = parseTime(m["time"])
		s.Value = number(m["value"])
		s.Total = number(m["total"])
		if s.Temporality == "cumulative" {
			s.base = s.Total - s.Value
		}
		out = append(out, s)
	}
	return out
}

func parseTime(v any) time.Time {
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func number(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return 0
}
