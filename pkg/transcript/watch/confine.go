package watch

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// root is one directory transcripts may be read from, opened as an
// os.Root: every access goes through it, so no path, however spelt, and no
// symlink, however placed, reaches outside it.
type root struct {
	names  []string // the path as configured and, when different, with its symlinks resolved
	dir    *os.Root
	retry  time.Time // when to try opening again after a failure
	opened bool
}

func newRoots(dirs []string) []*root {
	var out []*root
	seen := map[string]bool{}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		abs, err := filepath.Abs(d)
		if err != nil || seen[abs] {
			continue
		}
		seen[abs] = true
		out = append(out, &root{names: []string{abs}})
	}
	return out
}

// whyNoRoot is confine's answer for a path whose root does not exist (yet):
// Claude Code creates ~/.claude/projects with the first session, after
// mpmd started and after that session's first hook event.
const whyNoRoot = "its Claude projects directory cannot be opened"

// rootRetry is how long a root that cannot be opened is left alone, and
// waitForRoot how long a path under it waits for it to appear.
const (
	rootRetry   = 200 * time.Millisecond
	waitForRoot = 10 * time.Minute
)

// open opens the root (once it exists; a projects directory may appear
// after mpmd starts).
func (r *root) open(now time.Time) bool {
	if r.opened {
		return true
	}
	if now.Before(r.retry) {
		return false
	}
	d, err := os.OpenRoot(r.names[0])
	if err != nil {
		r.retry = now.Add(rootRetry)
		return false
	}
	r.dir, r.opened = d, true
	if real, err := filepath.EvalSymlinks(r.names[0]); err == nil && real != r.names[0] {
		r.names = append(r.names, real) // a hook may name the resolved path
	}
	return true
}

func (r *root) close() {
	if r.dir != nil {
		_ = r.dir.Close()
	}
}

// within returns path relative to the root, if path is under it.
func (r *root) within(path string) (string, bool) {
	for _, n := range r.names {
		rel, err := filepath.Rel(n, path)
		if err == nil && rel != "." && filepath.IsLocal(rel) {
			return rel, true
		}
	}
	return "", false
}

// confine checks a path named by an event before anything is opened: an
// absolute path to a .jsonl file, without NUL or a ".." element, under one
// of the roots. It returns the root and the path relative to it, or why
// not.
func (w *Watcher) confine(path string, now time.Time) (*root, string, string) {
	switch {
	case strings.IndexByte(path, 0) >= 0:
		return nil, "", "the path holds a NUL byte"
	case !filepath.IsAbs(path):
		return nil, "", "the path is not absolute"
	case !strings.HasSuffix(path, ".jsonl"):
		return nil, "", "not a .jsonl file"
	}
	for _, el := range strings.Split(filepath.ToSlash(path), "/") {
		if el == ".." {
			return nil, "", "the path holds a .. element"
		}
	}
	clean := filepath.Clean(path)
	for _, r := range w.roots {
		if rel, ok := r.within(clean); ok {
			if !r.open(now) {
				return nil, "", whyNoRoot
			}
			return r, rel, ""
		}
	}
	return nil, "", "outside the Claude projects directories"
}

// maxRejected bounds the refused paths remembered, so each is logged once
// without the set growing for ever.
const maxRejected = 1024

// reject counts a refused path and logs it once, at debug level: a path
// from a hook event is the producer's business, not an error of mpmd's.
func (w *Watcher) reject(path, why string) {
	w.count(func(s *Stats) { s.Rejected++ })
	if w.rejected[path] {
		return
	}
	if len(w.rejected) >= maxRejected {
		clear(w.rejected)
	}
	w.rejected[path] = true
	w.log.Debug("transcript not read", "path", path, "reason", why)
}

// agentFromPath returns the agent id of a subagent transcript's path
// (…/<session>/subagents/agent-<id>.jsonl), else "".
func agentFromPath(rel string) string {
	dir, base := filepath.Split(rel)
	if filepath.Base(filepath.Clean(dir)) != "subagents" {
		return ""
	}
	id, ok := strings.CutPrefix(strings.TrimSuffix(base, ".jsonl"), "agent-")
	if !ok || !validAgentID(id) {
		return ""
	}
	return id
}

func validAgentID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sessionFromPath is the session a transcript's path names: <session>.jsonl,
// or <session>/subagents/agent-<id>.jsonl for a subagent's.
func sessionFromPath(rel string, subagent bool) string {
	if subagent {
		return filepath.Base(filepath.Dir(filepath.Dir(rel)))
	}
	return strings.TrimSuffix(filepath.Base(rel), ".jsonl")
}
