package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/spool"
)

// HookNamespace is where the relay emits.
const HookNamespace = "/hook"

// Limits of what the relay sends.
const (
	// MaxEventBytes bounds the JSON of one emitted event; mpmd refuses
	// socket packets over 1 MiB.
	MaxEventBytes = 512 << 10
	// ExcerptBytes is how much of a bad input a hook_error carries.
	ExcerptBytes = 2 << 10
	// minKeep is the least a truncated string keeps.
	minKeep = 256
)

// Build turns the raw hook input into the record to emit: the /hook event
// named after hook_event_name with every input field, plus event_id and
// timestamp; or a hook_error when the input is not a usable hook object.
// Fields too large for one event are cut (see Truncate). readErr, when set,
// says why the input may be incomplete (it was cut at the read limit, or stdin
// stayed open past the deadline).
func Build(input []byte, readErr error, now time.Time) spool.Record {
	id, ts := event.NewID(), event.FormatTime(now)
	fail := func(why string) spool.Record {
		if readErr != nil {
			why += " (" + readErr.Error() + ")"
		}
		return spool.Record{Namespace: HookNamespace, Event: event.HookErrorEvent, Data: map[string]any{
			"error":         why,
			"input_excerpt": Excerpt(input, ExcerptBytes),
			"input_bytes":   len(input),
			"event_id":      id,
			"timestamp":     ts,
		}}
	}
	if !utf8.Valid(input) {
		return fail("hook input is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(input)
	if len(trimmed) == 0 {
		return fail("hook input is empty")
	}
	if trimmed[0] != '{' {
		return fail("hook input is not a JSON object")
	}
	p := &parser{b: trimmed, partial: readErr != nil}
	fields, err := p.parseDocument()
	if err != nil {
		return fail("hook input is not valid JSON: " + jsonErr(trimmed, err))
	}
	hookName, _ := fields["hook_event_name"].(string)
	if _, ok := fields["hook_event_name"]; !ok {
		return fail("hook input has no hook_event_name")
	} else if hookName == "" {
		return fail("hook input's hook_event_name is not a non-empty string")
	}
	name := event.HookEventName(hookName)
	if err := event.ValidateName(name); err != nil {
		return fail(fmt.Sprintf("hook_event_name %q gives no usable event name: %v", Excerpt([]byte(hookName), 80), err))
	}
	truncated := bound(fields, p.bigs, len(trimmed), MaxEventBytes)
	data := fields
	if readErr != nil {
		data["input_error"] = readErr.Error()
	}
	if len(truncated) > 0 {
		data["truncated"] = truncated
	}
	data["event_id"] = id
	data["timestamp"] = ts
	return spool.Record{Namespace: HookNamespace, Event: name, Data: data}
}

// jsonErr says where a JSON syntax error is, as line:column.
func jsonErr(b []byte, err error) string {
	var se *syntaxError
	if errors.As(err, &se) {
		line, col := LineCol(b, int64(se.off))
		return fmt.Sprintf("%s at line %d, column %d", se.msg, line, col)
	}
	return err.Error()
}

// LineCol turns a byte offset into a 1-based line and column.
func LineCol(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line = 1 + bytes.Count(b[:off], []byte{'\n'})
	col = int(off) - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

// Excerpt returns at most n bytes of b as valid UTF-8 (invalid bytes become
// U+FFFD), with a marker when it was cut.
func Excerpt(b []byte, n int) string {
	cut := len(b) > n
	if cut {
		b = b[:n]
	}
	s := string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
	if cut {
		s += "…[truncated]"
	}
	return s
}

// TruncMarker is appended to a string that was cut: "…[truncated N bytes]".
func TruncMarker(n int) string { return "…[truncated " + strconv.Itoa(n) + " bytes]" }

// bound makes the event fit in limit bytes of JSON. Long strings (at any
// depth) were left undecoded by the parser; they are decoded now, the largest
// cut to a common length that makes the event fit. A value still too big
// after that (a huge array of numbers) becomes a cut string of its JSON. It
// returns the paths of what was cut.
func bound(data map[string]any, bigs []*bigString, total, limit int) []string {
	budget := limit - 4096 // room for event_id, timestamp, truncated
	lens := make([]int, len(bigs))
	for i, b := range bigs {
		lens[i] = len(b.raw)
	}
	capLen := capFor(lens, total, budget)
	attachSetters(data)
	var truncated []string
	for try := 0; ; try++ {
		truncated = truncated[:0]
		for _, b := range bigs {
			s, used := unescape(b.raw, capLen)
			switch {
			case used < len(b.raw):
				s += TruncMarker(len(b.raw) - used)
				truncated = append(truncated, b.path)
			case b.cut:
				s += "…[truncated: the input ended here]"
				truncated = append(truncated, b.path)
			}
			b.set(s)
		}
		if total <= budget {
			sort.Strings(truncated)
			return truncated
		}
		size := jsonSize(data)
		if size <= budget || try == 4 || capLen <= minKeep {
			break
		}
		// Escaping on the way out (HTML characters, control bytes)
		// made the cut strings bigger than their raw length.
		capLen = max(minKeep, capLen*budget/size/2)
	}
	// Whatever is still too big is not string-heavy: replace the largest
	// values by excerpts of their JSON until it fits.
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for range keys {
		size := jsonSize(data)
		if size <= budget {
			break
		}
		var big string
		bigLen := -1
		for _, k := range keys {
			if k == "hook_event_name" || k == "session_id" {
				continue
			}
			if l := jsonSize(data[k]); l > bigLen {
				big, bigLen = k, l
			}
		}
		if bigLen < minKeep*4 {
			break
		}
		keep := max(minKeep, budget-(size-bigLen)-64)
		vb, _ := json.Marshal(data[big])
		data[big] = cutString(string(vb), keep)
		truncated = append(truncated, big)
	}
	sort.Strings(truncated)
	return dedupe(truncated)
}

// attachSetters gives every bigString in v a way to replace itself.
func attachSetters(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if b, ok := e.(*bigString); ok {
				b.set = func(v any) { x[k] = v }
			} else {
				attachSetters(e)
			}
		}
	case []any:
		for i, e := range x {
			if b, ok := e.(*bigString); ok {
				b.set = func(v any) { x[i] = v }
			} else {
				attachSetters(e)
			}
		}
	}
}

func jsonSize(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// capFor returns the longest string length c such that cutting every leaf to
// c brings total under budget (leaves are raw JSON lengths).
func capFor(leaves []int, total, budget int) int {
	sort.Sort(sort.Reverse(sort.IntSlice(leaves)))
	excess := total - budget
	if excess <= 0 {
		return int(^uint(0) >> 1)
	}
	// Lower the cap step by step over the sorted lengths: with the k
	// largest leaves cut to c, the saving is sum(leaves[:k]) - k*c.
	sum := 0
	for k := 1; k <= len(leaves); k++ {
		sum += leaves[k-1]
		next := 0
		if k < len(leaves) {
			next = leaves[k]
		}
		// Largest c ≥ next with sum - k*c ≥ excess (plus markers).
		c := (sum - excess - k*40) / k
		if c >= next {
			return max(c, minKeep)
		}
	}
	return minKeep
}

// cutString keeps the first n bytes of s (on a rune boundary) and appends the marker.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + TruncMarker(len(s)-n)
}
