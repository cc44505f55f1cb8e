package relay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written JSON reader for hook input. encoding/json needs more than a
// second for a 20 MB tool_response on a busy machine, far past the relay's
// deadline; this one finds the end of a long string with memchr-speed scans
// and decodes only the part of it that will be kept. Numbers stay exact
// (json.Number). The input was checked to be valid UTF-8 before.

// bigStringLen is the length (of escaped JSON) from which a string is kept
// undecoded until the cut length is known.
const bigStringLen = 4 << 10

// bigString is a long string value, not yet decoded.
type bigString struct {
	raw  []byte // between the quotes, still escaped
	path string
	set  func(any) // replaces this value in its container
	cut  bool      // the input ended inside this value
}

type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return e.msg }

type parser struct {
	b    []byte
	bigs []*bigString
	// partial says the input was cut (read limit or deadline): a value the
	// input ends in is kept as a cut string instead of failing the whole
	// event.
	partial bool
}

func (p *parser) fail(i int, format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...), off: i}
}

func (p *parser) ws(i int) int {
	for i < len(p.b) {
		switch p.b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// parseDocument parses one JSON object filling the whole input.
func (p *parser) parseDocument() (map[string]any, error) {
	i := p.ws(0)
	if i >= len(p.b) || p.b[i] != '{' {
		return nil, p.fail(i, "not a JSON object")
	}
	if p.partial {
		return p.salvageObject(i)
	}
	v, i, err := p.value(i, "")
	if err != nil {
		return nil, err
	}
	if i = p.ws(i); i != len(p.b) {
		return nil, p.fail(i, "unexpected %q after the object", p.b[i])
	}
	return v.(map[string]any), nil
}

// salvageObject parses the top-level object of a cut input: the members
// that are complete are kept, and the one the input ends in becomes a cut
// string of its raw text.
func (p *parser) salvageObject(i int) (map[string]any, error) {
	m := map[string]any{}
	i = p.ws(i + 1)
	for i < len(p.b) && p.b[i] != '}' {
		if p.b[i] != '"' {
			return nil, p.fail(i, "expected a string key")
		}
		raw, end, esc, err := p.stringEnd(i)
		if err != nil {
			return m, nil // cut inside a key: keep what is complete
		}
		key := decodeString(raw, esc)
		i = p.ws(end)
		if i >= len(p.b) {
			return m, nil
		}
		if p.b[i] != ':' {
			return nil, p.fail(i, "expected ':' after key %q", key)
		}
		start := p.ws(i + 1)
		v, next, err := p.value(start, key)
		if err != nil {
			if start >= len(p.b) {
				return m, nil
			}
			body := p.b[start:]
			if body[0] == '"' {
				body = body[1:]
			}
			bs := &bigString{raw: body, path: key, cut: true}
			p.bigs = append(p.bigs, bs)
			m[key] = bs
			return m, nil
		}
		m[key] = v
		i = p.ws(next)
		if i < len(p.b) && p.b[i] == ',' {
			i = p.ws(i + 1)
		}
	}
	return m, nil
}

func (p *parser) value(i int, path string) (any, int, error) {
	i = p.ws(i)
	if i >= len(p.b) {
		return nil, i, p.fail(i, "unexpected end of input")
	}
	switch c := p.b[i]; {
	case c == '{':
		m := map[string]any{}
		i = p.ws(i + 1)
		if i < len(p.b) && p.b[i] == '}' {
			return m, i + 1, nil
		}
		for {
			i = p.ws(i)
			if i >= len(p.b) || p.b[i] != '"' {
				return nil, i, p.fail(i, "expected a string key")
			}
			raw, end, esc, err := p.stringEnd(i)
			if err != nil {
				return nil, end, err
			}
			key := decodeString(raw, esc)
			i = p.ws(end)
			if i >= len(p.b) || p.b[i] != ':' {
				return nil, i, p.fail(i, "expected ':' after key %q", key)
			}
			sub := key
			if path != "" {
				sub = path + "." + key
			}
			v, next, err := p.value(i+1, sub)
			if err != nil {
				return nil, next, err
			}
			m[key] = v
			i = p.ws(next)
			if i < len(p.b) && p.b[i] == ',' {
				i++
				continue
			}
			if i < len(p.b) && p.b[i] == '}' {
				return m, i + 1, nil
			}
			return nil, i, p.fail(i, "expected ',' or '}' in object")
		}
	case c == '[':
		a := []any{}
		i = p.ws(i + 1)
		if i < len(p.b) && p.b[i] == ']' {
			return a, i + 1, nil
		}
		for {
			v, next, err := p.value(i, path+"["+strconv.Itoa(len(a))+"]")
			if err != nil {
				return nil, next, err
			}
			a = append(a, v)
			i = p.ws(next)
			if i < len(p.b) && p.b[i] == ',' {
				i++
				continue
			}
			if i < len(p.b) && p.b[i] == ']' {
				return a, i + 1, nil
			}
			return nil, i, p.fail(i, "expected ',' or ']' in array")
		}
	case c == '"':
		raw, end, esc, err := p.stringEnd(i)
		if err != nil {
			return nil, end, err
		}
		if len(raw) >= bigStringLen {
			bs := &bigString{raw: raw, path: path}
			p.bigs = append(p.bigs, bs)
			return bs, end, nil
		}
		return decodeString(raw, esc), end, nil
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(p.b) && (p.b[j] >= '0' && p.b[j] <= '9' || p.b[j] == '.' || p.b[j] == 'e' || p.b[j] == 'E' || p.b[j] == '+' || p.b[j] == '-') {
			j++
		}
		n := json.Number(p.b[i:j])
		// JSON's number grammar, not strconv's: ParseFloat takes 00, 1. and
		// -01, which json.Marshal then refuses, and the event would be lost.
		if !json.Valid(p.b[i:j]) {
			return nil, i, p.fail(i, "invalid number %q", n)
		}
		return n, j, nil
	case bytes.HasPrefix(p.b[i:], []byte("true")):
		return true, i + 4, nil
	case bytes.HasPrefix(p.b[i:], []byte("false")):
		return false, i + 5, nil
	case bytes.HasPrefix(p.b[i:], []byte("null")):
		return nil, i + 4, nil
	default:
		return nil, i, p.fail(i, "invalid character %q looking for a value", c)
	}
}

// stringEnd finds the end of the string starting at the quote at i. It
// returns the bytes between the quotes, the offset after the closing quote,
// and whether there are escapes.
func (p *parser) stringEnd(i int) (raw []byte, end int, esc bool, err error) {
	start := i + 1
	j := start
	for {
		k := bytes.IndexByte(p.b[j:], '"')
		if k < 0 {
			return nil, len(p.b), esc, p.fail(len(p.b), "unterminated string")
		}
		seg := p.b[j : j+k]
		if bytes.IndexByte(seg, '\\') < 0 {
			if ctl := controlChar(seg); ctl >= 0 {
				return nil, j + ctl, esc, p.fail(j+ctl, "control character in string")
			}
			return p.b[start : j+k], j + k + 1, esc, nil
		}
		// The quote may be escaped: count the backslashes before it.
		esc = true
		q := j + k
		n := 0
		for q-1-n >= start && p.b[q-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return p.b[start:q], q + 1, esc, nil
		}
		j = q + 1
	}
}

// controlChar returns the index of the first byte < 0x20, or -1. Only short
// segments are checked; scanning megabytes byte by byte is what this parser
// exists to avoid, and mpmd re-encodes whatever it receives anyway.
func controlChar(seg []byte) int {
	if len(seg) > bigStringLen {
		return -1
	}
	for i, c := range seg {
		if c < 0x20 {
			return i
		}
	}
	return -1
}

func decodeString(raw []byte, esc bool) string {
	if !esc {
		return string(raw)
	}
	s, _ := unescape(raw, len(raw)+1)
	return s
}

// unescape decodes JSON string content until at least limit bytes are out
// (or all of raw), and returns the decoded text and how many raw bytes it used.
func unescape(raw []byte, limit int) (string, int) {
	out := make([]byte, 0, min(len(raw), limit)+4)
	i := 0
	for i < len(raw) && len(out) < limit {
		c := raw[i]
		if c != '\\' {
			k := bytes.IndexByte(raw[i:], '\\')
			if k < 0 {
				k = len(raw) - i
			}
			k = min(k, limit-len(out))
			// Stop on a rune boundary.
			for k > 0 && i+k < len(raw) && !utf8.RuneStart(raw[i+k]) {
				k--
			}
			if k == 0 {
				_, size := utf8.DecodeRune(raw[i:])
				k = size
			}
			out = append(out, raw[i:i+k]...)
			i += k
			continue
		}
		if i+1 >= len(raw) {
			break
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			out = append(out, raw[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := decodeU(raw[i:])
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			out = append(out, raw[i+1])
		}
		i += 2
	}
	return string(out), i
}

// decodeU decodes \uXXXX (and a following low surrogate) at the start of b.
func decodeU(b []byte) (rune, int) {
	hex := func(b []byte) (rune, bool) {
		if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex(b)
	if !ok {
		return utf8.RuneError, min(2, len(b))
	}
	if utf16.IsSurrogate(r) {
		if r2, ok := hex(b[6:]); ok {
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				return d, 12
			}
		}
		return utf8.RuneError, 6
	}
	return r, 6
}
