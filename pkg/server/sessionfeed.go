package server

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/session"
	"github.com/mpm-dev/mpm/pkg/store"
)

// The session model's feed. At start the model is restored from its
// snapshot in the store, when the same build (Config.ModelBuild) wrote it,
// and the stored raw events after the snapshot (/hook, and the /claude
// events read from transcripts) are replayed; without one — no snapshot,
// or another build's — it is rebuilt from every stored raw event, so a fix
// to the derivation applies to old history too (a new build replays once,
// then saves its own). Then it applies every committed event from the
// stream, saving the snapshot now and then and when mpmd stops. What an event derives is stored and
// broadcast through the pipeline like any event, in a batch of its own
// after the source's commit (never inside it), with the store's
// derived_seq moved to the source's seq in the same transaction. On the
// rebuild, only events after derived_seq derive again: those whose derived
// events a crash may have lost. Derived ids are the source's id plus a
// suffix, so deriving an event twice stores nothing twice.

// TranscriptFollower is told of every transcript file a session names, so
// it can read them (the transcript watcher).
type TranscriptFollower interface {
	Follow(sessionID, path string)
}

// modelInputs are the namespaces the session model reads.
var modelInputs = store.Filter{Namespaces: []string{"/hook", "/claude"}}

// Sessions is the session read model this server keeps.
func (s *Server) Sessions() *session.Model { return s.sessions }

// snapshotName is the session model's snapshot in the store.
const snapshotName = "session_model"

// The follower saves the model again once snapshotEvery has passed (or a
// hundred times the last save's duration, when that is longer: the save
// holds the store's writer, so ingest waits for it; a large model takes
// seconds) and at least snapshotMinEvents events were applied since the
// last save, and when mpmd stops; the rebuild saves it at once when it
// replayed at least snapshotMinEvents.
const (
	snapshotEvery     = 5 * time.Minute
	snapshotMinEvents = 1000
)

// rebuildSessions restores the model from its snapshot (when one of this
// build is stored), replays the stored history after it (all of it
// without one), derives again what a crash may have lost, and returns the
// seq it reached and how many events it replayed.
func (s *Server) rebuildSessions(ctx context.Context) (int64, int, error) {
	start := time.Now()
	head := s.store.LastSeq()
	watermark, _, err := s.store.Meta(ctx, derivedSeqKey)
	if err != nil {
		return 0, 0, err
	}
	from, snapNote := s.restoreSessions(ctx, head)
	f := modelInputs
	f.UntilSeq = head
	n := 0
	err = readAfter(ctx, s.store, f, from, func(evs []*event.Event) {
		n += len(evs)
		s.applyToModel(ctx, evs, watermark, false)
	})
	if err != nil {
		return 0, 0, err
	}
	s.log.Info("session model rebuilt", "events", n, "sessions", len(s.sessions.List()), "took", time.Since(start).Round(time.Millisecond),
		"snapshot", snapNote, "derived_seq", watermark)
	if s.cfg.Transcripts != nil {
		// Read on in the transcripts of sessions that may still grow, or
		// that mpmd may not have finished reading before it stopped.
		recent := time.Now().Add(-resumeTranscripts)
		for _, sess := range s.sessions.List() {
			if sess.Status == session.StatusEnded && sess.LastActivity.Before(recent) {
				continue
			}
			for _, p := range s.sessions.TranscriptsOf(sess.ID) {
				s.cfg.Transcripts.Follow(sess.ID, p)
			}
		}
	}
	return head, n, nil
}

// restoreSessions loads the model's snapshot when it is this build's and
// not ahead of the store, and returns the seq it covers (0: replay
// everything) and a word for the log.
func (s *Server) restoreSessions(ctx context.Context, head int64) (int64, string) {
	if s.cfg.ModelBuild == "" {
		return 0, "off"
	}
	var seq int64
	note := ""
	ok, err := s.store.LoadSnapshot(ctx, snapshotName, func(snap store.Snapshot) error {
		switch {
		case snap.Build != s.cfg.ModelBuild:
			// Another build may derive differently: its model is not ours.
			note = "other build"
			return nil
		case snap.Seq > head:
			s.log.Warn("the session model's snapshot is ahead of the event store; replaying every event", "snapshot_seq", snap.Seq, "last_seq", head)
			note = "ahead of the store"
			return nil
		}
		if err := s.sessions.Restore(bytes.NewReader(snap.Data)); err != nil {
			s.log.Warn("could not restore the session model's snapshot; replaying every event", "err", err)
			note = "bad"
			return nil
		}
		seq, note = snap.Seq, "restored at seq "+strconv.FormatInt(snap.Seq, 10)
		return nil
	})
	switch {
	case err != nil:
		s.log.Warn("could not read the session model's snapshot; replaying every event", "err", err)
		return 0, "unreadable"
	case !ok:
		return 0, "none"
	}
	return seq, note
}

// saveSessions stores the model's snapshot, unless an event's derived
// events could not be stored in this run (then the next start replays,
// and derives them again).
func (s *Server) saveSessions() time.Duration {
	if s.cfg.ModelBuild == "" || s.snapBroken.Load() {
		return 0
	}
	start := time.Now()
	var b bytes.Buffer
	seq := s.sessions.Seq()
	if err := s.sessions.Snapshot(&b); err != nil {
		s.log.Warn("could not snapshot the session model", "err", err)
		return time.Since(start)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.store.SaveSnapshot(ctx, snapshotName, store.Snapshot{Seq: seq, Build: s.cfg.ModelBuild, Data: b.Bytes()}); err != nil {
		s.log.Warn("could not store the session model's snapshot", "err", err)
		return time.Since(start)
	}
	took := time.Since(start)
	s.log.Debug("session model saved", "seq", seq, "bytes", b.Len(), "took", took.Round(time.Millisecond))
	return took
}

// followSessions applies committed events to the model until ctx ends,
// saving its snapshot now and then and at the end. replayed is how many
// events the rebuild replayed (a snapshot is saved at once when many).
func (s *Server) followSessions(ctx context.Context, sub *subscription, after int64, replayed int) {
	applied := replayed
	last := time.Now()
	every := snapshotEvery
	if replayed >= snapshotMinEvents {
		every = max(snapshotEvery, 100*s.saveSessions())
		applied = 0
	}
	sub.follow(ctx, s.store, modelInputs, after, func(evs []*event.Event) {
		s.applyToModel(ctx, evs, 0, true)
		applied += len(evs)
		if applied >= snapshotMinEvents && time.Since(last) >= every {
			every = max(snapshotEvery, 100*s.saveSessions())
			applied, last = 0, time.Now()
		}
	})
	if applied > 0 {
		s.saveSessions()
	}
}

// resumeTranscripts is how long after its end a session's transcripts are
// followed again when mpmd starts.
const resumeTranscripts = 24 * time.Hour

// applyToModel applies evs (in seq order) and stores what those after
// watermark derive, waiting until it is stored (or ctx ends); follow tells
// the transcript follower of the files the events name.
func (s *Server) applyToModel(ctx context.Context, evs []*event.Event, watermark int64, follow bool) {
	var derived []*event.Event
	var source int64
	for _, ev := range evs {
		ds := s.sessions.Apply(ev)
		if follow {
			s.followTranscripts(ev)
		}
		if ev.Seq <= watermark {
			continue
		}
		for j, d := range ds {
			derived = append(derived, &event.Event{
				ID:        ev.ID + "/" + strconv.Itoa(j) + d.Namespace + "/" + d.Name,
				Namespace: d.Namespace,
				Name:      d.Name,
				Time:      ev.Time,
				SessionID: ev.SessionID,
				Data:      d.Data,
			})
		}
		source = ev.Seq
	}
	if len(derived) == 0 {
		return
	}
	defer func() {
		if ctx.Err() != nil {
			s.snapBroken.Store(true) // not stored: the next start must replay these
		}
	}()
	for i := 0; ctx.Err() == nil; i++ {
		err := s.storeDerived(ctx, &derivedBatch{evs: derived, source: source})
		if err == nil {
			return
		}
		if errors.Is(err, ErrShuttingDown) {
			s.snapBroken.Store(true)
			return // derived again on the next start: derived_seq did not move
		}
		if i == 0 {
			s.log.Warn("could not store derived events; retrying", "count", len(derived), "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(time.Duration(i+1)*100*time.Millisecond, 2*time.Second)):
		}
	}
}

func (s *Server) storeDerived(ctx context.Context, b *derivedBatch) error {
	if s.cfg.Log != nil {
		// Cluster mode: every node derives the same events from the same
		// history and offers them to the log, whose event_id
		// de-duplication keeps the first; they come back through the log
		// like any event. Only derived_seq moves here.
		if err := s.logDerived(ctx, b.evs); err != nil {
			return err
		}
		b = &derivedBatch{source: b.source}
	}
	_, err := s.submit(ctx, &request{derived: b, done: make(chan response, 1)})
	return err
}

// followTranscripts tells the transcript follower of the files ev names.
func (s *Server) followTranscripts(ev *event.Event) {
	if s.cfg.Transcripts == nil || ev.Namespace != "/hook" || ev.SessionID == "" {
		return
	}
	for _, k := range []string{"transcript_path", "agent_transcript_path"} {
		if p, ok := ev.Data[k].(string); ok && p != "" {
			s.cfg.Transcripts.Follow(ev.SessionID, p)
		}
	}
}
