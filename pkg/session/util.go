package session

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mpm-dev/mpm/pkg/event"
)

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// firstString is the first of keys that holds a non-empty string.
func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s := str(m, k); s != "" {
			return s
		}
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// num reads a JSON number however it was decoded (float64, json.Number,
// an integer type) or a decimal string.
func num(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, false
		}
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// integer is a token count: a non-negative whole number, 0 for anything else.
func integer(v any) int64 {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil && i >= 0 {
			return i
		}
	}
	f, ok := num(v)
	if !ok || f < 0 || f > 1<<53 {
		return 0
	}
	return int64(f)
}

func number(v any) float64 {
	if f, ok := num(v); ok {
		return f
	}
	return 0
}

func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "true" || b == "1"
	}
	return false
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]>>6 == 2 {
		n--
	}
	return s[:n] + "…"
}

func baseName(p string) string {
	if p == "" {
		return ""
	}
	return filepath.Base(p)
}

// isMemoryWrite reports an edit of a Claude memory file: CLAUDE.md,
// CLAUDE.local.md, MEMORY.md, or anything in a .claude/memory or memories
// directory.
func isMemoryWrite(tool string, input map[string]any) bool {
	switch tool {
	case "Write", "Edit", "MultiEdit":
	default:
		return false
	}
	p := filepath.ToSlash(str(input, "file_path"))
	base := filepath.Base(p)
	return base == "CLAUDE.md" || base == "CLAUDE.local.md" || base == "MEMORY.md" ||
		strings.Contains(p, "/.claude/memory") || strings.Contains(p, "/memories/")
}

func memoryContent(input map[string]any) string {
	if c := str(input, "content"); c != "" {
		return c
	}
	return str(input, "new_string")
}

// hookFromEventName recovers the hook event from a /hook event name when
// the data lacks hook_event_name (a script that emitted by hand).
func hookFromEventName(name string) string {
	for _, h := range event.HookEvents {
		if event.HookEventName(h) == name {
			return h
		}
	}
	return ""
}
