// Package spool keeps the events mpm-hook could not deliver to mpmd in a
// directory on disk until someone (the next hook that reaches mpmd, or mpmd
// itself at start-up) drains them.
//
// The records are lines of JSON appended to one file, spool.log. Creating a
// file costs about a millisecond on ext4 and more in the tail, appending a
// line to an existing one some microseconds, and the hook pays for it on
// every run while mpmd is down. An appender opens spool.log with O_APPEND,
// holds a shared flock on it, checks that the file it opened is still the one
// named spool.log and writes its line with one write(2), which Linux does not
// interleave with another appender's; so any number of hook processes append
// at once.
//
// Draining holds an exclusive flock on .drain.lock, so two drainers never hand
// the same record to their send functions. A drainer takes an exclusive flock
// on spool.log (waiting for the appenders in their write), renames it to
// draining-<ns>.log and lets go; later appenders see that the name points at
// another file and create a fresh spool.log. It then sends the records of
// every draining-*.log, and of any <name>.json record file left by the
// file-per-record format of earlier versions, ordered by the event's timestamp
// and then by arrival. A file is removed once all its records were delivered;
// a drain that stops part-way rewrites a file with what is left of it. A
// crash between delivering a record and removing it delivers it again later,
// which is harmless because mpmd drops repeated event_ids. A line that cannot
// be decoded (the tail of a write cut short) is appended to bad/lines.log
// and skipped.
package spool

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mpm-dev/mpm/pkg/paths"
)

// Record is one spooled event: the namespace and event name it is emitted
// under and its data, which carries event_id, timestamp and (for hook events)
// session_id.
type Record struct {
	Namespace string         `json:"namespace"`
	Event     string         `json:"event"`
	Data      map[string]any `json:"data"`
}

// Spool is a directory of records. It holds no open files; a Spool is safe for
// concurrent use, and so are many Spools on one directory in many processes.
type Spool struct {
	dir string
}

const (
	// logName is the file appenders write to.
	logName = "spool.log"
	// drainingPrefix+<ns, 19 digits>+drainingSuffix is spool.log once a
	// drainer took it over.
	drainingPrefix = "draining-"
	drainingSuffix = ".log"
	// legacySuffix names the one-record files of earlier versions.
	legacySuffix = ".json"
	lockName     = ".drain.lock"
	// badDir receives records that cannot be decoded, so one corrupt record
	// never blocks the records behind it: undecodable lines are appended to
	// badLines, undecodable legacy files are moved there.
	badDir   = "bad"
	badLines = "lines.log"
	// appendTries bounds how often Append reopens spool.log after drainers
	// renamed it away under it.
	appendTries = 32
)

// Open returns the spool in dir, creating the directory (0700) when missing.
func Open(dir string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	return &Spool{dir: dir}, nil
}

// Dir returns the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Append stores r. It is durable against the crash of this process (the
// record is written by one write(2) or not at all), not against a power loss:
// the file is not fsynced, which would cost the hook more than the rest of its
// run.
func (s *Spool) Append(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode spool record: %w", err)
	}
	b = append(b, '\n')
	path := filepath.Join(s.dir, logName)
	for range appendTries {
		done, err := appendOnce(path, b)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("spool: %s kept being renamed away while appending", path)
}

// appendOnce appends line to the file at path unless a drainer renamed that
// file away between the open and the lock (then it reports false).
func appendOnce(path string, line []byte) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fd := int(f.Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_SH)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return false, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	opened, err := f.Stat()
	if err != nil {
		return false, err
	}
	named, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !os.SameFile(opened, named) {
		return false, nil
	}
	// One write(2) for the whole line; File.Write finishes a short write
	// (a full disk, a file size limit) or reports it, never leaves it.
	_, err = f.Write(line)
	return err == nil, err
}

// files lists the files that hold records: legacy record files and draining
// files, each oldest first, then spool.log when it exists.
func (s *Spool) files() ([]string, error) {
	entries, err := os.ReadDir(s.dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("read spool: %w", err)
	}
	var legacy, draining []string
	hasLog := false
	for _, e := range entries {
		n := e.Name()
		switch {
		case !e.Type().IsRegular() || strings.HasPrefix(n, "."):
		case n == logName:
			hasLog = true
		case strings.HasPrefix(n, drainingPrefix) && strings.HasSuffix(n, drainingSuffix):
			draining = append(draining, n)
		case strings.HasSuffix(n, legacySuffix):
			legacy = append(legacy, n)
		}
	}
	names := append(legacy, draining...)
	if hasLog {
		names = append(names, logName)
	}
	return names, nil
}

// Len returns the number of records waiting (lines that may not decode
// included). It takes no lock: when a drainer renames or removes a file while
// Len reads, Len reads again.
func (s *Spool) Len() (int, error) {
	var n int
	for range 10 {
		names, err := s.files()
		if err != nil || len(names) == 0 {
			return 0, err // nothing listed: nothing waits, no recount needed
		}
		n, err = s.count(names)
		if errors.Is(err, os.ErrNotExist) {
			continue // renamed or removed under us
		}
		if err != nil {
			return 0, err
		}
		again, err := s.files()
		if err != nil {
			return 0, err
		}
		if slices.Equal(names, again) {
			return n, nil
		}
	}
	return n, nil
}

func (s *Spool) count(names []string) (int, error) {
	n := 0
	for _, name := range names {
		if strings.HasSuffix(name, legacySuffix) {
			n++
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			return 0, fmt.Errorf("read spool: %w", err)
		}
		for line := range bytes.Lines(b) {
			if len(bytes.TrimSpace(line)) > 0 {
				n++
			}
		}
	}
	return n, nil
}

// lockPoll is how often Drain retries a lock another drainer (or, for
// spool.log, an appender) holds.
const lockPoll = 2 * time.Millisecond

// flockWait takes an exclusive flock on f, polling until ctx ends (then
// ctx.Err() as it is); other failures are reported as what failed.
func flockWait(ctx context.Context, f *os.File, what string) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// lock takes the drain lock, waiting for another drainer until ctx ends.
func (s *Spool) lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool lock: %w", err)
	}
	if err := flockWait(ctx, f, "spool lock"); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// rotate renames spool.log to a draining file, once no appender is in its
// write. The caller holds the drain lock.
func (s *Spool) rotate(ctx context.Context) error {
	path := filepath.Join(s.dir, logName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	defer f.Close()
	if err := flockWait(ctx, f, "lock spool"); err != nil {
		return err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		// Nothing to take over; appenders keep using it.
		return nil
	}
	// Drains are serialized by the drain lock and the clock moves on, but
	// never reuse a name that is still there.
	for ns := time.Now().UnixNano(); ; ns++ {
		name := filepath.Join(s.dir, fmt.Sprintf("%s%019d%s", drainingPrefix, ns, drainingSuffix))
		if _, err := os.Lstat(name); err == nil {
			continue
		}
		if err := os.Rename(path, name); err != nil {
			return fmt.Errorf("take over spool: %w", err)
		}
		return nil
	}
}

// source is one file of records being drained.
type source struct {
	name   string
	legacy bool
	lines  [][]byte // the decodable lines, in file order
	done   []bool   // delivered, by line
	bad    bool     // it held lines that did not decode (now in bad/)
}

type item struct {
	src  *source
	line int
	rec  Record
	at   int64 // the event's time, ms
}

// Drain hands the records to send, oldest first, and removes each one after
// send returned nil. It stops at the first error from send (returning it) or
// when ctx ends (returning ctx.Err()), and reports how many records were
// delivered. While another drainer runs, Drain waits for it until ctx ends.
// A record that cannot be decoded is moved to the bad/ subdirectory.
func (s *Spool) Drain(ctx context.Context, send func(Record) error) (int, error) {
	return s.DrainWindow(ctx, 1, func(r Record) (func() error, error) {
		err := send(r)
		return func() error { return nil }, err
	})
}

// DrainWindow is Drain with up to window records in flight: start begins
// delivering a record and returns a wait function that says whether it was
// delivered. Records are started oldest first, and each one counts as
// delivered once its wait returned nil, in order; at the first error, what is
// in flight is awaited and kept (its delivery is unknown: the receiver drops
// duplicates by event_id) and the error returned. Delivered records are
// removed from the spool before DrainWindow returns.
func (s *Spool) DrainWindow(ctx context.Context, window int, start func(Record) (wait func() error, err error)) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	window = max(window, 1)
	unlock, err := s.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	if err := s.rotate(ctx); err != nil {
		return 0, err
	}
	srcs, items, err := s.load()
	if err != nil {
		return 0, err
	}
	n, err := deliver(ctx, window, items, start)
	return n, errors.Join(err, s.settle(srcs))
}

// load reads every legacy and draining file (not spool.log, which appenders
// own) and returns their records in delivery order.
func (s *Spool) load() ([]*source, []item, error) {
	names, err := s.files()
	if err != nil {
		return nil, nil, err
	}
	var srcs []*source
	var items []item
	var last int64
	add := func(src *source, line int, r Record) {
		at, ok := eventMillis(r)
		if !ok {
			at = last // no time of its own: it stays beside its neighbours
		}
		last = at
		items = append(items, item{src, line, r, at})
	}
	for _, name := range names {
		if name == logName {
			continue
		}
		path := filepath.Join(s.dir, name)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read spool: %w", err)
		}
		src := &source{name: name, legacy: strings.HasSuffix(name, legacySuffix)}
		if src.legacy {
			r, ok := decode(b)
			if !ok {
				s.quarantineFile(name)
				continue
			}
			src.lines = [][]byte{b}
			add(src, 0, r)
		} else {
			for line := range bytes.Lines(b) {
				line = bytes.TrimSpace(line)
				if len(line) == 0 {
					continue
				}
				r, raw, junk := decodeLine(line)
				if len(junk) > 0 {
					s.quarantineLine(junk)
					src.bad = true
				}
				if raw != nil {
					src.lines = append(src.lines, raw)
					add(src, len(src.lines)-1, r)
				}
			}
		}
		src.done = make([]bool, len(src.lines))
		srcs = append(srcs, src)
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(a.at, b.at) })
	return srcs, items, nil
}

// eventMillis is the record's timestamp in ms since the epoch.
func eventMillis(r Record) (int64, bool) {
	ts, ok := r.Data["timestamp"].(string)
	if !ok {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

func decode(b []byte) (Record, bool) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil || r.Event == "" {
		return Record{}, false
	}
	return r, true
}

// recordStart begins every line Append writes; it cannot occur inside a JSON
// string (whose quotes are escaped), only as the start of a record.
var recordStart = []byte(`{"namespace":`)

// decodeLine decodes a line into a record and the bytes it was decoded from.
// A write cut short (a full disk) leaves a partial record with no newline,
// and the next appender's record continues the same line: the record after
// the partial one is still recovered, and the partial one returned as junk.
func decodeLine(line []byte) (r Record, raw, junk []byte) {
	if r, ok := decode(line); ok {
		return r, line, nil
	}
	for i := 1; i < len(line); i++ {
		j := bytes.Index(line[i:], recordStart)
		if j < 0 {
			break
		}
		i += j
		if r, ok := decode(line[i:]); ok {
			return r, line[i:], line[:i]
		}
	}
	return Record{}, nil, line
}

// deliver runs the window over items, marking each delivered record done.
func deliver(ctx context.Context, window int, items []item, start func(Record) (func() error, error)) (int, error) {
	type started struct {
		it   item
		wait func() error
	}
	var flight []started
	n := 0
	// settleOldest waits for the oldest record in flight and marks it
	// delivered.
	settleOldest := func() error {
		f := flight[0]
		flight = flight[1:]
		if err := f.wait(); err != nil {
			return err
		}
		f.it.src.done[f.it.line] = true
		n++
		return nil
	}
	// settleAll does that for every record in flight, oldest first.
	settleAll := func() error {
		for len(flight) > 0 {
			if err := settleOldest(); err != nil {
				return err
			}
		}
		return nil
	}
	// fail keeps the first error and awaits what is still in flight.
	fail := func(err error) (int, error) {
		for len(flight) > 0 {
			f := flight[0]
			flight = flight[1:]
			_ = f.wait()
		}
		return n, err
	}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		wait, err := start(it.rec)
		if err != nil {
			// What was started before it may still be delivered.
			if e := settleAll(); e != nil {
				return fail(e)
			}
			return n, err
		}
		flight = append(flight, started{it, wait})
		if len(flight) >= window {
			if err := settleOldest(); err != nil {
				return fail(err)
			}
		}
	}
	if err := settleAll(); err != nil {
		return fail(err)
	}
	return n, nil
}

// settle removes what was delivered: a file all of whose records were
// delivered is removed, a file some of whose were is rewritten with the rest.
func (s *Spool) settle(srcs []*source) error {
	var errs []error
	for _, src := range srcs {
		path := filepath.Join(s.dir, src.name)
		var left [][]byte
		for i, line := range src.lines {
			if !src.done[i] {
				left = append(left, line)
			}
		}
		switch {
		case len(left) == 0:
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove delivered spool records: %w", err))
			}
		case len(left) < len(src.lines) || src.bad:
			// Only draining files get here: a legacy file holds one record.
			if err := rewrite(path, left); err != nil {
				errs = append(errs, fmt.Errorf("rewrite spool: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// rewrite replaces the file at path with lines, atomically.
func rewrite(path string, lines [][]byte) error {
	var b []byte
	for _, l := range lines {
		b = append(append(b, l...), '\n')
	}
	return paths.WriteFileAtomic(path, b, 0o600)
}

func (s *Spool) quarantineFile(name string) {
	dir := filepath.Join(s.dir, badDir)
	if os.MkdirAll(dir, 0o700) == nil {
		_ = os.Rename(filepath.Join(s.dir, name), filepath.Join(dir, name))
	}
}

func (s *Spool) quarantineLine(line []byte) {
	dir := filepath.Join(s.dir, badDir)
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, badLines), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(slices.Clip(line), '\n'))
}
