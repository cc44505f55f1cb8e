package transcript

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON scanner: it walks an object's members and skips values by
// their structure (strings, brackets) without decoding them, so a line's
// top-level "type" is found at the cost of one pass over the bytes before
// it. It checks structure — balanced brackets, terminated strings, colons and
// commas — but not every literal inside a skipped value; values that are used
// are decoded strictly.

// maxDepth bounds nesting; deeper lines are bad lines.
const maxDepth = 1024

var literalByte = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") {
		t[c] = true
	}
	return t
}()

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at b[i] (a
// quote), or -1.
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// skipValue returns the index just past the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipNested(b, i)
	}
	j := i
	for j < len(b) && literalByte[b[j]] {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

func skipNested(b []byte, i int) int {
	var objs [maxDepth / 64]uint64 // bit set: the open bracket at that depth is '{'
	depth := 0
	for j := i; j < len(b); j++ {
		switch c := b[j]; c {
		case '"':
			k := skipString(b, j)
			if k < 0 {
				return -1
			}
			j = k - 1
		case '{', '[':
			if depth == maxDepth {
				return -1
			}
			if c == '{' {
				objs[depth>>6] |= 1 << (depth & 63)
			} else {
				objs[depth>>6] &^= 1 << (depth & 63)
			}
			depth++
		case '}', ']':
			if depth == 0 {
				return -1
			}
			depth--
			if (objs[depth>>6]&(1<<(depth&63)) != 0) != (c == '}') {
				return -1
			}
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// members iterates over an object's members. After next returns false, bad
// reports whether the object was malformed.
type members struct {
	b    []byte
	i    int
	bad  bool
	done bool
}

// newMembers starts iterating the object b (surrounding space allowed).
func newMembers(b []byte) members {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return members{bad: true, done: true}
	}
	m := members{b: b, i: skipSpace(b, i+1)}
	if m.i < len(b) && b[m.i] == '}' {
		m.done = true
		m.bad = skipSpace(b, m.i+1) != len(b)
	}
	return m
}

// next returns the next member's key (with its quotes) and raw value.
func (m *members) next() (key, val []byte, ok bool) {
	if m.done {
		return nil, nil, false
	}
	b, i := m.b, m.i
	if i >= len(b) || b[i] != '"' {
		return m.fail()
	}
	ke := skipString(b, i)
	if ke < 0 {
		return m.fail()
	}
	key = b[i:ke]
	i = skipSpace(b, ke)
	if i >= len(b) || b[i] != ':' {
		return m.fail()
	}
	vs := skipSpace(b, i+1)
	ve := skipValue(b, vs)
	if ve < 0 {
		return m.fail()
	}
	val = b[vs:ve]
	i = skipSpace(b, ve)
	switch {
	case i < len(b) && b[i] == ',':
		m.i = skipSpace(b, i+1)
	case i < len(b) && b[i] == '}':
		m.done = true
		m.bad = skipSpace(b, i+1) != len(b)
	default:
		return m.fail()
	}
	return key, val, true
}

func (m *members) fail() ([]byte, []byte, bool) {
	m.bad, m.done = true, true
	return nil, nil, false
}

// elements iterates over an array's elements.
type elements struct {
	b    []byte
	i    int
	bad  bool
	done bool
}

func newElements(b []byte) elements {
	if len(b) == 0 || b[0] != '[' {
		return elements{bad: true, done: true}
	}
	e := elements{b: b, i: skipSpace(b, 1)}
	if e.i < len(b) && b[e.i] == ']' {
		e.done = true
	}
	return e
}

func (e *elements) next() ([]byte, bool) {
	if e.done {
		return nil, false
	}
	b := e.b
	vs := e.i
	ve := skipValue(b, vs)
	if ve < 0 {
		e.bad, e.done = true, true
		return nil, false
	}
	i := skipSpace(b, ve)
	switch {
	case i < len(b) && b[i] == ',':
		e.i = skipSpace(b, i+1)
	case i < len(b) && b[i] == ']':
		e.done = true
	default:
		e.bad, e.done = true, true
		return nil, false
	}
	return b[vs:ve], true
}

// str decodes a JSON string value; ok is false for anything else.
func str(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		if utf8.Valid(in) {
			return string(in), true
		}
		return string(bytes.ToValidUTF8(in, []byte("\uFFFD"))), true
	}
	return unescape(in)
}

// unescape decodes the inside of a JSON string holding escapes.
func unescape(in []byte) (string, bool) {
	var out strings.Builder
	out.Grow(len(in))
	run := 0 // start of the bytes not yet copied
	for i := 0; i < len(in); {
		if in[i] != '\\' {
			i++
			continue
		}
		out.Write(in[run:i])
		if i+1 >= len(in) {
			return "", false
		}
		switch c := in[i+1]; c {
		case '"', '\\', '/':
			out.WriteByte(c)
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r, ok := hex4(in[i+2:])
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(in) && in[i] == '\\' && in[i+1] == 'u' {
					if r2, ok := hex4(in[i+2:]); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
							i += 6
						}
					}
				}
				if utf16.IsSurrogate(r) {
					r = utf8.RuneError
				}
			}
			out.WriteRune(r)
			run = i
			continue
		default:
			return "", false
		}
		i += 2
		run = i
	}
	out.Write(in[run:])
	if s := out.String(); !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "\uFFFD"), true
	} else {
		return s, true
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// integer decodes a JSON number as an int64 (a fraction is dropped); ok is
// false for anything else, null included.
func integer(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	i := 0
	if v[0] == '-' {
		i = 1
	}
	if i == len(v) {
		return 0, false
	}
	for j := i; j < len(v); j++ {
		c := v[j]
		if c < '0' || c > '9' || j-i > 17 {
			f, ok := number(v)
			if !ok || f > 1<<62 || f < -(1<<62) {
				return 0, false
			}
			return int64(f), true
		}
		n = n*10 + int64(c-'0')
	}
	if i == 1 {
		n = -n
	}
	return n, true
}

// number decodes a JSON number as a float64.
func number(v []byte) (float64, bool) {
	if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func isTrue(v []byte) bool { return string(v) == "true" }

// rawCopy returns a copy of v when it is valid JSON.
func rawCopy(v []byte) (json.RawMessage, bool) {
	if !json.Valid(v) {
		return nil, false
	}
	return append(json.RawMessage(nil), v...), true
}
