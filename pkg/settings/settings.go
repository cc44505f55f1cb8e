// Package settings merges mpm-hook's entries into Claude Code settings files
// (user ~/.claude/settings.json, project .claude/settings.json, local
// .claude/settings.local.json) and takes them out again, keeping every other
// key and hook and the order of keys, and reports what is installed where.
//
// mpm-hook's own entries are the command hooks whose command's program has
// the base name mpm-hook (or the wrapper hooks/mpm-hook.sh); everything else
// belongs to the user and is never touched. Which hook events install
// registers, with which matcher, and which it never registers, is the table
// HookEvents (events.go).
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/paths"
)

// Scope is where a settings file applies.
type Scope string

// The three scopes Claude Code reads settings from (besides managed ones).
const (
	User    Scope = "user"
	Project Scope = "project"
	Local   Scope = "local"
)

// Scopes lists them in the order Claude Code gives them precedence, lowest first.
var Scopes = []Scope{User, Project, Local}

// Path is the settings file of scope: under home for user, under dir (the
// project directory) otherwise.
func Path(scope Scope, home, dir string) (string, error) {
	switch scope {
	case User:
		return filepath.Join(home, ".claude", "settings.json"), nil
	case Project:
		return filepath.Join(dir, ".claude", "settings.json"), nil
	case Local:
		return filepath.Join(dir, ".claude", "settings.local.json"), nil
	}
	return "", fmt.Errorf("unknown scope %q: use user, project or local", scope)
}

// DefaultTimeout is the timeout (seconds) of an installed entry: Claude Code
// kills the hook after it, and the relay finishes well before.
const DefaultTimeout = 5

// Entry is what install writes for each event.
type Entry struct {
	Command string
	Timeout int  // seconds; 0 leaves it out
	Async   bool // run without blocking Claude Code
}

// IsOwn reports whether a hook command runs mpm-hook (or its wrapper).
func IsOwn(command string) bool {
	prog := firstWord(command)
	base := filepath.Base(prog)
	return base == "mpm-hook" || base == "mpm-hook.sh" || base == "mpm-hook.exe"
}

// firstWord returns the program of a shell command line, unquoted.
func firstWord(cmd string) string {
	cmd = strings.TrimSpace(cmd)
	var b strings.Builder
	var quote rune
	for _, r := range cmd {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case quote == 0 && (r == ' ' || r == '\t'):
			return b.String()
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// File is a loaded settings file.
type File struct {
	Path   string
	Exists bool
	Root   *Object
	orig   []byte
}

// Load reads the settings file at path. A missing file is an empty one; a
// malformed one is a *SyntaxError naming line and column.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &File{Path: path, Root: NewObject()}, nil
	}
	if err != nil {
		return nil, err
	}
	f := &File{Path: path, Exists: true, orig: b}
	if len(strings.TrimSpace(string(b))) == 0 {
		f.Root = NewObject()
		return f, nil
	}
	f.Root, err = Parse(path, b)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// hooks returns the "hooks" object, creating it when create is set. A
// "hooks" that is not an object is an error: it is the user's to fix.
func (f *File) hooks(create bool) (*Object, error) {
	v, ok := f.Root.Get("hooks")
	if !ok || v == nil {
		if !create {
			return nil, nil
		}
		h := NewObject()
		f.Root.Set("hooks", h)
		return h, nil
	}
	h, ok := v.(*Object)
	if !ok {
		return nil, fmt.Errorf("%s: \"hooks\" is not an object; fix it by hand first", f.Path)
	}
	return h, nil
}

func asObject(v any) (*Object, bool) { o, ok := v.(*Object); return o, ok }

// Install adds or updates mpm-hook's entry for each event, keeping exactly
// one per event, in a matcher group of its own with the matcher HookEvents
// gives (a group it shares with the user's hooks keeps its matcher). A Never
// event is refused with a *RefusedError, and entries of mpm-hook that an older
// install or a hand edit left on Never events are removed. It reports whether
// anything changed.
func (f *File) Install(events []string, e Entry) (bool, error) {
	if err := CheckEvents(events); err != nil {
		return false, err
	}
	h, err := f.hooks(true)
	if err != nil {
		return false, err
	}
	before := string(Marshal(f.Root))
	for _, ev := range events {
		groups, _ := h.Get(ev)
		list, ok := groups.([]any)
		if groups != nil && !ok {
			return false, fmt.Errorf("%s: hooks.%s is not a list; fix it by hand first", f.Path, ev)
		}
		found := false
		out := mapOwn(list, func(g, hobj *Object, alone bool) bool {
			if found {
				return false // a duplicate of ours
			}
			found = true
			setEntry(hobj, e)
			if alone {
				setMatcher(g, matcherOf(ev))
			}
			return true
		})
		if !found {
			g := NewObject()
			setMatcher(g, matcherOf(ev))
			hobj := NewObject()
			setEntry(hobj, e)
			g.Set("hooks", []any{hobj})
			out = append(out, g)
		}
		h.Set(ev, out)
	}
	removeOwn(f.Root, h, NeverEvents)
	return string(Marshal(f.Root)) != before, nil
}

func setMatcher(g *Object, m string) {
	if m == "" {
		g.Delete("matcher")
	} else {
		g.Set("matcher", m)
	}
}

// mapOwn walks an event's matcher groups and calls own for each of
// mpm-hook's own handlers (with its group, and whether it is the group's
// only handler), which stays when own returns true; every other handler and
// group is kept as it is. A group that held only handlers that own dropped
// is dropped with them.
func mapOwn(list []any, own func(g, h *Object, alone bool) bool) []any {
	var out []any
	for _, g := range list {
		gobj, ok := asObject(g)
		if !ok {
			out = append(out, g)
			continue
		}
		hl, _ := gobj.Get("hooks")
		handlers, ok := hl.([]any)
		if !ok {
			out = append(out, g)
			continue
		}
		var keep []any
		for _, hd := range handlers {
			if hobj, ok := asObject(hd); ok && isOwnHandler(hobj) && !own(gobj, hobj, len(handlers) == 1) {
				continue
			}
			keep = append(keep, hd)
		}
		if len(keep) == 0 && len(handlers) > 0 {
			continue
		}
		gobj.Set("hooks", orEmpty(keep))
		out = append(out, gobj)
	}
	return out
}

func orEmpty(a []any) []any {
	if a == nil {
		return []any{}
	}
	return a
}

func isOwnHandler(h *Object) bool {
	cmd, _ := h.Get("command")
	s, ok := cmd.(string)
	return ok && IsOwn(s)
}

func setEntry(h *Object, e Entry) {
	h.Set("type", "command")
	h.Set("command", e.Command)
	if e.Timeout > 0 {
		h.Set("timeout", json.Number(fmt.Sprint(e.Timeout)))
	} else {
		h.Delete("timeout")
	}
	if e.Async {
		h.Set("async", true)
	} else {
		h.Delete("async")
	}
}

// Uninstall removes mpm-hook's entries (of the given events, or all when
// events is empty), then matcher groups and events left empty by that. It
// returns how many entries it removed.
func (f *File) Uninstall(events []string) (int, error) {
	h, err := f.hooks(false)
	if err != nil || h == nil {
		return 0, err
	}
	if len(events) == 0 {
		events = h.Keys()
	}
	return removeOwn(f.Root, h, events), nil
}

// removeOwn removes mpm-hook's entries of events from the hooks object h of
// root, dropping groups and events it leaves empty and "hooks" itself when
// nothing is left, and returns how many it removed.
func removeOwn(root, h *Object, events []string) int {
	removed := 0
	for _, ev := range events {
		v, _ := h.Get(ev)
		list, ok := v.([]any)
		if !ok {
			continue
		}
		out := mapOwn(list, func(_, _ *Object, _ bool) bool {
			removed++
			return false
		})
		if len(out) == 0 && len(list) > 0 {
			h.Delete(ev)
		} else {
			h.Set(ev, orEmpty(out))
		}
	}
	if h.Len() == 0 {
		root.Delete("hooks")
	}
	return removed
}

// Installed returns, per event, the commands of mpm-hook's entries.
func (f *File) Installed() map[string][]string {
	out := map[string][]string{}
	h, err := f.hooks(false)
	if err != nil || h == nil {
		return out
	}
	for _, ev := range h.Keys() {
		v, _ := h.Get(ev)
		list, _ := v.([]any)
		for _, g := range list {
			gobj, ok := asObject(g)
			if !ok {
				continue
			}
			hl, _ := gobj.Get("hooks")
			handlers, _ := hl.([]any)
			for _, hd := range handlers {
				if hobj, ok := asObject(hd); ok && isOwnHandler(hobj) {
					c, _ := hobj.Get("command")
					out[ev] = append(out[ev], c.(string))
				}
			}
		}
	}
	return out
}

// Save writes the file atomically, first copying the current file to
// PATH.bak.<timestamp> when there is one. It returns the backup's path ("" when
// there was nothing to back up).
func (f *File) Save(now time.Time) (string, error) {
	backup := ""
	if f.Exists {
		backup = f.Path + ".bak." + now.UTC().Format("20060102T150405.000Z")
		if err := os.WriteFile(backup, f.orig, 0o600); err != nil {
			return "", fmt.Errorf("back up %s: %w", f.Path, err)
		}
	}
	// A settings file that is a symlink (dotfile managers) is written
	// through, not replaced by a regular file.
	target := f.Path
	if resolved, err := filepath.EvalSymlinks(f.Path); err == nil {
		target = resolved
	}
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(target); err == nil {
		perm = fi.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return backup, err
	}
	if err := paths.WriteFileAtomic(target, Marshal(f.Root), perm); err != nil {
		return backup, fmt.Errorf("write %s: %w", f.Path, err)
	}
	return backup, nil
}

// PluginName is the name of the Claude Code plugin this repository is
// (.claude-plugin/plugin.json): its hooks/hooks.json registers mpm-hook.
const PluginName = "mpm"

// EnabledPlugin returns the "mpm@<marketplace>" ids that the file's
// enabledPlugins turns on (Claude Code enables a marketplace plugin only with
// the value true).
func (f *File) EnabledPlugin() []string {
	v, _ := f.Root.Get("enabledPlugins")
	o, ok := v.(*Object)
	if !ok {
		return nil
	}
	var ids []string
	for _, k := range o.Keys() {
		on, _ := o.Get(k)
		if name, _, _ := strings.Cut(k, "@"); name == PluginName && on == true {
			ids = append(ids, k)
		}
	}
	return ids
}
