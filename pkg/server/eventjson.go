package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

// GET /api/events writes stored events without decoding their data: the
// store keeps each event's data as JSON with its keys sorted (event.
// AppendJSON), and an event's API form is that object with event_id, seq
// and timestamp merged in at their sorted places, inside the event's own
// fields — byte for byte what json.Marshal(storedJSON(e)) writes. A page
// of 1,000 events then costs copies instead of a parse and an encoding of
// each (docs/PERFORMANCE.md, "Growth to 10 M events").

var errNotObject = errors.New("stored data is not a JSON object")

// appendStoredJSON appends r in its API form, as json.Marshal writes it
// (map keys sorted: data, event, event_id, namespace, seq, session_id,
// timestamp).
func appendStoredJSON(b []byte, r *store.Raw) ([]byte, error) {
	ts := event.FormatTime(time.UnixMilli(r.TimeMs))
	start := len(b)
	b = append(b, `{"data":`...)
	b, err := appendPayload(b, r.Data, r.ID, r.Seq, ts)
	if err != nil {
		return b[:start], err
	}
	b = append(b, `,"event":`...)
	b = appendJSONString(b, r.Name)
	b = append(b, `,"event_id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"namespace":`...)
	b = appendJSONString(b, r.Namespace)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, r.Seq, 10)
	b = append(b, `,"session_id":`...)
	b = appendJSONString(b, r.SessionID)
	b = append(b, `,"timestamp":`...)
	b = appendJSONString(b, ts)
	return append(b, '}'), nil
}

// appendRawEvent is appendStoredJSON, or for data it cannot merge (not
// an object: nothing mpmd stores) the slow way through a decode.
func appendRawEvent(b []byte, r *store.Raw) ([]byte, error) {
	if out, err := appendStoredJSON(b, r); err == nil {
		return out, nil
	}
	e := &event.Event{Seq: r.Seq, ID: r.ID, Namespace: r.Namespace, Name: r.Name, Time: time.UnixMilli(r.TimeMs).UTC(), SessionID: r.SessionID}
	if err := json.Unmarshal(r.Data, &e.Data); err != nil {
		return b, fmt.Errorf("decode event %d: %w", r.Seq, err)
	}
	j, err := json.Marshal(storedJSON(e))
	return append(b, j...), err
}

func appendJSONString(b []byte, s string) []byte {
	b, _ = event.AppendJSON(b, s) // a string always encodes
	return b
}

// appendPayload appends the data object with event_id, seq and timestamp
// set (event.Event.Payload), keys in order.
func appendPayload(b []byte, data []byte, id string, seq int64, ts string) ([]byte, error) {
	extras := [3]string{"event_id", "seq", "timestamp"}
	extra := func(i int) {
		switch i {
		case 0:
			b = appendJSONString(b, id)
		case 1:
			b = strconv.AppendInt(b, seq, 10)
		default:
			b = appendJSONString(b, ts)
		}
	}
	next := 0
	n := 0
	member := func(key string) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendJSONString(b, key)
		b = append(b, ':')
	}
	b = append(b, '{')
	p := skipSpace(data, 0)
	if p >= len(data) || data[p] != '{' {
		if string(data[p:]) != "null" {
			return b, errNotObject
		}
		data, p = []byte("{}"), 0
	}
	p = skipSpace(data, p+1)
	for p < len(data) && data[p] != '}' {
		if data[p] == ',' {
			p = skipSpace(data, p+1)
		}
		ks := p
		ke, err := skipValue(data, p)
		if err != nil || data[ks] != '"' {
			return b, errNotObject
		}
		key := string(data[ks+1 : ke-1])
		if bytes.IndexByte(data[ks:ke], '\\') >= 0 {
			if err := json.Unmarshal(data[ks:ke], &key); err != nil {
				return b, errNotObject
			}
		}
		p = skipSpace(data, ke)
		if p >= len(data) || data[p] != ':' {
			return b, errNotObject
		}
		vs := skipSpace(data, p+1)
		ve, err := skipValue(data, vs)
		if err != nil {
			return b, errNotObject
		}
		p = skipSpace(data, ve)
		for next < len(extras) && extras[next] < key {
			member(extras[next])
			extra(next)
			next++
		}
		if next < len(extras) && extras[next] == key {
			continue // replaced by the event's own
		}
		member(key)
		b = append(b, data[vs:ve]...)
	}
	if p >= len(data) {
		return b, errNotObject
	}
	for ; next < len(extras); next++ {
		member(extras[next])
		extra(next)
	}
	return append(b, '}'), nil
}

func skipSpace(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r') {
		p++
	}
	return p
}

// skipValue returns the end of the JSON value starting at b[p].
func skipValue(b []byte, p int) (int, error) {
	if p >= len(b) {
		return p, errNotObject
	}
	switch b[p] {
	case '"':
		for i := p + 1; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
		return len(b), errNotObject
	case '{', '[':
		depth := 0
		for i := p; i < len(b); i++ {
			switch b[i] {
			case '"':
				e, err := skipValue(b, i)
				if err != nil {
					return e, err
				}
				i = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return len(b), errNotObject
	}
	i := p
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
		i++
	}
	if i == p {
		return p, errNotObject
	}
	return i, nil
}
