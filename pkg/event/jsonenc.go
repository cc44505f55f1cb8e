package event

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the JSON encoding of v to b, byte for byte what
// json.Marshal(v) writes (map keys sorted, HTML characters escaped), but for
// what decoding JSON into any yields — map[string]any, []any, string,
// float64, bool, nil — without reflection: about three times faster, and
// event data is encoded for every stored event (docs/PERFORMANCE.md). Other
// types go through json.Marshal.
func AppendJSON(b []byte, v any) ([]byte, error) { return appendJSON(b, v, false) }

// ErrNotPlainJSON is AppendPlainJSON's answer for a value of another type.
var ErrNotPlainJSON = errors.New("not a plain JSON value")

// AppendPlainJSON is AppendJSON for values made only of the types decoding
// JSON yields (and int64, int); for anything else it returns
// ErrNotPlainJSON, so a caller can take another way (the Socket.IO encoder
// turns []byte into a binary attachment, json.Marshal into base64).
func AppendPlainJSON(b []byte, v any) ([]byte, error) { return appendJSON(b, v, true) }

func appendJSON(b []byte, v any, plain bool) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case string:
		return appendString(b, v), nil
	case float64:
		return appendFloat(b, v)
	case json.Number:
		// from a decoder with UseNumber: a valid number literal, written
		// as it is (json.Marshal checks it and writes it so, "" as 0)
		if v == "" {
			return append(b, '0'), nil
		}
		if c := v[0]; (c == '-' || c >= '0' && c <= '9') && json.Valid([]byte(v)) {
			return append(b, v...), nil
		}
		j, err := json.Marshal(v)
		return append(b, j...), err
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, v[k], plain); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e, plain); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	if plain {
		return b, ErrNotPlainJSON
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendFloat writes f as encoding/json does.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		_, err := json.Marshal(f) // the same error json.Marshal returns
		return b, err
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendString writes s quoted; strings with anything but plain printable
// ASCII go through json.Marshal, which escapes them.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s)
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
