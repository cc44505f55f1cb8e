// Package otlp turns Claude Code's OpenTelemetry export into mpm events. It
// decodes OTLP/HTTP requests — logs, metrics and traces, protobuf or JSON,
// gzip or not — with the collector's pdata (which reads both encodings as
// the specification says, hex trace ids in JSON included) into typed records
// (LogRecord, Point, Span), and makes /claude events of them:
//
//   - every log record is an event named after it: claude_code.api_request →
//     api_request, tool_result, user_prompt, … with session_id (session.id),
//     agent_id, prompt_id and the record's attributes as typed fields;
//   - metric data points are accumulated per session and series (an
//     Accumulator), DELTA and CUMULATIVE alike, into one `metrics` event per
//     export and session with each series' delta and running total;
//   - every span is a `span` event.
//
// Event ids are derived from what the records say (session, time, sequence,
// trace and span ids), so a retried export stores nothing twice. Every
// value is bounded (Limits): strings, attributes, nesting, records. The
// HTTP side (routes, auth, answers) is in pkg/server; this package knows no
// more of HTTP than content types and encodings.
package otlp

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Signal is one of OTLP's three kinds of telemetry mpm takes.
type Signal string

// The signals, named as in their URL paths (/v1/logs …).
const (
	Logs    Signal = "logs"
	Metrics Signal = "metrics"
	Traces  Signal = "traces"
)

// Encoding is how an OTLP/HTTP body is written.
type Encoding int

// The two encodings of OTLP/HTTP.
const (
	Protobuf Encoding = iota + 1 // application/x-protobuf
	JSON                         // application/json
)

// ContentType is the media type of e.
func (e Encoding) ContentType() string {
	if e == JSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// ErrUnsupportedMediaType is returned for a content type or content encoding
// OTLP/HTTP does not define; HTTP says 415.
var ErrUnsupportedMediaType = errors.New("unsupported media type")

// EncodingOf reads a request's Content-Type.
func EncodingOf(contentType string) (Encoding, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil && contentType != "" {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	}
	switch mt {
	case "application/x-protobuf", "application/protobuf":
		return Protobuf, nil
	case "application/json":
		return JSON, nil
	}
	if contentType == "" {
		return 0, fmt.Errorf("%w: the request has no Content-Type; OTLP/HTTP takes application/x-protobuf or application/json", ErrUnsupportedMediaType)
	}
	return 0, fmt.Errorf("%w %q: OTLP/HTTP takes application/x-protobuf or application/json", ErrUnsupportedMediaType, contentType)
}

// TooLargeError says a body is over a limit, as sent or once decompressed.
type TooLargeError struct {
	Limit        int64
	Decompressed bool
}

func (e *TooLargeError) Error() string {
	if e.Decompressed {
		return fmt.Sprintf("the request body is larger than %d bytes once decompressed: send smaller batches (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE)", e.Limit)
	}
	return fmt.Sprintf("the request body is larger than %d bytes: send smaller batches (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE)", e.Limit)
}

// InvalidError says a body is not a valid OTLP request; HTTP says 400.
type InvalidError struct {
	Signal Signal
	Err    error
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("the body is not a valid OTLP %s export request: %v", e.Signal, e.Err)
}

func (e *InvalidError) Unwrap() error { return e.Err }

// ReadBody reads a request body of at most maxBody bytes and, when
// contentEncoding is gzip, decompresses it to at most maxDecoded bytes: a
// small gzip bomb cannot make more than that of memory. Bodies over a
// limit are a *TooLargeError; an encoding other than gzip or identity is
// ErrUnsupportedMediaType; a broken gzip stream an *InvalidError.
func ReadBody(r io.Reader, contentEncoding string, maxBody, maxDecoded int64) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("could not read the request body: %w", err)
	}
	if int64(len(raw)) > maxBody {
		return nil, &TooLargeError{Limit: maxBody}
	}
	switch strings.ToLower(strings.TrimSpace(contentEncoding)) {
	case "", "identity":
		if int64(len(raw)) > maxDecoded {
			return nil, &TooLargeError{Limit: maxDecoded, Decompressed: true}
		}
		return raw, nil
	case "gzip", "x-gzip":
	default:
		return nil, fmt.Errorf("%w: Content-Encoding %q; mpmd takes gzip or none", ErrUnsupportedMediaType, contentEncoding)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, &InvalidError{Signal: "", Err: fmt.Errorf("the gzip stream is broken: %w", err)}
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxDecoded+1))
	if err != nil {
		return nil, &InvalidError{Signal: "", Err: fmt.Errorf("the gzip stream is broken: %w", err)}
	}
	if int64(len(out)) > maxDecoded {
		return nil, &TooLargeError{Limit: maxDecoded, Decompressed: true}
	}
	return out, nil
}

// maxJSONDepth bounds the nesting of a JSON body before pdata reads it:
// its JSON reader recurses without a limit (its protobuf reader stops at
// 100). An OTLP logs request is about 12 levels deep plus 3 per nested
// attribute value.
const maxJSONDepth = 160

// checkJSON refuses JSON nested more deeply than maxJSONDepth and a body
// whose top level is an object without the request's one field, such as an
// /emit body sent to /v1/logs (pdata would read it as an empty request).
func checkJSON(body []byte, field, alt string) error {
	depth, inStr, esc := 0, false, false
	for _, c := range body {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			if depth > maxJSONDepth {
				return fmt.Errorf("JSON nested more than %d levels deep", maxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return nil // an empty request
	}
	if t[0] != '{' {
		return errors.New("a JSON request is an object")
	}
	if bytes.Equal(t, []byte("{}")) || bytes.Contains(t, []byte(`"`+field+`"`)) || bytes.Contains(t, []byte(`"`+alt+`"`)) {
		return nil
	}
	return fmt.Errorf("the JSON object has no %q", field)
}

// hexID writes a trace or span id as OTLP/JSON does: lower-case hex.
func hexID[T pcommon.TraceID | pcommon.SpanID](id T) string {
	switch v := any(id).(type) {
	case pcommon.TraceID:
		return hex.EncodeToString(v[:])
	case pcommon.SpanID:
		return hex.EncodeToString(v[:])
	}
	return ""
}

// nanos turns an OTLP timestamp into a time; 0 (unset) is the zero time.
func nanos(ns uint64) time.Time {
	if ns == 0 || ns > 1<<63-1 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns)).UTC()
}
