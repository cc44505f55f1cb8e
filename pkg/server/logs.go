package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
)

// LogHandler is a slog.Handler that passes every record to next and also
// forwards records at or above level to the /log namespace once a Server is
// attached. Forwarding never blocks the caller: records that do not fit the
// queue are dropped, and none are forwarded while the store is failing (the
// failure itself is logged, and forwarding it would loop).
type LogHandler struct {
	next   slog.Handler
	level  slog.Leveler
	shared *logShared
	attrs  []slog.Attr
	group  string
}

type logShared struct {
	srv     atomic.Pointer[Server]
	ch      chan *event.Event
	pending atomic.Int64 // queued or being stored
}

// NewLogHandler wraps next.
func NewLogHandler(next slog.Handler, level slog.Leveler) *LogHandler {
	return &LogHandler{next: next, level: level, shared: &logShared{ch: make(chan *event.Event, 1024)}}
}

// Enabled implements slog.Handler.
func (h *LogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || l >= h.level.Level()
}

// Handle implements slog.Handler.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	if r.Level < h.level.Level() {
		return err
	}
	srv := h.shared.srv.Load()
	if srv == nil || srv.Degraded() != "" || srv.closing.Load() {
		return err
	}
	h.shared.pending.Add(1)
	select {
	case h.shared.ch <- h.toEvent(r):
	default: // never block a logger on the pipeline
		h.shared.pending.Add(-1)
	}
	return err
}

func (h *LogHandler) toEvent(r slog.Record) *event.Event {
	name := "message"
	switch {
	case r.Level >= slog.LevelError:
		name = "error"
	case r.Level >= slog.LevelWarn:
		name = "warning"
	}
	data := map[string]any{
		"timestamp": event.FormatTime(r.Time),
		"level":     r.Level.String(),
		"logger":    "mpmd",
		"message":   r.Message,
	}
	if h.group != "" {
		data["logger"] = "mpmd." + h.group
	}
	if r.PC != 0 {
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		data["module"] = strings.TrimSuffix(filepath.Base(f.File), ".go")
		fn := f.Function
		if i := strings.LastIndex(fn, "/"); i >= 0 {
			fn = fn[i+1:]
		}
		data["function"] = fn
		data["line"] = f.Line
	}
	attrs := map[string]any{}
	for _, a := range h.attrs {
		attrs[a.Key] = a.Value.Resolve().Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		v := a.Value.Resolve().Any()
		if e, ok := v.(error); ok {
			v = e.Error()
		}
		attrs[a.Key] = v
		return true
	})
	if len(attrs) > 0 {
		data["attrs"] = attrs
	}
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	return &event.Event{Namespace: "/log", Name: name, Time: t, Data: data}
}

// WithAttrs implements slog.Handler.
func (h *LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &c
}

// WithGroup implements slog.Handler.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.group = name
	return &c
}

// Attach starts forwarding to s's /log namespace until ctx ends.
func (h *LogHandler) Attach(ctx context.Context, s *Server) {
	h.shared.srv.Store(s)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-h.shared.ch:
				ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, _ = s.Ingest(ictx, ev)
				cancel()
				h.shared.pending.Add(-1)
			}
		}
	}()
}

// Flush waits until every record forwarded so far has gone through the
// pipeline, or ctx ends. mpmd calls it before it serves, so that its
// start-up records are in the store before anyone can ask.
func (h *LogHandler) Flush(ctx context.Context) {
	for h.shared.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Millisecond):
		}
	}
}
