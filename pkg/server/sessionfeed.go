package server

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/session"
	"github.com/mpm-dev/mpm/pkg/store"
)

// The session model's feed. At start the model is rebuilt from the stored
// raw events (/hook, and the /claude events read from transcripts), so a
// fix to the derivation applies to old history too; then it applies every
// committed event from the stream. What an event derives is stored and
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

// rebuildSessions replays the stored history into the model, derives
// again what a crash may have lost, and returns the seq it reached.
func (s *Server) rebuildSessions(ctx context.Context) (int64, error) {
	start := time.Now()
	head := s.store.LastSeq()
	watermark, _, err := s.store.Meta(ctx, derivedSeqKey)
	if err != nil {
		return 0, err
	}
	f := modelInputs
	f.UntilSeq = head
	n := 0
	err = readAfter(ctx, s.store, f, 0, func(evs []*event.Event) {
		n += len(evs)
		s.applyToModel(ctx, evs, watermark, false)
	})
	if err != nil {
		return 0, err
	}
	s.log.Info("session model rebuilt", "events", n, "sessions", len(s.sessions.List()), "took", time.Since(start).Round(time.Millisecond), "derived_seq", watermark)
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
	return head, nil
}

// followSessions applies committed events to the model until ctx ends.
func (s *Server) followSessions(ctx context.Context, sub *subscription, after int64) {
	sub.follow(ctx, s.store, modelInputs, after, func(evs []*event.Event) {
		s.applyToModel(ctx, evs, 0, true)
	})
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
	for i := 0; ctx.Err() == nil; i++ {
		err := s.storeDerived(ctx, &derivedBatch{evs: derived, source: source})
		if err == nil {
			return
		}
		if errors.Is(err, ErrShuttingDown) {
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
