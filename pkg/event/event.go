// Package event is mpm's domain model: the eight namespaces, the shape of an
// event as it is stored and delivered, the rules for valid namespace and event
// names, the mapping from Claude Code hook input to /hook events, and the
// derivation table that turns raw hook events into the other namespaces' events.
//
// It imports nothing of the rest of mpm, so the daemon, the hook relay and the
// tests share one definition of what an event is.
package event

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Namespaces lists the Socket.IO namespaces mpmd serves, in display order.
var Namespaces = []string{"/system", "/session", "/claude", "/agent", "/hook", "/todo", "/memory", "/log"}

var namespaceSet = func() map[string]bool {
	m := make(map[string]bool, len(Namespaces))
	for _, n := range Namespaces {
		m[n] = true
	}
	return m
}()

// ErrUnknownNamespace is returned for a namespace mpmd does not serve.
var ErrUnknownNamespace = errors.New("unknown namespace")

// ErrBadEventName is returned for an event name that cannot be delivered.
var ErrBadEventName = errors.New("invalid event name")

// NormalizeNamespace accepts "system" or "/system" and returns "/system".
// Anything but one of the eight namespaces is an error naming the valid ones.
func NormalizeNamespace(s string) (string, error) {
	n := s
	if !strings.HasPrefix(n, "/") {
		n = "/" + n
	}
	if !namespaceSet[n] {
		return "", fmt.Errorf("%w %q: use one of %s", ErrUnknownNamespace, s, strings.Join(Namespaces, ", "))
	}
	return n, nil
}

// IsNamespace reports whether name (with its leading slash) is served by mpmd.
func IsNamespace(name string) bool { return namespaceSet[name] }

// MaxNameLen is the longest event name accepted.
const MaxNameLen = 64

// reserved are the names Socket.IO keeps for itself; a client could never
// tell such an event from the library's own.
var reserved = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true, "disconnecting": true,
	"newListener": true, "removeListener": true,
}

// ValidateName checks an event name: 1 to 64 characters of letters, digits,
// '_', '-', '.' or ':', and not one of Socket.IO's reserved names.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: the event name is empty", ErrBadEventName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %q is longer than %d characters", ErrBadEventName, name[:16]+"…", MaxNameLen)
	}
	for _, r := range name {
		ok := r == '_' || r == '-' || r == '.' || r == ':' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("%w: %q may only hold letters, digits, '_', '-', '.' and ':'", ErrBadEventName, name)
		}
	}
	if reserved[name] {
		return fmt.Errorf("%w: %q is reserved by Socket.IO", ErrBadEventName, name)
	}
	return nil
}

// Event is one stored and delivered event.
type Event struct {
	Seq       int64          `json:"seq"`
	ID        string         `json:"event_id"`
	Namespace string         `json:"namespace"`
	Name      string         `json:"event"`
	Time      time.Time      `json:"timestamp"`
	SessionID string         `json:"session_id,omitempty"`
	Data      map[string]any `json:"data"`
}

// TimeFormat is how timestamps are written on the wire: RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime writes t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Payload is what a Socket.IO client receives: the event's data with its
// event_id, seq and timestamp (e.Time in TimeFormat, whatever form the
// producer gave it in) set. Data is not modified.
func (e *Event) Payload() map[string]any {
	p := make(map[string]any, len(e.Data)+3)
	for k, v := range e.Data {
		p[k] = v
	}
	p["event_id"] = e.ID
	p["seq"] = e.Seq
	p["timestamp"] = FormatTime(e.Time) // normalised: a producer's time, in UTC
	return p
}

// NewID returns a new event id: 32 hex digits, the first 12 the time in
// milliseconds and the other 20 random (80 bits). Ids made one after
// another sort together, so the store inserts them at the end of its
// event_id index, in pages it has at hand, instead of anywhere in an index
// of millions (docs/PERFORMANCE.md, "Growth to 10 M events").
func NewID() string { return newID(time.Now()) }

func newID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

// MaxIDLen bounds producer-chosen event ids.
const MaxIDLen = 128

// Prepare fills what a producer may leave out and checks what it must not get
// wrong: the event id (taken from data["event_id"] when e.ID is empty, else
// generated), the timestamp (data["timestamp"] when it parses, else now) and
// the session id (data["session_id"]). It removes seq from data: only mpmd
// assigns it.
func (e *Event) Prepare(now time.Time) error {
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	if e.ID == "" {
		if id, ok := e.Data["event_id"].(string); ok {
			e.ID = id
		}
	}
	if e.ID == "" {
		e.ID = NewID()
	}
	if len(e.ID) > MaxIDLen {
		return fmt.Errorf("event_id is longer than %d characters", MaxIDLen)
	}
	delete(e.Data, "event_id")
	delete(e.Data, "seq")
	e.Time = now
	if ts, ok := e.Data["timestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			e.Time = t
		}
	}
	if sid, ok := e.Data["session_id"].(string); ok {
		e.SessionID = sid
	}
	return nil
}
