package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
)

// How a query reads what its filter selects.
//
// Every query names the index it reads (SQLite has no statistics here,
// and its own choices sorted or scanned at millions of events) and reads
// it in seq order. A time range becomes a seq range first, through the
// span of timestamps kept for each block of 4,096 seqs (ts_blocks), so it
// reads from where its events are, not from the end its order starts at
// — exactly the events the range selects, whatever order their producers'
// timestamps came in. And no statement outlives its context: the driver
// interrupts a statement only while it finds its first row, so one that
// may read many rows for each it returns is materialized (its work all
// done before its first row) a chunk of rows at a time (eachRows).

// blockBits sets the size of a seq block of ts_blocks: 4,096 seqs (a
// variable for the tests; the store records it and rebuilds ts_blocks
// when it opens with another).
var blockBits int64 = 12

// upsertBlockSQL widens a block's time span by a batch's.
const upsertBlockSQL = `INSERT INTO ts_blocks(block, min_ts, max_ts) VALUES(?, ?, ?)
	ON CONFLICT(block) DO UPDATE SET min_ts = min(min_ts, excluded.min_ts), max_ts = max(max_ts, excluded.max_ts)`

// timeBlocksKey in meta marks ts_blocks as covering every stored event,
// with the blockBits it is made of.
const timeBlocksKey = "ts_blocks_complete"

// timeBlock is the span of the timestamps of the events of one seq block
// (seq >> blockBits) that a batch stored.
type timeBlock struct{ block, min, max int64 }

// noteTime widens the batch's time span of seq's block by ts.
func (t *Tx) noteTime(seq, ts int64) {
	b := seq >> blockBits
	for i := len(t.blocks) - 1; i >= 0; i-- {
		if t.blocks[i].block == b {
			t.blocks[i].min, t.blocks[i].max = min(t.blocks[i].min, ts), max(t.blocks[i].max, ts)
			return
		}
	}
	t.blocks = append(t.blocks, timeBlock{b, ts, ts})
}

// buildTimeBlocks fills ts_blocks from the stored events when it does not
// cover them yet (a store written before it existed): once, reading the
// ts_ms index (about a second a million events).
func (s *Store) buildTimeBlocks() error {
	var done sql.NullInt64
	_ = s.w.QueryRow(`SELECT value FROM meta WHERE key = ?`, timeBlocksKey).Scan(&done)
	if done.Valid && done.Int64 == blockBits {
		return nil
	}
	tx, err := s.w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`DELETE FROM ts_blocks`); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO ts_blocks(block, min_ts, max_ts)
		SELECT seq >> ?, min(ts_ms), max(ts_ms) FROM events INDEXED BY events_ts GROUP BY 1`, blockBits); err != nil {
		return fmt.Errorf("record the time span of seqs: %w", err)
	}
	if _, err := tx.Exec(`INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, timeBlocksKey, blockBits); err != nil {
		return err
	}
	return tx.Commit()
}

// seqRange narrows f's seq range to where its time range can have events:
// after every block whose events are all older than f.Since, up to the
// last block with an event not newer than f.Until. A block's span covers
// every event of it, whatever order their timestamps came in, so nothing
// the range selects is left out. ok is false when nothing can match.
func (s *Store) seqRange(ctx context.Context, f Filter) (Filter, bool, error) {
	if !f.Since.IsZero() {
		var b int64
		err := s.r.QueryRowContext(ctx, `SELECT block FROM ts_blocks WHERE max_ts >= ? ORDER BY block LIMIT 1`, f.Since.UnixMilli()).Scan(&b)
		if errors.Is(err, sql.ErrNoRows) {
			return f, false, nil
		}
		if err != nil {
			return f, false, fmt.Errorf("find the seqs of the time range: %w", err)
		}
		f.SinceSeq = max(f.SinceSeq, b<<blockBits-1)
	}
	if !f.Until.IsZero() {
		var b int64
		err := s.r.QueryRowContext(ctx, `SELECT block FROM ts_blocks WHERE min_ts <= ? ORDER BY block DESC LIMIT 1`, f.Until.UnixMilli()).Scan(&b)
		if errors.Is(err, sql.ErrNoRows) {
			return f, false, nil
		}
		if err != nil {
			return f, false, fmt.Errorf("find the seqs of the time range: %w", err)
		}
		if hi := (b+1)<<blockBits - 1; f.UntilSeq == 0 || hi < f.UntilSeq {
			f.UntilSeq = hi
		}
	}
	return f, f.UntilSeq == 0 || f.UntilSeq > f.SinceSeq, nil
}

// timeIndexCap is how many events a time range (alone) may select for the
// range to be read through the ts_ms index (then sorted by seq); a wider
// range is read in seq order instead, which finds a page of it quickly.
var timeIndexCap = 10_000 // a variable for the tests

// chunkRows is how many rows one statement of a filter with a residual
// condition returns at most (the next one goes on after its last seq).
var chunkRows = 1000 // a variable for the tests

// plan is how a filter is read: the filter with its seq range narrowed,
// and whether it reads the ts_ms index (a small time range: one sorted
// statement, its work all done finding its first row, where the driver
// interrupts it) or an index in seq order, window by window.
type plan struct {
	f         Filter
	empty     bool
	timeIndex bool
}

func (s *Store) plan(ctx context.Context, f Filter) (plan, error) {
	if nss := f.namespaceSet(); nss != nil && len(nss) == 0 {
		return plan{f: f, empty: true}, nil
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		g, ok, err := s.seqRange(ctx, f)
		if err != nil {
			return plan{}, err
		}
		if !ok {
			return plan{f: f, empty: true}, nil
		}
		f = g
	}
	p := plan{f: f}
	if f.namespaceSet() == nil && f.SessionID == "" && f.Event == "" && (!f.Since.IsZero() || !f.Until.IsZero()) {
		small, err := s.timeRangeSmall(ctx, f)
		if err != nil {
			return plan{}, err
		}
		p.timeIndex = small
	}
	return p, nil
}

// sql is the statement that reads f (f's seq range, f's limit) the way p
// says.
func (p plan) sql(f Filter) (string, []any) {
	const cols = `SELECT seq, event_id, namespace, event, ts_ms, session_id, data FROM events`
	tail := " ORDER BY seq"
	if f.Desc {
		tail += " DESC"
	}
	if f.Limit > 0 {
		tail += " LIMIT " + strconv.Itoa(f.Limit)
	}
	if p.empty {
		return cols + " WHERE 0" + tail, nil
	}
	nss := f.namespaceSet()
	g := f
	g.Namespaces = nil
	if len(nss) == 1 {
		g.Namespace = nss[0]
	}
	switch {
	case g.SessionID != "":
		if len(nss) > 1 {
			g.Namespaces = nss
		}
		where, args := g.where()
		return cols + " INDEXED BY events_session_seq" + where + tail, args
	case g.Event != "":
		if len(nss) > 1 {
			g.Namespaces = nss
		}
		where, args := g.where()
		return cols + " INDEXED BY events_event_seq" + where + tail, args
	case len(nss) == 1:
		where, args := g.where()
		return cols + " INDEXED BY events_ns_seq" + where + tail, args
	case len(nss) > 1:
		// One index range per namespace, merged in seq order.
		var parts []string
		var args []any
		for _, ns := range nss {
			g.Namespace = ns
			where, a := g.where()
			parts = append(parts, cols+" INDEXED BY events_ns_seq"+where)
			args = append(args, a...)
		}
		return strings.Join(parts, " UNION ALL ") + tail, args
	case p.timeIndex:
		where, args := g.where()
		return cols + " INDEXED BY events_ts" + where + tail, args
	}
	// The table in seq order (its rowid range); never the ts_ms index.
	where, args := g.where()
	return cols + " NOT INDEXED" + where + tail, args
}

// timeRangeSmall tells whether f's time range selects at most
// timeIndexCap events (read from the ts_ms index alone).
func (s *Store) timeRangeSmall(ctx context.Context, f Filter) (bool, error) {
	q := `SELECT count(*) FROM (SELECT 1 FROM events INDEXED BY events_ts WHERE `
	var args []any
	switch {
	case !f.Since.IsZero() && !f.Until.IsZero():
		q += `ts_ms >= ? AND ts_ms <= ?`
		args = append(args, f.Since.UnixMilli(), f.Until.UnixMilli())
	case !f.Since.IsZero():
		q += `ts_ms >= ?`
		args = append(args, f.Since.UnixMilli())
	default:
		q += `ts_ms <= ?`
		args = append(args, f.Until.UnixMilli())
	}
	q += ` LIMIT ` + strconv.Itoa(timeIndexCap+1) + `)`
	var n int
	if err := s.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return false, fmt.Errorf("count the events of the time range: %w", err)
	}
	return n <= timeIndexCap, nil
}

// eachRows runs the statements that read what f selects and calls row
// for each row (row returns the row's seq), in seq order (descending with
// f.Desc), until f's limit, the end of what f selects, row's first error
// or the end of ctx (whose error is then returned: a read cut short is
// never an answer).
//
// A filter with a residual condition (text, a time range, an event name
// under a session…) may read many rows for each it returns; the driver
// interrupts a statement whose context ends only while it finds its
// first row, so such a statement is materialized (all its work done
// finding the first row) and returns at most chunkRows; the next
// statement goes on after the last seq. Any other statement does O(1)
// work a row, and database/sql ends it between rows.
func (s *Store) eachRows(ctx context.Context, f Filter, row func(*sql.Rows) (int64, error)) error {
	p, err := s.plan(ctx, f)
	if err != nil {
		return err
	}
	if p.empty {
		return nil
	}
	g := p.f
	if p.timeIndex || !p.residual() {
		q, args := p.sql(g)
		_, _, err := s.run(ctx, q, args, row)
		return err
	}
	remaining := f.Limit
	for {
		g.Limit = chunkRows
		if remaining > 0 {
			g.Limit = min(remaining, chunkRows)
		}
		q, args := p.sql(g)
		q = "WITH w AS MATERIALIZED (" + q + ") SELECT * FROM w ORDER BY seq"
		if g.Desc {
			q += " DESC"
		}
		n, last, err := s.run(ctx, q, args, row)
		if err != nil {
			return err
		}
		if n < g.Limit {
			return nil
		}
		if remaining > 0 {
			if remaining -= n; remaining == 0 {
				return nil
			}
		}
		if g.Desc {
			if last <= 1 || last-1 <= g.SinceSeq {
				return nil
			}
			g.UntilSeq = last - 1
		} else {
			if g.UntilSeq > 0 && last >= g.UntilSeq {
				return nil
			}
			g.SinceSeq = last
		}
	}
}

// residual tells whether p's statement tests rows for a condition its
// index does not order them by (and may read many for each it returns).
func (p plan) residual() bool {
	f := p.f
	nss := f.namespaceSet()
	return f.Q != "" || !f.Since.IsZero() || !f.Until.IsZero() ||
		(f.SessionID != "" && (f.Event != "" || nss != nil)) || (f.Event != "" && nss != nil)
}

// run runs one statement and calls row for each of its rows: n is how
// many there were, last the seq of the last.
func (s *Store) run(ctx context.Context, q string, args []any, row func(*sql.Rows) (int64, error)) (n int, last int64, err error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("query events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		n++
		if last, err = row(rows); err != nil {
			return n, last, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, last, fmt.Errorf("query events: %w", err)
	}
	return n, last, nil
}

// Each calls fn for every event that f selects, in seq order (descending if
// f.Desc), stopping at fn's first error.
func (s *Store) Each(ctx context.Context, f Filter, fn func(*event.Event) error) error {
	return s.eachRows(ctx, f, decoding(fn))
}

// EachRaw is Each without decoding the data: for a caller that writes the
// events out as JSON again (the HTTP API), which then costs a copy, not a
// parse and an encoding.
func (s *Store) EachRaw(ctx context.Context, f Filter, fn func(*Raw) error) error {
	var r Raw
	return s.eachRows(ctx, f, func(rows *sql.Rows) (int64, error) {
		var data sql.RawBytes
		if err := rows.Scan(&r.Seq, &r.ID, &r.Namespace, &r.Name, &r.TimeMs, &r.SessionID, &data); err != nil {
			return 0, fmt.Errorf("read event: %w", err)
		}
		r.Data = data
		return r.Seq, fn(&r)
	})
}

// decoding turns fn into a row callback that decodes each row's event.
func decoding(fn func(*event.Event) error) func(*sql.Rows) (int64, error) {
	return func(rows *sql.Rows) (int64, error) {
		var ev event.Event
		var ts int64
		var data sql.RawBytes
		if err := rows.Scan(&ev.Seq, &ev.ID, &ev.Namespace, &ev.Name, &ts, &ev.SessionID, &data); err != nil {
			return 0, fmt.Errorf("read event: %w", err)
		}
		ev.Time = time.UnixMilli(ts).UTC()
		if err := json.Unmarshal(data, &ev.Data); err != nil {
			return ev.Seq, fmt.Errorf("decode event %d: %w", ev.Seq, err)
		}
		return ev.Seq, fn(&ev)
	}
}

// scan runs the events query q and calls fn for each row.
func (s *Store) scan(ctx context.Context, q string, args []any, fn func(*event.Event) error) error {
	_, _, err := s.run(ctx, q, args, decoding(fn))
	return err
}

// Explain is SQLite's query plan for the statement Each runs for f (for a
// filter with a residual condition, inside its materialization),
// one line per step (EXPLAIN QUERY PLAN's detail column), for tests and
// benchmarks.
func (s *Store) Explain(ctx context.Context, f Filter) ([]string, error) {
	p, err := s.plan(ctx, f)
	if err != nil {
		return nil, err
	}
	q, args := p.sql(p.f)
	return s.explain(ctx, q, args)
}
