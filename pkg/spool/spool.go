// Package spool keeps the events mpm-hook could not deliver to mpmd in a
// directory on disk until someone (the next hook that reaches mpmd, or mpmd
// itself at start-up) drains them.
//
// Every record is one file, written under a temporary name and renamed into
// place, so any number of hook processes can append at once without locks and
// a reader never sees half a record. File names sort by the time the hook ran
// (then by the time it was spooled), so draining in name order delivers the
// events of a session in order. Draining holds an exclusive flock on
// .drain.lock, so two drainers never hand the same record to their send
// functions; a record is removed only after send returned nil, so a crash
// between the two delivers it again later, which is harmless because mpmd drops
// repeated event_ids.
package spool

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
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
	suffix   = ".json"
	lockName = ".drain.lock"
	// badDir receives records that cannot be decoded, so one corrupt file
	// never blocks the records behind it.
	badDir = "bad"
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
// record is complete or absent), not against a power loss: the file is not
// fsynced, which would cost the hook more than the rest of its run.
func (s *Spool) Append(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode spool record: %w", err)
	}
	name := recordName(r, time.Now())
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("spool: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// recordName is "<event time, ms>-<spool time, ns>-<random>.json": ordered by
// when the hook ran, then by when it was spooled, and unique.
func recordName(r Record, now time.Time) string {
	at := now
	if ts, ok := r.Data["timestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			at = t
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return fmt.Sprintf("%013d-%019d-%s%s", at.UnixMilli(), now.UnixNano(), hex.EncodeToString(rnd[:]), suffix)
}

// names lists the record files, oldest first.
func (s *Spool) names() ([]string, error) {
	entries, err := os.ReadDir(s.dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("read spool: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, suffix) && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	return names, nil
}

// Len returns the number of records waiting.
func (s *Spool) Len() (int, error) {
	names, err := s.names()
	return len(names), err
}

// lockPoll is how often Drain retries a lock another drainer holds.
const lockPoll = 2 * time.Millisecond

// lock takes the drain lock, waiting for another drainer until ctx ends.
func (s *Spool) lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("spool lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
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
// delivered. Records are started oldest first, and each one is removed once
// its wait returned nil, in order; at the first error, what is in flight is
// awaited and kept (its delivery is unknown: the receiver drops duplicates
// by event_id) and the error returned.
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
	names, err := s.names()
	if err != nil {
		return 0, err
	}
	type started struct {
		path string
		wait func() error
	}
	var flight []started
	n := 0
	// settle waits for the oldest record in flight and removes it.
	settle := func() error {
		f := flight[0]
		flight = flight[1:]
		if err := f.wait(); err != nil {
			return err
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove delivered spool record: %w", err)
		}
		n++
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
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		path := filepath.Join(s.dir, name)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("read spool record: %w", err))
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil || r.Event == "" {
			s.quarantine(name)
			continue
		}
		wait, err := start(r)
		if err != nil {
			// What was started before it may still be delivered.
			for len(flight) > 0 {
				if e := settle(); e != nil {
					return fail(e)
				}
			}
			return n, err
		}
		flight = append(flight, started{path, wait})
		if len(flight) >= window {
			if err := settle(); err != nil {
				return fail(err)
			}
		}
	}
	for len(flight) > 0 {
		if err := settle(); err != nil {
			return fail(err)
		}
	}
	return n, nil
}

func (s *Spool) quarantine(name string) {
	dir := filepath.Join(s.dir, badDir)
	if os.MkdirAll(dir, 0o700) == nil {
		_ = os.Rename(filepath.Join(s.dir, name), filepath.Join(dir, name))
	}
}
