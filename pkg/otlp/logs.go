package otlp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Namespace is where every event of this package goes.
const Namespace = "/claude"

// namePrefix starts the names of Claude Code's log records and metrics.
const namePrefix = "claude_code."

// LogRecord is one OTLP log record, as Claude Code writes its events:
// body "claude_code.api_request", attributes event.name, session.id, … .
type LogRecord struct {
	Name      string    // the event's name: event.name, else a claude_code.… body without the prefix; "" when the record has neither
	Time      time.Time // the record's time, else event.timestamp, else its observed time
	SessionID string    // session.id
	AgentID   string    // agent_id, inside a subagent
	UserID    string    // user.id (Claude Code's hashed installation id)
	Sequence  int64     // event.sequence, -1 when absent
	TraceID   string    // hex, when the record was made inside a span
	SpanID    string
	Severity  string         // severity text or number, when set
	Body      any            // the body, when it says more than the name
	Fields    map[string]any // the other attributes, typed, with snake_case names
	Resource  map[string]any // the resource's attributes (service_version, os_type, host_arch, …)
	Truncated []string       // fields that were cut to fit the Limits
}

// Decoder decodes OTLP requests within its Limits (the zero value uses
// DefaultLimits).
type Decoder struct {
	Limits Limits
}

// Logs decodes an ExportLogsServiceRequest body.
func (d Decoder) Logs(body []byte, enc Encoding) ([]LogRecord, error) {
	ld, err := decode(body, enc, Logs, "resourceLogs", "resource_logs", plog.NewLogs,
		(&plog.ProtoUnmarshaler{}).UnmarshalLogs, (&plog.JSONUnmarshaler{}).UnmarshalLogs)
	if err != nil {
		return nil, err
	}
	lim := d.Limits.orDefault()
	var out []LogRecord
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := resource(rl.Resource(), lim)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				out = append(out, logRecord(lrs.At(k), res, lim))
			}
		}
	}
	return out, nil
}

// decode reads an export request with pdata's protobuf or JSON reader
// (an export request is, on the wire, the signal's data message: field 1
// of both is the list of resource records). An empty body is an empty
// request.
func decode[T any](body []byte, enc Encoding, sig Signal, field, alt string, empty func() T,
	fromProto, fromJSON func([]byte) (T, error)) (T, error) {
	if len(body) == 0 {
		return empty(), nil
	}
	var v T
	var err error
	if enc == JSON {
		if err = checkJSON(body, field, alt); err == nil {
			v, err = fromJSON(body)
		}
	} else {
		v, err = fromProto(body)
	}
	if err != nil {
		return v, &InvalidError{Signal: sig, Err: err}
	}
	return v, nil
}

func logRecord(lr plog.LogRecord, res map[string]any, lim Limits) LogRecord {
	c := newConverter(lim)
	f := c.attributes(lr.Attributes())
	r := LogRecord{
		Fields:    f,
		Resource:  res,
		SessionID: takeString(f, "session_id"),
		AgentID:   takeString(f, "agent_id"),
		UserID:    takeString(f, "user_id"),
		Sequence:  -1,
	}
	if !lr.TraceID().IsEmpty() {
		r.TraceID = hexID(lr.TraceID())
	}
	if !lr.SpanID().IsEmpty() {
		r.SpanID = hexID(lr.SpanID())
	}
	if n, ok := f["event_sequence"].(int64); ok {
		r.Sequence = n
		delete(f, "event_sequence")
	}
	body := c.value(lr.Body(), 0)
	name := takeString(f, "event_name")
	bodyName, _ := body.(string)
	if name == "" && strings.HasPrefix(bodyName, namePrefix) {
		name = bodyName[len(namePrefix):]
	}
	if bodyName != namePrefix+name && body != nil {
		r.Body = body
	}
	r.Name = name
	r.Time = nanos(uint64(lr.Timestamp()))
	if ts := takeString(f, "event_timestamp"); r.Time.IsZero() && ts != "" {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			r.Time = t.UTC()
		}
	}
	if r.Time.IsZero() {
		r.Time = nanos(uint64(lr.ObservedTimestamp()))
	}
	if lr.SeverityText() != "" {
		r.Severity = c.str(lr.SeverityText())
	} else if lr.SeverityNumber() != plog.SeverityNumberUnspecified {
		r.Severity = lr.SeverityNumber().String()
	}
	r.Truncated = c.truncated
	return r
}

// reserved are the field names a record's attribute cannot take: mpm sets
// them (the event id, seq and timestamp, the ids it takes out of the
// attributes) or gives them another meaning (resource, truncated). Such an
// attribute is kept as attr_<name>.
var reserved = set("event_id", "seq", "timestamp", "session_id", "agent_id", "user_id",
	"resource", "truncated", "trace_id", "span_id", "severity", "body", "event_sequence")

// claimed are names of /claude events mpm makes itself (from hooks and
// transcripts, and this package's metrics and span): a log record of such a
// name is stored as otel_<name>, so it cannot pass for one of them.
var claimed = set("status_changed", "output", "thinking", "usage", "cost_state", "metrics", "span")

// Event makes the /claude event of a log record: its name, and as data
// session_id, agent_id, the typed attributes, trace_id/span_id, user_id,
// event_sequence, resource (and body, severity, truncated when there is
// something to say). It fails for a record without a usable name.
func (r LogRecord) Event() (*event.Event, error) {
	name := r.Name
	if name == "" {
		return nil, fmt.Errorf("a log record has neither event.name nor a %s… body: it is not a Claude Code event", namePrefix)
	}
	if err := event.ValidateName(name); err != nil {
		return nil, fmt.Errorf("a log record's name cannot be an event name: %w", err)
	}
	if claimed[name] {
		name = "otel_" + name
	}
	data := make(map[string]any, len(r.Fields)+10)
	for k, v := range r.Fields {
		if reserved[k] {
			k = "attr_" + k
		}
		data[k] = v
	}
	setString(data, "session_id", r.SessionID)
	setString(data, "agent_id", r.AgentID)
	setString(data, "user_id", r.UserID)
	setString(data, "trace_id", r.TraceID)
	setString(data, "span_id", r.SpanID)
	setString(data, "severity", r.Severity)
	if r.Sequence >= 0 {
		data["event_sequence"] = r.Sequence
	}
	if r.Body != nil {
		data["body"] = r.Body
	}
	if len(r.Resource) > 0 {
		data["resource"] = r.Resource
	}
	setTruncated(data, r.Truncated)
	if !r.Time.IsZero() {
		data["timestamp"] = r.Time.Format(time.RFC3339Nano)
	}
	return &event.Event{Namespace: Namespace, Name: name, ID: r.id(), Data: data}, nil
}

// id is the record's event id: "otel:log:" and 32 hex digits of a hash of
// its session, name, time and sequence number — what tells one record from
// another — or, for a record without sequence number, of all it holds.
func (r LogRecord) id() string {
	h := sha256.New()
	h.Write([]byte(r.SessionID))
	h.Write([]byte{0})
	h.Write([]byte(r.Name))
	h.Write([]byte{0})
	h.Write([]byte(r.AgentID))
	h.Write([]byte{0})
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(r.Time.UnixNano()))
	h.Write(b[:])
	if r.Sequence >= 0 {
		h.Write([]byte(strconv.FormatInt(r.Sequence, 10)))
	} else {
		enc, _ := event.AppendPlainJSON(nil, []any{r.Fields, r.Body, r.TraceID, r.SpanID})
		h.Write(enc)
	}
	return "otel:log:" + hex.EncodeToString(h.Sum(nil)[:16])
}

func setString(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// setTruncated lists the fields that were cut, as mpm-hook does.
func setTruncated(m map[string]any, keys []string) {
	if len(keys) == 0 {
		return
	}
	t := make([]any, len(keys))
	for i, k := range keys {
		t[i] = k
	}
	m["truncated"] = t
}
