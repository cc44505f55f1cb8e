package mpmdcli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mpm-dev/mpm/pkg/pricing"
	"github.com/mpm-dev/mpm/pkg/session"
	"github.com/mpm-dev/mpm/pkg/store"
	"github.com/mpm-dev/mpm/pkg/transcript"
	"github.com/mpm-dev/mpm/pkg/transcript/watch"
	"github.com/prometheus/client_golang/prometheus"
)

// storeOffsets keeps the transcript watcher's read offsets in the event
// store, beside the events they stand for.
type storeOffsets struct {
	st  *store.Store
	log *slog.Logger
}

func offsetKey(path string) string { return "transcript_offset:" + path }

func (o storeOffsets) Load(path string) (int64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, ok, err := o.st.Meta(ctx, offsetKey(path))
	if err != nil {
		o.log.Warn("cannot read a transcript's offset; reading it from the start (its events are not stored twice)", "path", path, "err", err)
		return 0, false
	}
	return v, ok
}

func (o storeOffsets) Save(path string, offset int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.st.SetMeta(ctx, offsetKey(path), offset); err != nil {
		o.log.Warn("cannot save a transcript's offset", "path", path, "err", err)
	}
}

// tablePricer prices the session model's messages with a pricing table.
type tablePricer struct{ t *pricing.Table }

func (p tablePricer) Cost(r session.PriceRequest) (float64, bool) {
	c, err := p.t.Cost(r.Model, &transcript.Usage{
		InputTokens:                r.Tokens.InputTokens,
		OutputTokens:               r.Tokens.OutputTokens,
		CacheCreationInputTokens:   r.Tokens.CacheCreationInputTokens,
		CacheReadInputTokens:       r.Tokens.CacheReadInputTokens,
		CacheCreation5mInputTokens: r.Tokens.CacheCreation5mTokens,
		CacheCreation1hInputTokens: r.Tokens.CacheCreation1hTokens,
		WebSearchRequests:          r.Tokens.WebSearchRequests,
		InferenceGeo:               r.InferenceGeo,
		Speed:                      r.Speed,
		ServiceTier:                r.ServiceTier,
	})
	return c.USD, err == nil
}

// loadPricing is the embedded table with the user's file merged over it:
// --pricing, else $XDG_CONFIG_HOME/mpm/pricing.json when it exists.
func loadPricing(flag, configDir string) (*pricing.Table, string, error) {
	path := flag
	if path == "" {
		p := filepath.Join(configDir, "pricing.json")
		if _, err := os.Stat(p); err == nil {
			path = p
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, "", fmt.Errorf("cannot read %s: %w", p, err)
		}
	}
	t, err := pricing.Load(path)
	if err != nil {
		return nil, "", fmt.Errorf("cannot use the prices in %s: %w", path, err)
	}
	return t, path, nil
}

// registerWatcherMetrics exports the transcript watcher's counts.
func registerWatcherMetrics(reg *prometheus.Registry, w *watch.Watcher) {
	counter := func(name, help string, f func(watch.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f(w.Stats())) })
	}
	reg.MustRegister(
		counter("mpmd_transcript_bytes_read_total", "Bytes of Claude Code transcripts read.", func(s watch.Stats) int64 { return s.BytesRead }),
		counter("mpmd_transcript_events_total", "Events made from transcripts and stored.", func(s watch.Stats) int64 { return s.Events }),
		counter("mpmd_transcript_paths_refused_total", "Transcript paths refused (outside the projects directories, not a regular .jsonl file, too big).", func(s watch.Stats) int64 { return s.Rejected }),
		counter("mpmd_transcript_ingest_errors_total", "Batches of transcript events the pipeline refused (retried).", func(s watch.Stats) int64 { return s.IngestErrors }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mpmd_transcript_files", Help: "Transcript files followed now."},
			func() float64 { return float64(w.Stats().Files) }),
	)
}
