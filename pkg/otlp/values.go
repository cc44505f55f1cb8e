package otlp

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Limits bound what one record may put into an event, so that a hostile or
// careless exporter cannot make mpmd store or broadcast huge events.
type Limits struct {
	MaxString     int // bytes of one string value; longer ones are cut with a marker
	MaxAttributes int // attributes kept per record (and per nested map)
	MaxItems      int // elements kept per array value
	MaxDepth      int // nesting of array and map values; deeper ones become a marker string
	MaxRecord     int // bytes of strings one record may hold in all; past it longer strings are cut to the marker
	MaxRecords    int // records (log records, spans, data points) turned into events per request
}

// DefaultLimits are the limits mpmd uses.
var DefaultLimits = Limits{
	MaxString:     16 << 10,
	MaxAttributes: 128,
	MaxItems:      256,
	MaxDepth:      8,
	MaxRecord:     256 << 10,
	MaxRecords:    10000,
}

func (l Limits) orDefault() Limits {
	d := DefaultLimits
	if l.MaxString > 0 {
		d.MaxString = l.MaxString
	}
	if l.MaxAttributes > 0 {
		d.MaxAttributes = l.MaxAttributes
	}
	if l.MaxItems > 0 {
		d.MaxItems = l.MaxItems
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxRecord > 0 {
		d.MaxRecord = l.MaxRecord
	}
	if l.MaxRecords > 0 {
		d.MaxRecords = l.MaxRecords
	}
	return d
}

// TruncMarker is appended to a string that was cut: "…[truncated N bytes]",
// as mpm-hook marks the fields it cuts.
func TruncMarker(n int) string { return "…[truncated " + strconv.Itoa(n) + " bytes]" }

// shortString is the length up to which a string is never cut for the
// record's budget, only for MaxString.
const shortString = 256

// converter turns pdata values into plain Go values (string, int64,
// float64, bool, nil, []any, map[string]any: what decoding JSON yields and
// what mpm's event encoder writes), within one record's limits.
type converter struct {
	lim       Limits
	budget    int      // string bytes left for this record
	truncated []string // top-level keys of values that were cut
	key       string   // top-level key being converted
}

func newConverter(lim Limits) *converter { return &converter{lim: lim, budget: lim.MaxRecord} }

// str bounds and cleans one string: valid UTF-8, at most MaxString bytes and
// what is left of the record's budget.
func (c *converter) str(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	// Short strings (names, ids) always fit: the budget stops big values.
	limit := min(c.lim.MaxString, max(c.budget, shortString))
	if len(s) <= limit {
		c.budget -= len(s)
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	c.budget -= cut
	c.markTruncated()
	return s[:cut] + TruncMarker(len(s)-cut)
}

func (c *converter) markTruncated() {
	if c.key == "" {
		return
	}
	if n := len(c.truncated); n == 0 || c.truncated[n-1] != c.key {
		c.truncated = append(c.truncated, c.key)
	}
}

// value converts v; depth counts the maps and arrays around it.
func (c *converter) value(v pcommon.Value, depth int) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return c.str(v.Str())
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return finite(v.Double())
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeBytes:
		return c.str(base64.StdEncoding.EncodeToString(v.Bytes().AsRaw()))
	case pcommon.ValueTypeSlice:
		if depth >= c.lim.MaxDepth {
			c.markTruncated()
			return "…[nested too deeply]"
		}
		sl := v.Slice()
		n := min(sl.Len(), c.lim.MaxItems)
		out := make([]any, 0, n)
		for i := 0; i < n; i++ {
			out = append(out, c.value(sl.At(i), depth+1))
		}
		if sl.Len() > n {
			c.markTruncated()
			out = append(out, "…["+strconv.Itoa(sl.Len()-n)+" more items]")
		}
		return out
	case pcommon.ValueTypeMap:
		if depth >= c.lim.MaxDepth {
			c.markTruncated()
			return "…[nested too deeply]"
		}
		out := map[string]any{}
		c.mapInto(out, v.Map(), depth+1, false)
		return out
	}
	return nil // empty
}

// mapInto copies m into out, converting values; top-level maps also get
// their keys in mpm's snake_case (see fieldName) and their known
// attributes typed (see typed).
func (c *converter) mapInto(out map[string]any, m pcommon.Map, depth int, top bool) {
	n := 0
	m.Range(func(k string, v pcommon.Value) bool {
		if n >= c.lim.MaxAttributes {
			c.truncatedAttributes(m.Len() - n)
			return false
		}
		n++
		key := cutKey(c.str(k))
		if top {
			key = fieldName(key)
			c.key = key
		}
		val := c.value(v, depth)
		if top {
			val = typed(key, val)
			c.key = ""
		}
		if _, taken := out[key]; taken {
			// two attributes of one field name ("error.type" and
			// "error_type"): the second keeps its own name, if it can
			if _, again := out[k]; again || !top || key == k {
				return true
			}
			key = k
		}
		out[key] = val
		return true
	})
}

// cutKey bounds an attribute name to 128 bytes.
func cutKey(k string) string {
	if len(k) <= 128 {
		return k
	}
	cut := 128
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return k[:cut]
}

func (c *converter) truncatedAttributes(n int) {
	c.truncated = append(c.truncated, "…["+strconv.Itoa(n)+" more attributes]")
}

// finite keeps a double JSON can carry; NaN and the infinities become strings.
func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return f
}

// fieldName turns an OpenTelemetry attribute name into mpm's snake_case
// field name: "prompt.id" → "prompt_id", "gen_ai.usage.input_tokens" →
// "gen_ai_usage_input_tokens". Claude Code's token attributes get the names
// the transcript's usage events use: "cache_read_tokens" →
// "cache_read_input_tokens" and so on.
func fieldName(k string) string {
	if r, ok := renames[k]; ok {
		return r
	}
	b := []byte(k)
	for i, ch := range b {
		ok := ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch >= utf8.RuneSelf
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

var renames = map[string]string{
	"cache_read_tokens":        "cache_read_input_tokens",
	"cache_creation_tokens":    "cache_creation_input_tokens",
	"cache_creation_5m_tokens": "cache_creation_5m_input_tokens",
	"cache_creation_1h_tokens": "cache_creation_1h_input_tokens",
}

// The attributes whose type Claude Code 2.1 gets wrong on the wire (it sends
// tool_result's success and duration_ms, user_prompt's prompt_length as
// strings), or that mpm wants as one type whatever the exporter sends.
var (
	intFields = set(
		"input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
		"cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens", "cost_usd_micros",
		"ttft_ms", "first_content_ms", "status_code", "attempt", "prompt_length", "response_length",
		"tool_input_size_bytes", "tool_result_size_bytes", "total_tokens", "total_tool_uses",
		"event_sequence", "user_prompt_length", "interaction_sequence", "queued_sends",
		"skill_path_count", "command_path_count", "agent_path_count",
	)
	numberFields = set("duration_ms", "cost_usd", "interaction_duration_ms")
	boolFields   = set("success", "is_async", "is_built_in", "model_swapped", "has_hooks", "has_mcp",
		"host_owned_mcp", "safe_mode", "anthropic_custom_base_url")
)

func set(ks ...string) map[string]bool {
	m := make(map[string]bool, len(ks))
	for _, k := range ks {
		m[k] = true
	}
	return m
}

// typed converts a known attribute to its type when the exporter sent it as
// something else it can be read from (a string "25", a double 25.0); a value
// it cannot be read from is kept as it came.
func typed(key string, v any) any {
	switch {
	case intFields[key]:
		switch x := v.(type) {
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return n
			}
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x)
			}
		}
	case numberFields[key]:
		if x, ok := v.(string); ok {
			x = strings.TrimSpace(x)
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n
			}
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				return finite(f)
			}
		}
	case boolFields[key]:
		if x, ok := v.(string); ok {
			if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
				return b
			}
		}
	}
	return v
}

// attributes converts a record's attribute map into fields.
func (c *converter) attributes(m pcommon.Map) map[string]any {
	out := make(map[string]any, min(m.Len(), c.lim.MaxAttributes))
	c.mapInto(out, m, 0, true)
	return out
}

// resource converts a resource's attributes: a small object (at most 16
// attributes of at most 256 bytes each), so every event can say which
// Claude Code version on which machine sent it.
func resource(r pcommon.Resource, lim Limits) map[string]any {
	attrs := r.Attributes()
	if attrs.Len() == 0 {
		return nil
	}
	small := lim
	small.MaxAttributes, small.MaxString, small.MaxDepth, small.MaxRecord = 16, 256, 2, 4096
	c := newConverter(small)
	return c.attributes(attrs)
}

// takeString removes key from fields and returns it when it is a string.
func takeString(fields map[string]any, key string) string {
	v, ok := fields[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		return ""
	}
	delete(fields, key)
	return s
}
