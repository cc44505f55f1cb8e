package otlp

import (
	"errors"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Span is one OTLP span, e.g. Claude Code's claude_code.interaction,
// claude_code.llm_request or claude_code.tool (its traces beta).
type Span struct {
	Name          string
	TraceID       string // 32 hex digits
	SpanID        string // 16 hex digits
	ParentSpanID  string // "" for a root span
	Kind          string // internal, server, client, producer, consumer (lower case), or "" when unspecified
	Start, End    time.Time
	Status        string // unset, ok or error
	StatusMessage string
	SessionID     string // session.id
	AgentID       string // agent_id
	UserID        string // user.id
	Attributes    map[string]any
	Events        []any // {name, time, attributes} of the span's events
	Resource      map[string]any
	Truncated     []string
}

// maxSpanEvents bounds the span events kept per span.
const maxSpanEvents = 32

// Traces decodes an ExportTraceServiceRequest body.
func (d Decoder) Traces(body []byte, enc Encoding) ([]Span, error) {
	td, err := decode(body, enc, Traces, "resourceSpans", "resource_spans", ptrace.NewTraces,
		(&ptrace.ProtoUnmarshaler{}).UnmarshalTraces, (&ptrace.JSONUnmarshaler{}).UnmarshalTraces)
	if err != nil {
		return nil, err
	}
	lim := d.Limits.orDefault()
	var out []Span
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := resource(rs.Resource(), lim)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				out = append(out, span(spans.At(k), res, lim))
			}
		}
	}
	return out, nil
}

func span(sp ptrace.Span, res map[string]any, lim Limits) Span {
	c := newConverter(lim)
	attrs := c.attributes(sp.Attributes())
	s := Span{
		Name:          c.str(sp.Name()),
		Start:         nanos(uint64(sp.StartTimestamp())),
		End:           nanos(uint64(sp.EndTimestamp())),
		Status:        strings.ToLower(sp.Status().Code().String()),
		StatusMessage: c.str(sp.Status().Message()),
		Attributes:    attrs,
		Resource:      res,
		SessionID:     takeString(attrs, "session_id"),
		AgentID:       takeString(attrs, "agent_id"),
		UserID:        takeString(attrs, "user_id"),
	}
	if !sp.TraceID().IsEmpty() {
		s.TraceID = hexID(sp.TraceID())
	}
	if !sp.SpanID().IsEmpty() {
		s.SpanID = hexID(sp.SpanID())
	}
	if !sp.ParentSpanID().IsEmpty() {
		s.ParentSpanID = hexID(sp.ParentSpanID())
	}
	if sp.Kind() != ptrace.SpanKindUnspecified {
		s.Kind = strings.ToLower(sp.Kind().String())
	}
	evs := sp.Events()
	for i := 0; i < evs.Len() && i < maxSpanEvents; i++ {
		e := evs.At(i)
		ev := map[string]any{"name": c.str(e.Name()), "time": event.FormatTime(nanos(uint64(e.Timestamp())))}
		if e.Attributes().Len() > 0 {
			ev["attributes"] = c.attributes(e.Attributes())
		}
		s.Events = append(s.Events, ev)
	}
	if evs.Len() > maxSpanEvents {
		c.truncated = append(c.truncated, "events")
	}
	s.Truncated = c.truncated
	return s
}

// Event makes the /claude span event of s: {session_id, agent_id, user_id, name,
// trace_id, span_id, parent_span_id, kind, start, end, duration_ms, status,
// status_message, attributes, events, resource}, at the span's end. It
// fails for a span without trace or span id (OTLP requires both).
func (s Span) Event() (*event.Event, error) {
	if s.TraceID == "" || s.SpanID == "" {
		return nil, errors.New("a span has no trace_id or span_id")
	}
	data := map[string]any{
		"name":       s.Name,
		"trace_id":   s.TraceID,
		"span_id":    s.SpanID,
		"status":     s.Status,
		"attributes": s.Attributes,
	}
	setString(data, "session_id", s.SessionID)
	setString(data, "agent_id", s.AgentID)
	setString(data, "user_id", s.UserID)
	setString(data, "parent_span_id", s.ParentSpanID)
	setString(data, "kind", s.Kind)
	setString(data, "status_message", s.StatusMessage)
	if !s.Start.IsZero() {
		data["start"] = s.Start.Format(time.RFC3339Nano)
	}
	if !s.End.IsZero() {
		data["end"] = s.End.Format(time.RFC3339Nano)
		data["timestamp"] = data["end"]
	}
	if !s.Start.IsZero() && !s.End.IsZero() && !s.End.Before(s.Start) {
		data["duration_ms"] = float64(s.End.Sub(s.Start).Microseconds()) / 1000
	}
	if len(s.Events) > 0 {
		data["events"] = s.Events
	}
	if len(s.Resource) > 0 {
		data["resource"] = s.Resource
	}
	setTruncated(data, s.Truncated)
	return &event.Event{Namespace: Namespace, Name: "span", ID: "otel:span:" + s.TraceID + ":" + s.SpanID, Data: data}, nil
}
