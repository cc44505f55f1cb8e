package wire

import (
	"errors"
	"fmt"
	"strings"
)

// ConnectError is a handshake mpmd refused (as opposed to one that failed for
// lack of a daemon): a wrong token, a bad since_seq, an unknown namespace.
type ConnectError struct {
	Msg  string
	Code string // the refusal's data.code when mpmd gives one ("invalid_token", …)
}

func (e *ConnectError) Error() string { return "mpmd refused the connection: " + e.Msg }

// Ack is mpmd's acknowledgement of an emitted event.
type Ack struct {
	Seq       int64
	EventID   string
	Duplicate bool
}

// AckError is an ack that refused the event ({"error": …, "code"?: …}).
type AckError struct {
	Msg  string
	Code string // the ack's "code", when mpmd gives one
}

func (e *AckError) Error() string { return "mpmd refused the event: " + e.Msg }

// Transient reports whether the refusal is about mpmd's state (it could not
// store the event: a full disk; it is overloaded or stopping), so the same
// event may be accepted later, rather than about the event itself (code
// "invalid": a bad name or data), which no retry fixes. Without a code (an
// older mpmd) the message tells.
func (e *AckError) Transient() bool {
	if e.Code != "" {
		return e.Code != "invalid"
	}
	return strings.HasPrefix(e.Msg, "event not stored")
}

// ParseAck reads the arguments of mpmd's ack of an event: {"seq", "event_id",
// "duplicate"}, or {"error", "code"} (an *AckError).
func ParseAck(args []any) (Ack, error) {
	if len(args) == 0 {
		return Ack{}, errors.New("mpmd acknowledged without an answer")
	}
	m, ok := args[0].(map[string]any)
	if !ok {
		return Ack{}, fmt.Errorf("mpmd acknowledged with %T, not an object", args[0])
	}
	if e, ok := m["error"]; ok && e != nil {
		code, _ := m["code"].(string)
		return Ack{}, &AckError{Msg: fmt.Sprint(e), Code: code}
	}
	var a Ack
	a.Seq, _ = Int64(m["seq"])
	a.EventID, _ = m["event_id"].(string)
	a.Duplicate, _ = m["duplicate"].(bool)
	return a, nil
}

// Int64 reads a JSON number as a decoder delivers it: json.Number (this
// package decodes with UseNumber, so a seq beyond 2^53 stays exact), float64
// (encoding/json's default, the Socket.IO library's), or an integer type.
func Int64(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	case interface{ Int64() (int64, error) }:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// Handler receives one event: its name and its data object (nil when the
// event carried no object).
type Handler func(event string, data map[string]any)
