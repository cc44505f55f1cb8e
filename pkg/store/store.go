// Package store is mpmd's event store: an append-only log of events in SQLite
// (modernc.org/sqlite, no cgo) with WAL, idempotent ingest by event_id, the
// daemon-wide seq counter, queries for history and replay (each reading an
// index in seq order, so their cost does not grow with the store), retention
// by age and by count, and the snapshots of read models (the session
// model's, so mpmd starts without replaying every event).
//
// Writes go through one batch at a time (Begin … Commit), which is how mpmd's
// single pipeline goroutine uses it; reads may run concurrently.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Memory is the path that selects an in-memory store (lost on exit).
const Memory = ":memory:"

const insertSQL = `INSERT INTO events(seq, event_id, namespace, event, ts_ms, session_id, data)
	VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING`

const saveSeqSQL = `INSERT INTO meta(key, value) VALUES('last_seq', ?) ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)`

const raiseMetaSQL = `INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)`

const schema = `
CREATE TABLE IF NOT EXISTS events (
	seq        INTEGER PRIMARY KEY,
	event_id   TEXT    NOT NULL UNIQUE,
	namespace  TEXT    NOT NULL,
	event      TEXT    NOT NULL,
	ts_ms      INTEGER NOT NULL,
	session_id TEXT    NOT NULL DEFAULT '',
	data       TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ns_seq ON events(namespace, seq);
CREATE INDEX IF NOT EXISTS events_session_seq ON events(session_id, seq);
CREATE INDEX IF NOT EXISTS events_event_seq ON events(event, seq);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts_ms);
CREATE TABLE IF NOT EXISTS ts_blocks (
	block  INTEGER PRIMARY KEY,
	min_ts INTEGER NOT NULL,
	max_ts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
	name  TEXT    PRIMARY KEY,
	seq   INTEGER NOT NULL,
	build TEXT    NOT NULL,
	data  BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
	pos        INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id   TEXT    NOT NULL UNIQUE,
	namespace  TEXT    NOT NULL,
	event      TEXT    NOT NULL,
	ts_ms      INTEGER NOT NULL,
	session_id TEXT    NOT NULL DEFAULT '',
	data       TEXT    NOT NULL
);
`

// Store is an open event store. Its methods are safe for concurrent use,
// except that only one Tx may be open at a time.
type Store struct {
	path string
	w    *sql.DB // one connection: the single writer
	r    *sql.DB // readers (the same as w for an in-memory store)

	ins     *sql.Stmt    // the insert, prepared once on the writer connection
	txMu    sync.Mutex   // one write batch at a time
	lastSeq atomic.Int64 // highest seq ever assigned (stored or reserved)
	count   atomic.Int64 // rows in events
}

// Open opens (creating if needed) the store at path, or an in-memory store
// when path is Memory.
func Open(path string) (*Store, error) {
	s := &Store{path: path}
	if path == Memory {
		db, err := sql.Open("sqlite", "file::memory:?_pragma=foreign_keys(0)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1) // every connection would be its own database
		s.w, s.r = db, db
	} else {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create the store's directory: %w", err)
		}
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_txlock=immediate"
		w, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, err
		}
		w.SetMaxOpenConns(1)
		r, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
		if err != nil {
			w.Close()
			return nil, err
		}
		r.SetMaxOpenConns(4)
		s.w, s.r = w, r
	}
	if _, err := s.w.Exec(schema); err != nil {
		s.Close()
		return nil, fmt.Errorf("open event store %s: %w", path, err)
	}
	var err error
	var last, maxSeq, n sql.NullInt64
	_ = s.w.QueryRow(`SELECT value FROM meta WHERE key = 'last_seq'`).Scan(&last)
	if err := s.w.QueryRow(`SELECT max(seq) FROM events`).Scan(&maxSeq); err != nil {
		s.Close()
		return nil, fmt.Errorf("read event store %s: %w", path, err)
	}
	// count(*) reads a whole index: seconds at 10 M events. Close writes
	// the count down with the max seq it is true for; it is taken when
	// nothing was stored since, and removed, so a run that does not end
	// in Close leaves none behind.
	var saved, savedAt sql.NullInt64
	_ = s.w.QueryRow(`SELECT value FROM meta WHERE key = 'count'`).Scan(&saved)
	_ = s.w.QueryRow(`SELECT value FROM meta WHERE key = 'count_at_seq'`).Scan(&savedAt)
	if saved.Valid && savedAt.Valid && savedAt.Int64 == maxSeq.Int64 {
		n = saved
	} else if err := s.w.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil {
		s.Close()
		return nil, fmt.Errorf("read event store %s: %w", path, err)
	}
	if _, err := s.w.Exec(`DELETE FROM meta WHERE key IN ('count', 'count_at_seq')`); err != nil {
		s.Close()
		return nil, fmt.Errorf("open event store %s: %w", path, err)
	}
	if err := s.buildTimeBlocks(); err != nil {
		s.Close()
		return nil, fmt.Errorf("open event store %s: %w", path, err)
	}
	s.lastSeq.Store(max(last.Int64, maxSeq.Int64))
	s.count.Store(n.Int64)
	if s.ins, err = s.w.Prepare(insertSQL); err != nil {
		s.Close()
		return nil, fmt.Errorf("prepare the event store: %w", err)
	}
	return s, nil
}

// Path is the file the store was opened on (or Memory).
func (s *Store) Path() string { return s.path }

// Close closes the store; committed events are on disk.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil && s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	if s.ins != nil {
		s.ins.Close()
	}
	if s.w != nil {
		if s.path != Memory {
			s.txMu.Lock()
			var maxSeq sql.NullInt64
			if s.w.QueryRow(`SELECT max(seq) FROM events`).Scan(&maxSeq) == nil {
				_, _ = s.w.Exec(`INSERT INTO meta(key, value) VALUES('count', ?), ('count_at_seq', ?)
					ON CONFLICT(key) DO UPDATE SET value = excluded.value`, s.count.Load(), maxSeq.Int64)
			}
			s.txMu.Unlock()
			_, _ = s.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		}
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

// LastSeq is the highest seq assigned so far.
func (s *Store) LastSeq() int64 { return s.lastSeq.Load() }

// Count is the number of stored events.
func (s *Store) Count() int64 { return s.count.Load() }

// Ping checks that the store can be written, for health reporting.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES('ping', 0) ON CONFLICT(key) DO UPDATE SET value = value + 1`)
	return err
}

// Tx is one write batch. Events appended to it get their seq at once; they
// are durable, and the seqs final, only after Commit.
type Tx struct {
	s        *Store
	tx       *sql.Tx
	ins      *sql.Stmt
	next     int64 // last seq handed out in this batch
	start    int64
	reserved bool // Reserve was called: the seq must be recorded in meta
	added    int64
	done     bool
	release  func()
	buf      []byte // Append's encoding buffer
	meta     map[string]int64
	blocks   []timeBlock // the time span of each seq block this batch wrote to
}

// Begin starts a write batch. It waits for any other open batch to end.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	s.txMu.Lock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		s.txMu.Unlock()
		return nil, fmt.Errorf("begin write: %w", err)
	}
	ins := tx.StmtContext(ctx, s.ins) // reuses the statement prepared on this connection
	last := s.lastSeq.Load()
	return &Tx{s: s, tx: tx, ins: ins, next: last, start: last, release: s.txMu.Unlock}, nil
}

// Append stores ev, setting ev.Seq. If an event with the same event_id is
// already stored, nothing is written, ev.Seq is set to the stored event's seq
// and duplicate is true.
func (t *Tx) Append(ctx context.Context, ev *event.Event) (duplicate bool, err error) {
	data, err := event.AppendJSON(t.buf[:0], ev.Data)
	t.buf = data
	if err != nil {
		return false, fmt.Errorf("encode event data: %w", err)
	}
	return t.AppendEncoded(ctx, ev, string(data))
}

// EncodeData is ev.Data as Append stores it. A caller that has time before
// the batch (a producer's own goroutine) encodes it there and hands it to
// AppendEncoded, so the single writer does not.
func EncodeData(ev *event.Event) (string, error) {
	b, err := event.AppendJSON(make([]byte, 0, 512), ev.Data)
	if err != nil {
		return "", fmt.Errorf("encode event data: %w", err)
	}
	return string(b), nil
}

// AppendEncoded is Append with ev.Data already encoded by EncodeData
// (data must be exactly that).
func (t *Tx) AppendEncoded(ctx context.Context, ev *event.Event, data string) (duplicate bool, err error) {
	seq := t.next + 1
	res, err := t.ins.ExecContext(ctx, seq, ev.ID, ev.Namespace, ev.Name, ev.Time.UnixMilli(), ev.SessionID, data)
	if err != nil {
		return false, fmt.Errorf("store event: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var existing int64
		if err := t.tx.QueryRowContext(ctx, `SELECT seq FROM events WHERE event_id = ?`, ev.ID).Scan(&existing); err != nil {
			return false, fmt.Errorf("look up duplicate event: %w", err)
		}
		ev.Seq = existing
		return true, nil
	}
	t.next = seq
	t.added++
	ev.Seq = seq
	t.noteTime(seq, ev.Time.UnixMilli())
	return false, nil
}

// AppendAt stores ev with the seq it already has (ev.Seq > 0), given by
// another source of seqs: the cluster log (pkg/cluster). The batch's head
// moves to ev.Seq, so LastSeq follows the log. If an event with the same
// event_id is already stored, nothing is written and duplicate is true
// (ev.Seq is left as it is: the log's seq is still passed, and recorded as
// the head).
func (t *Tx) AppendAt(ctx context.Context, ev *event.Event) (duplicate bool, err error) {
	if ev.Seq <= t.next {
		return false, fmt.Errorf("store event: seq %d is not after the store's last seq %d", ev.Seq, t.next)
	}
	data, err := event.AppendJSON(t.buf[:0], ev.Data)
	t.buf = data
	if err != nil {
		return false, fmt.Errorf("encode event data: %w", err)
	}
	res, err := t.ins.ExecContext(ctx, ev.Seq, ev.ID, ev.Namespace, ev.Name, ev.Time.UnixMilli(), ev.SessionID, string(data))
	if err != nil {
		return false, fmt.Errorf("store event: %w", err)
	}
	t.next = ev.Seq
	if n, _ := res.RowsAffected(); n == 0 {
		t.reserved = true // a seq no stored event has: write it down
		return true, nil
	}
	t.added++
	t.noteTime(ev.Seq, ev.Time.UnixMilli())
	return false, nil
}

// Head is the last seq handed out so far, in this batch or before it.
func (t *Tx) Head() int64 { return t.next }

// Reserve hands out a seq that no stored event will ever have, for events
// that are delivered but not stored (status replies, heartbeats). It keeps
// seq strictly increasing across restarts.
func (t *Tx) Reserve() int64 {
	t.next++
	t.reserved = true
	return t.next
}

// RaiseMeta sets the counter key to value when that is higher than what it
// holds, as part of the batch: a position that must move with the events
// it describes (committed together, or not at all).
func (t *Tx) RaiseMeta(key string, value int64) {
	if t.meta == nil {
		t.meta = map[string]int64{}
	}
	t.meta[key] = max(t.meta[key], value)
}

// Commit makes the batch durable and its seqs final.
func (t *Tx) Commit() error {
	if t.done {
		return errors.New("transaction already ended")
	}
	t.done = true
	defer t.release()
	t.ins.Close()
	for k, v := range t.meta {
		if _, err := t.tx.Exec(raiseMetaSQL, k, v); err != nil {
			_ = t.tx.Rollback()
			return fmt.Errorf("store %s: %w", k, err)
		}
	}
	for _, b := range t.blocks {
		if _, err := t.tx.Exec(upsertBlockSQL, b.block, b.min, b.max); err != nil {
			_ = t.tx.Rollback()
			return fmt.Errorf("store the time span of seqs: %w", err)
		}
	}
	// A stored event's seq is found again as max(seq); only a reserved seq
	// above it must be written down (Prune does the same before deleting).
	if t.reserved {
		if _, err := t.tx.Exec(saveSeqSQL, t.next); err != nil {
			_ = t.tx.Rollback()
			return fmt.Errorf("store seq: %w", err)
		}
	}
	if err := t.tx.Commit(); err != nil {
		_ = t.tx.Rollback()
		return fmt.Errorf("commit events: %w", err)
	}
	t.s.lastSeq.Store(t.next)
	t.s.count.Add(t.added)
	return nil
}

// Rollback abandons the batch; its seqs will be handed out again.
func (t *Tx) Rollback() {
	if t.done {
		return
	}
	t.done = true
	t.ins.Close()
	_ = t.tx.Rollback()
	t.release()
}

// Meta reads the counter key (0 and false when it was never set).
func (s *Store) Meta(ctx context.Context, key string) (int64, bool, error) {
	var v int64
	err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", key, err)
	}
	return v, true, nil
}

// SetMeta sets the counter key to value, outside any batch.
func (s *Store) SetMeta(ctx context.Context, key string, value int64) error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if _, err := s.w.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// Snapshot is a read model saved with the store (pkg/session's, so mpmd
// starts without replaying every event): the seq of the last event it
// covers, the build of the code that wrote it, and its bytes.
type Snapshot struct {
	Seq   int64
	Build string
	Data  []byte
}

// SaveSnapshot stores the snapshot name, replacing the one before.
func (s *Store) SaveSnapshot(ctx context.Context, name string, snap Snapshot) error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	_, err := s.w.ExecContext(ctx, `INSERT INTO snapshots(name, seq, build, data) VALUES(?, ?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, build = excluded.build, data = excluded.data`, name, snap.Seq, snap.Build, snap.Data)
	if err != nil {
		return fmt.Errorf("store the %s snapshot: %w", name, err)
	}
	return nil
}

// LoadSnapshot calls fn with the snapshot name, its Data valid only
// during the call (a model's snapshot is tens of MB: not copied); ok is
// false, and fn not called, when there is none. fn's error is returned.
func (s *Store) LoadSnapshot(ctx context.Context, name string, fn func(Snapshot) error) (ok bool, err error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, build, data FROM snapshots WHERE name = ?`, name)
	if err != nil {
		return false, fmt.Errorf("read the %s snapshot: %w", name, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return false, fmt.Errorf("read the %s snapshot: %w", name, err)
		}
		return false, nil
	}
	var snap Snapshot
	var data sql.RawBytes
	if err := rows.Scan(&snap.Seq, &snap.Build, &data); err != nil {
		return false, fmt.Errorf("read the %s snapshot: %w", name, err)
	}
	snap.Data = data
	return true, fn(snap)
}

// DeleteSnapshot removes the snapshot name, if any.
func (s *Store) DeleteSnapshot(ctx context.Context, name string) error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	_, err := s.w.ExecContext(ctx, `DELETE FROM snapshots WHERE name = ?`, name)
	return err
}

// BySeq calls fn for each stored event whose seq is in seqs, in seq order;
// seqs that are not stored (pruned, or reserved) are skipped.
func (s *Store) BySeq(ctx context.Context, seqs []int64, fn func(*event.Event) error) error {
	const chunk = 500
	for len(seqs) > 0 {
		n := min(len(seqs), chunk)
		part := seqs[:n]
		seqs = seqs[n:]
		args := make([]any, len(part))
		for i, v := range part {
			args[i] = v
		}
		q := `SELECT seq, event_id, namespace, event, ts_ms, session_id, data FROM events WHERE seq IN (?` +
			strings.Repeat(",?", len(part)-1) + `) ORDER BY seq`
		if err := s.scan(ctx, q, args, fn); err != nil {
			return err
		}
	}
	return nil
}

// Filter selects events. Zero fields select everything.
type Filter struct {
	Namespace  string
	Namespaces []string // any of these (with Namespace, both must hold)
	Event      string
	SessionID  string
	SinceSeq   int64 // seq > SinceSeq
	UntilSeq   int64 // seq <= UntilSeq, when > 0
	Since      time.Time
	Until      time.Time
	Q          string // text that must occur in the event name or data (case-insensitive for ASCII)
	Limit      int    // at most this many (0: no limit)
	Desc       bool   // newest first
}

func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(c string, a ...any) { conds = append(conds, c); args = append(args, a...) }
	if f.Namespace != "" {
		add("namespace = ?", f.Namespace)
	}
	if f.Event != "" {
		add("event = ?", f.Event)
	}
	if f.SessionID != "" {
		add("session_id = ?", f.SessionID)
	}
	if f.SinceSeq > 0 {
		add("seq > ?", f.SinceSeq)
	}
	if f.UntilSeq > 0 {
		add("seq <= ?", f.UntilSeq)
	}
	if !f.Since.IsZero() {
		add("ts_ms >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		add("ts_ms <= ?", f.Until.UnixMilli())
	}
	if f.Q != "" {
		pat := "%" + escapeLike(f.Q) + "%"
		add(`(data LIKE ? ESCAPE '\' OR event LIKE ? ESCAPE '\')`, pat, pat)
	}
	if len(f.Namespaces) > 0 {
		add("namespace IN (?"+strings.Repeat(",?", len(f.Namespaces)-1)+")", anys(f.Namespaces)...)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// namespaceSet is the namespaces f allows: nil for any, empty for none
// (Namespace and Namespaces both given and disjoint).
func (f Filter) namespaceSet() []string {
	if len(f.Namespaces) == 0 {
		if f.Namespace == "" {
			return nil
		}
		return []string{f.Namespace}
	}
	if f.Namespace == "" {
		return f.Namespaces
	}
	for _, ns := range f.Namespaces {
		if ns == f.Namespace {
			return []string{ns}
		}
	}
	return []string{}
}

func (s *Store) explain(ctx context.Context, q string, args []any) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}

// VacuumInto writes a consistent copy of the database to path (which must
// not exist), for benchmarks and backups.
func (s *Store) VacuumInto(ctx context.Context, path string) error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	_, err := s.w.ExecContext(ctx, `VACUUM INTO ?`, path)
	return err
}

// Raw is a stored event as the store holds it: Data is the JSON text of
// its data (an object with its keys sorted, as event.AppendJSON writes
// it), valid only during the call that hands it over.
type Raw struct {
	Seq       int64
	ID        string
	Namespace string
	Name      string
	TimeMs    int64
	SessionID string
	Data      []byte
}

// Query returns the events f selects.
func (s *Store) Query(ctx context.Context, f Filter) ([]*event.Event, error) {
	var out []*event.Event
	err := s.Each(ctx, f, func(e *event.Event) error { out = append(out, e); return nil })
	return out, err
}

// FirstTime is the time of the earliest stored event of a session matching
// name (any name when empty), or the zero time.
func (s *Store) FirstTime(ctx context.Context, sessionID, name string) (time.Time, error) {
	q := `SELECT ts_ms FROM events WHERE session_id = ?`
	args := []any{sessionID}
	if name != "" {
		q += ` AND event = ?`
		args = append(args, name)
	}
	var ts int64
	err := s.r.QueryRowContext(ctx, q+` ORDER BY seq LIMIT 1`, args...).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ts).UTC(), nil
}

// Prune deletes events older than maxAge (when > 0) and all but the newest
// maxCount events (when > 0). It returns how many it deleted.
func (s *Store) Prune(ctx context.Context, maxAge time.Duration, maxCount int64) (int64, error) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	// The newest events may go too (all older than maxAge): keep their seq.
	if _, err := s.w.ExecContext(ctx, saveSeqSQL, s.lastSeq.Load()); err != nil {
		return 0, fmt.Errorf("prune: record the last seq: %w", err)
	}
	var total int64
	if maxAge > 0 {
		res, err := s.w.ExecContext(ctx, `DELETE FROM events WHERE ts_ms < ?`, time.Now().Add(-maxAge).UnixMilli())
		if err != nil {
			return total, fmt.Errorf("prune by age: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	if maxCount > 0 {
		res, err := s.w.ExecContext(ctx, `DELETE FROM events WHERE seq <= (SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?)`, maxCount)
		if err != nil {
			return total, fmt.Errorf("prune by count: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	// A block's span may now be wider than its events' (still a bound);
	// blocks below the oldest event bound nothing.
	if total > 0 {
		if _, err := s.w.ExecContext(ctx, `DELETE FROM ts_blocks WHERE block < coalesce((SELECT min(seq) FROM events), 9223372036854775807) >> ?`, blockBits); err != nil {
			return total, fmt.Errorf("prune: the time span of seqs: %w", err)
		}
	}
	s.count.Add(-total)
	return total, nil
}
