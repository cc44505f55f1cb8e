package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
)

// The outbox holds events a cluster node accepted while the cluster log
// (Redis, pkg/cluster) could not be reached: durable here, acked to their
// producers, and forwarded to the log in the order they came once it is
// back. An event leaves the outbox only after the log has it. Local mode
// never writes it.

// OutboxEntry is one event waiting in the outbox.
type OutboxEntry struct {
	Pos int64 // its place in the outbox: entries are forwarded by rising Pos
	Ev  *event.Event
}

// OutboxResult tells what OutboxAdd did with one event.
type OutboxResult struct {
	Queued bool  // written to the outbox
	Seq    int64 // when not queued: the seq of the stored event with the same event_id (0: it waits in the outbox already)
}

// OutboxAdd writes evs to the outbox in one transaction. An event whose
// event_id is already stored (in events) or already waits in the outbox is
// not written again.
func (s *Store) OutboxAdd(ctx context.Context, evs []*event.Event) ([]OutboxResult, error) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("outbox: begin: %w", err)
	}
	defer tx.Rollback()
	out := make([]OutboxResult, len(evs))
	var buf []byte
	for i, ev := range evs {
		var seq int64
		err := tx.QueryRowContext(ctx, `SELECT seq FROM events WHERE event_id = ?`, ev.ID).Scan(&seq)
		if err == nil {
			out[i] = OutboxResult{Seq: seq}
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("outbox: look up event_id: %w", err)
		}
		buf, err = event.AppendJSON(buf[:0], ev.Data)
		if err != nil {
			return nil, fmt.Errorf("outbox: encode event data: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO outbox(event_id, namespace, event, ts_ms, session_id, data)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING`,
			ev.ID, ev.Namespace, ev.Name, ev.Time.UnixMilli(), ev.SessionID, string(buf))
		if err != nil {
			return nil, fmt.Errorf("outbox: write: %w", err)
		}
		n, _ := res.RowsAffected()
		out[i] = OutboxResult{Queued: n > 0}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("outbox: commit: %w", err)
	}
	return out, nil
}

// OutboxNext returns up to n entries after pos, oldest first.
func (s *Store) OutboxNext(ctx context.Context, after int64, n int) ([]OutboxEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT pos, event_id, namespace, event, ts_ms, session_id, data FROM outbox
		WHERE pos > ? ORDER BY pos LIMIT ?`, after, n)
	if err != nil {
		return nil, fmt.Errorf("outbox: read: %w", err)
	}
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		ev := &event.Event{}
		var pos, ts int64
		var data string
		if err := rows.Scan(&pos, &ev.ID, &ev.Namespace, &ev.Name, &ts, &ev.SessionID, &data); err != nil {
			return nil, fmt.Errorf("outbox: read: %w", err)
		}
		ev.Time = time.UnixMilli(ts).UTC()
		if err := json.Unmarshal([]byte(data), &ev.Data); err != nil {
			return nil, fmt.Errorf("outbox: decode entry %d: %w", pos, err)
		}
		out = append(out, OutboxEntry{Pos: pos, Ev: ev})
	}
	return out, rows.Err()
}

// OutboxDelete removes the entries up to and including pos: the log has them.
func (s *Store) OutboxDelete(ctx context.Context, upTo int64) error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if _, err := s.w.ExecContext(ctx, `DELETE FROM outbox WHERE pos <= ?`, upTo); err != nil {
		return fmt.Errorf("outbox: delete: %w", err)
	}
	return nil
}

// OutboxLen counts the entries waiting in the outbox.
func (s *Store) OutboxLen(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox: count: %w", err)
	}
	return n, nil
}
