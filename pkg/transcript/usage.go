package transcript

// SyntheticModel is the model Claude Code names on assistant messages it
// makes up itself (an interruption notice, an API error shown as a reply);
// they cost nothing and their usage is not counted.
const SyntheticModel = "<synthetic>"

// DefaultTrackedMessages is how many messages a UsageTracker remembers
// unless told otherwise.
const DefaultTrackedMessages = 4096

// UsageTracker remembers the last usage seen per API message (message id and
// request id), so a caller can report a message's usage once although
// Claude Code repeats it on every line of the message, and again only when it
// changes. It remembers a bounded number of messages, forgetting the oldest
// first: a message seen again after being forgotten is reported again, which
// a consumer keeping the last usage per message id takes in its stride.
type UsageTracker struct {
	max  int
	last map[usageKey]*Usage
	ring []usageKey // insertion order, for eviction
	next int
}

type usageKey struct{ message, request string }

// NewUsageTracker returns a tracker remembering up to max messages (0 means
// DefaultTrackedMessages).
func NewUsageTracker(max int) *UsageTracker {
	if max <= 0 {
		max = DefaultTrackedMessages
	}
	return &UsageTracker{max: max, last: make(map[usageKey]*Usage)}
}

// Observe reports whether r carries usage that is new for its message or
// differs from the usage last seen for it, and remembers it. It is false
// for a record without usage and for the <synthetic> model. A line without
// a message id counts as a message of its own (keyed by its uuid).
func (t *UsageTracker) Observe(r *Record) bool {
	if r.Usage == nil || r.Model == SyntheticModel {
		return false
	}
	k := usageKey{r.MessageID, r.RequestID}
	if k.message == "" {
		k.message = "uuid:" + r.UUID
	}
	if prev, ok := t.last[k]; ok {
		if prev.Equal(r.Usage) {
			return false
		}
		t.last[k] = r.Usage
		return true
	}
	if len(t.ring) < t.max {
		t.ring = append(t.ring, k)
	} else {
		delete(t.last, t.ring[t.next])
		t.ring[t.next] = k
		t.next = (t.next + 1) % t.max
	}
	t.last[k] = r.Usage
	return true
}

// Len is the number of messages remembered.
func (t *UsageTracker) Len() int { return len(t.last) }

// Reset forgets every message.
func (t *UsageTracker) Reset() {
	clear(t.last)
	t.ring, t.next = t.ring[:0], 0
}
