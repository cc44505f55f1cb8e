package watch

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/transcript"
)

// file is one followed transcript. Only Run's goroutine touches it.
type file struct {
	key     string // absolute path under the root's configured name: the Offsets key and the id hash's input
	root    *root
	rel     string
	session string // from Follow; the lines' own sessionId wins
	agent   string // from the file name, for a subagent's transcript
	main    bool   // a session's own transcript, whose subagents are looked for
	idHash  string

	reader   *transcript.Reader
	tracker  *transcript.UsageTracker
	saved    int64 // the offset last saved
	started  bool
	info     os.FileInfo // the open file's last stat: identity, size, mtime
	lastTime time.Time   // the last entry timestamp seen
	recs     []transcript.Record
	evs      []*event.Event

	next, scanNext time.Time
	polled         time.Time // the last poll
	interval       time.Duration
	lastActive     time.Time
	missingSince   time.Time
	failing        bool // the last Ingest failed (logged once until it works again)
}

type pollResult int

const (
	pollIdle pollResult = iota
	pollMore            // more is there to read than one cycle's share
	pollDrop            // stop following the file
)

// admit starts following path (or makes a followed file be polled now).
func (w *Watcher) admit(session, path string, now time.Time) {
	r, rel, why := w.confine(path, now)
	if why == whyNoRoot {
		w.waitForRoot(session, path, now)
		return
	}
	if why != "" {
		w.reject(path, why)
		return
	}
	delete(w.waiting, path)
	key := filepath.Join(r.names[0], rel)
	if f, ok := w.files[key]; ok {
		// poll it soon, but not more often than every Poll however many
		// hook events name it
		f.interval = w.cfg.Poll
		f.next = f.polled.Add(w.cfg.Poll)
		if f.next.Before(f.scanNext) {
			f.scanNext = f.next
		}
		if f.session == "" {
			f.session = session
		}
		return
	}
	if len(w.files) >= w.cfg.MaxFiles && !w.evictLeastActive() {
		w.reject(path, "too many transcripts followed")
		return
	}
	agent := agentFromPath(rel)
	if session == "" { // the lines' own sessionId wins anyway; this is for lines without one
		session = sessionFromPath(rel, agent != "")
	}
	w.files[key] = &file{
		key: key, root: r, rel: rel, session: session, agent: agent, main: agent == "",
		idHash: pathHash(key), tracker: transcript.NewUsageTracker(0),
		next: now, scanNext: now, interval: w.cfg.Poll, lastActive: now,
	}
}

// evictLeastActive stops following the file idle longest (its offset is
// saved, so following it again resumes there).
func (w *Watcher) evictLeastActive() bool {
	var oldKey string
	var old *file
	for k, f := range w.files {
		if old == nil || f.lastActive.Before(old.lastActive) {
			oldKey, old = k, f
		}
	}
	if old == nil {
		return false
	}
	w.drop(oldKey)
	return true
}

// reset starts reading again from off (a line start).
func (f *file) reset(off int64, maxLine int) {
	if f.reader == nil {
		f.reader = transcript.NewReader(off, maxLine)
	} else {
		f.reader.Reset(off)
	}
	f.tracker.Reset()
	f.saved = off
	f.evs = nil
}

func (f *file) active(now time.Time, poll time.Duration) {
	f.interval, f.next, f.lastActive = poll, now.Add(poll), now
}

func (f *file) backoff(now time.Time, idle time.Duration) {
	f.interval = min(2*f.interval, idle)
	f.next = now.Add(f.interval)
}

// missingFor is how long a followed transcript may not exist (a hook can
// name it before Claude Code writes its first line) before it is dropped.
const missingFor = 10 * time.Minute

func (w *Watcher) poll(ctx context.Context, f *file, now time.Time) pollResult {
	f.polled = now
	w.count(func(s *Stats) { s.Polls++ })
	st, err := f.root.dir.Stat(f.rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if f.missingSince.IsZero() {
				f.missingSince = now
			}
			if now.Sub(f.missingSince) > missingFor {
				return pollDrop
			}
			f.backoff(now, w.cfg.IdlePoll)
			return pollIdle
		}
		w.reject(f.key, err.Error()) // a symlink out of the root, a loop, …
		return pollDrop
	}
	f.missingSince = time.Time{}
	if why := w.refuse(st); why != "" {
		w.reject(f.key, why)
		return pollDrop
	}
	if f.started && os.SameFile(st, f.info) && st.Size() == f.reader.Fed() && st.ModTime().Equal(f.info.ModTime()) {
		f.backoff(now, w.cfg.IdlePoll)
		w.scanSubagents(f, now, false)
		return pollIdle
	}
	return w.read(ctx, f, now)
}

// refuse says why a file is not read, or "".
func (w *Watcher) refuse(st os.FileInfo) string {
	switch {
	case !st.Mode().IsRegular():
		return "not a regular file"
	case st.Size() > w.cfg.MaxFileSize:
		return "larger than the transcript size limit"
	}
	return ""
}

func (w *Watcher) read(ctx context.Context, f *file, now time.Time) pollResult {
	fh, err := f.root.dir.OpenFile(f.rel, os.O_RDONLY|openFlags, 0)
	if err != nil {
		w.reject(f.key, err.Error())
		return pollDrop
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		w.reject(f.key, err.Error())
		return pollDrop
	}
	if why := w.refuse(st); why != "" { // checked again on what was opened
		w.reject(f.key, why)
		return pollDrop
	}
	size := st.Size()
	switch {
	case !f.started:
		off, ok := w.cfg.Offsets.Load(f.key)
		if !ok || off < 0 || off > size || (off > 0 && !lineEndsAt(fh, off)) {
			off = 0 // never saved, or the file is not the one it was saved for
		}
		f.reset(off, w.cfg.MaxLine)
		f.started = true
	case !os.SameFile(st, f.info) || size < f.reader.Fed():
		// Replaced (Claude Code rewrites a long transcript into a new file
		// renamed over the old) or truncated: read it again from the start;
		// the event ids are the same, the store drops the repeats.
		w.log.Debug("transcript replaced or truncated, reading it again", "path", f.key, "size", size, "read", f.reader.Fed())
		w.count(func(s *Stats) { s.Restarts++ })
		f.reset(0, w.cfg.MaxLine)
	}
	f.info = st
	from := f.reader.Fed()
	end := min(size, from+w.cfg.ReadPerCycle)
	for f.reader.Fed() < end {
		n := min(int64(len(w.buf)), end-f.reader.Fed())
		m, err := fh.ReadAt(w.buf[:n], f.reader.Fed())
		if m > 0 && !w.consume(ctx, f, w.buf[:m], now) {
			return pollIdle
		}
		if m == 0 || err != nil && !errors.Is(err, io.EOF) {
			break
		}
	}
	if !w.flush(ctx, f, f.reader.Offset(), now) {
		return pollIdle
	}
	w.count(func(s *Stats) { s.BytesRead += f.reader.Fed() - from })
	if f.reader.Fed() > from {
		f.active(now, w.cfg.Poll)
	} else {
		f.backoff(now, w.cfg.IdlePoll)
	}
	w.scanSubagents(f, now, f.reader.Fed() > from)
	if f.reader.Fed() < size {
		return pollMore
	}
	return pollIdle
}

// lineEndsAt reports whether the byte before off is a newline: a saved
// offset always is, so a file where it is not was replaced.
func lineEndsAt(fh *os.File, off int64) bool {
	var b [1]byte
	n, _ := fh.ReadAt(b[:], off-1)
	return n == 1 && b[0] == '\n'
}

// consume feeds one chunk and ingests full batches.
func (w *Watcher) consume(ctx context.Context, f *file, chunk []byte, now time.Time) bool {
	f.recs = f.reader.Feed(f.recs[:0], chunk)
	for i := range f.recs {
		f.evs = f.appendEvents(f.evs, &f.recs[i])
		if len(f.evs) >= w.cfg.Batch {
			// everything before the next record's line is in the batch
			safe := f.reader.Offset()
			if i+1 < len(f.recs) {
				safe = f.recs[i+1].Start
			}
			if !w.flush(ctx, f, safe, now) {
				return false
			}
		}
	}
	return true
}

// flush ingests the pending events and then saves safe, the offset all
// lines before which are ingested. On failure the file is read again from
// the last saved offset later.
func (w *Watcher) flush(ctx context.Context, f *file, safe int64, now time.Time) bool {
	if len(f.evs) > 0 {
		evs := f.evs
		f.evs = nil // Ingest may keep the slice
		if err := w.cfg.Ingest(ctx, evs); err != nil {
			w.count(func(s *Stats) { s.IngestErrors++ })
			if !f.failing && ctx.Err() == nil {
				w.log.Warn("transcript events not stored; will retry", "path", f.key, "err", err)
			}
			f.failing = true
			f.reset(f.saved, w.cfg.MaxLine)
			f.interval = w.cfg.IdlePoll
			f.next = now.Add(w.cfg.IdlePoll)
			return false
		}
		f.failing = false
		w.count(func(s *Stats) { s.Events += int64(len(evs)) })
	}
	if safe != f.saved {
		w.cfg.Offsets.Save(f.key, safe)
		f.saved = safe
	}
	return true
}

// scanSubagents looks for a session's subagent transcripts
// (<session>/subagents/agent-<id>.jsonl) and follows them: soon after the
// main transcript grew or was named by a hook, else every IdlePoll.
func (w *Watcher) scanSubagents(f *file, now time.Time, grew bool) {
	if !f.main || now.Before(f.scanNext) {
		return
	}
	if grew {
		f.scanNext = now.Add(time.Second)
	} else {
		f.scanNext = now.Add(w.cfg.IdlePoll)
	}
	dirRel := filepath.Join(strings.TrimSuffix(f.rel, ".jsonl"), "subagents")
	d, err := f.root.dir.Open(dirRel)
	if err != nil {
		return // none yet
	}
	entries, _ := d.ReadDir(w.cfg.MaxFiles)
	_ = d.Close()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "agent-") || !strings.HasSuffix(name, ".jsonl") {
			continue
		}
		path := filepath.Join(f.root.names[0], dirRel, name)
		if _, ok := w.files[path]; !ok {
			w.admit(f.session, path, now)
		}
	}
}

// waitForRoot keeps a path whose root does not exist yet, to try again on
// the next passes, for a while (bounded like pending).
func (w *Watcher) waitForRoot(session, path string, now time.Time) {
	since, ok := w.waiting[path]
	switch {
	case !ok && len(w.waiting) >= maxPending:
		w.reject(path, whyNoRoot)
	case !ok:
		w.waiting[path] = waitingPath{session: session, since: now}
	case now.Sub(since.since) > waitForRoot:
		delete(w.waiting, path)
		w.reject(path, whyNoRoot)
	}
}

type waitingPath struct {
	session string
	since   time.Time
}
