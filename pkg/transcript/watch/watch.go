// Package watch follows Claude Code session transcripts as they grow and
// turns what pkg/transcript reads in them into /claude events — output,
// thinking, usage and cost_state — handed to an injected Ingest function in
// batches.
//
// A hook event names its session's transcript; the daemon calls Follow for
// each one (cheap and idempotent), and Run, on its own goroutine, confines
// the path to the Claude projects directories, reads what was appended since
// the last read, finds the session's subagent transcripts
// (<session>/subagents/agent-<id>.jsonl) and keeps the byte offset read so
// far in an Offsets store, saving it only after Ingest accepted the events up
// to it. Event ids are made from the file's path and the entry's uuid, so
// reading a file again (after a crash, a truncation, a rewrite) yields the
// same ids and the store's de-duplication makes it harmless.
//
// It polls: every Poll for files that grew lately or that a hook event just
// named, backing off to IdlePoll for idle ones. Polling a bounded set of
// files costs a stat each and sees what notification APIs miss (files
// replaced by rename, as Claude Code does when it rewrites a transcript,
// network file systems, watch limits); a hook event is the better "something
// changed" signal and resets a file's backoff.
package watch

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/transcript"
)

// Offsets keeps how far each transcript has been read, so a restart resumes
// there. Save is called only once the events before the offset were
// ingested.
type Offsets interface {
	Load(path string) (offset int64, ok bool)
	Save(path string, offset int64)
}

// Config configures a Watcher. Zero values take the defaults.
type Config struct {
	// Roots are the directories transcripts may be read from. Default:
	// DefaultRoots().
	Roots []string
	// Ingest stores a batch of events; a nil error means all of them are
	// stored (duplicates included). Required.
	Ingest func(ctx context.Context, evs []*event.Event) error
	// Offsets persists read offsets; default: kept in memory only.
	Offsets Offsets
	Logger  *slog.Logger

	Poll     time.Duration // how often an active file is polled; default 250 ms
	IdlePoll time.Duration // the longest backoff for an idle file; default 5 s
	MaxFiles int           // files followed at once; default 512
	// MaxFileSize: a larger file is not read at all; default 4 GiB.
	MaxFileSize int64
	// ReadPerCycle bounds what is read from one file before the others get
	// their turn; default 16 MiB.
	ReadPerCycle int64
	MaxLine      int // default transcript.DefaultMaxLine
	Batch        int // events per Ingest call; default 256
}

// DefaultRoots are the Claude projects directories: ~/.claude/projects and,
// when CLAUDE_CONFIG_DIR is set, $CLAUDE_CONFIG_DIR/projects.
func DefaultRoots() []string {
	var roots []string
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(home, ".claude", "projects"))
	}
	if dir := os.Getenv("CLAUDE_CONFIG_DIR"); dir != "" {
		roots = append(roots, filepath.Join(dir, "projects"))
	}
	return roots
}

// Stats counts what a Watcher did.
type Stats struct {
	Files        int   // files followed now
	Polls        int64 // file polls (one stat each, and a read when it grew)
	Rejected     int64 // paths refused: outside the roots, not a regular .jsonl file, too big
	BytesRead    int64
	Events       int64 // events Ingest accepted
	IngestErrors int64
	Restarts     int64 // files read again from the start after they shrank or were replaced
}

// Watcher follows transcripts. Make one with New; Follow may be called from
// any goroutine, Run from one.
type Watcher struct {
	cfg   Config
	log   *slog.Logger
	roots []*root

	mu      sync.Mutex
	pending map[string]string      // path → session id, from Follow, not yet looked at
	waiting map[string]waitingPath // paths whose root does not exist yet (Run's goroutine only)
	wake    chan struct{}

	// owned by Run
	files    map[string]*file // by path as followed
	rejected map[string]bool  // paths refused and logged (bounded)
	buf      []byte

	statsMu sync.Mutex
	stats   Stats
}

// New returns a Watcher. It fails only for a missing Ingest.
func New(cfg Config) (*Watcher, error) {
	if cfg.Ingest == nil {
		return nil, errors.New("watch: Config.Ingest is required")
	}
	if cfg.Roots == nil {
		cfg.Roots = DefaultRoots()
	}
	if cfg.Offsets == nil {
		cfg.Offsets = &memOffsets{m: map[string]int64{}}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.IdlePoll < cfg.Poll {
		cfg.IdlePoll = max(5*time.Second, cfg.Poll)
	}
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = 512
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = 4 << 30
	}
	if cfg.ReadPerCycle <= 0 {
		cfg.ReadPerCycle = 16 << 20
	}
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = transcript.DefaultMaxLine
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	w := &Watcher{
		cfg:      cfg,
		log:      cfg.Logger,
		pending:  map[string]string{},
		waiting:  map[string]waitingPath{},
		wake:     make(chan struct{}, 1),
		files:    map[string]*file{},
		rejected: map[string]bool{},
		buf:      make([]byte, transcript.ReadBufferSize),
	}
	w.roots = newRoots(cfg.Roots)
	return w, nil
}

// maxPending bounds the paths waiting for Run: Follow never blocks and never
// grows without bound, whatever producers send.
const maxPending = 4096

// Follow asks for the transcript at path, of session sessionID, to be
// followed (with its subagents' transcripts). It returns at once; the path is
// checked and read on Run's goroutine. Calling it again for a followed file
// is cheap and makes it be polled soon: the hook event that named it likely
// came with new lines.
func (w *Watcher) Follow(sessionID, transcriptPath string) {
	if transcriptPath == "" {
		return
	}
	w.mu.Lock()
	if _, ok := w.pending[transcriptPath]; ok || len(w.pending) < maxPending {
		w.pending[transcriptPath] = sessionID
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counts so far.
func (w *Watcher) Stats() Stats {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	s := w.stats
	return s
}

func (w *Watcher) count(f func(*Stats)) {
	w.statsMu.Lock()
	f(&w.stats)
	w.statsMu.Unlock()
}

// Run follows the transcripts until ctx ends, then returns ctx's error.
// Call it once.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.closeAll()
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		w.admitPending()
		for w.pass(ctx) && ctx.Err() == nil {
			// a file had more to read than one cycle's share: go again at once
			w.admitPending()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-w.wake:
		}
	}
}

// pass polls every file that is due; it reports whether one has more to read.
func (w *Watcher) pass(ctx context.Context) bool {
	now := time.Now()
	more := false
	for key, f := range w.files {
		if ctx.Err() != nil {
			return false
		}
		if now.Before(f.next) {
			continue
		}
		switch w.poll(ctx, f, now) {
		case pollMore:
			more = true
		case pollDrop:
			w.drop(key)
		}
	}
	w.count(func(s *Stats) { s.Files = len(w.files) })
	return more
}

func (w *Watcher) admitPending() {
	w.mu.Lock()
	var batch map[string]string
	if len(w.pending) > 0 {
		batch = w.pending
		w.pending = make(map[string]string, len(batch))
	}
	w.mu.Unlock()
	now := time.Now()
	for path, session := range batch {
		w.admit(session, path, now)
	}
	for path, wp := range w.waiting {
		if _, again := batch[path]; !again {
			w.admit(wp.session, path, now)
		}
	}
}

func (w *Watcher) drop(key string) { delete(w.files, key) }

func (w *Watcher) closeAll() {
	clear(w.files)
	for _, r := range w.roots {
		r.close()
	}
}

// memOffsets is the default Offsets: memory only, so a file dropped and
// followed again in the same run resumes where it was.
type memOffsets struct {
	mu sync.Mutex
	m  map[string]int64
}

func (o *memOffsets) Load(path string) (int64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.m[path]
	return v, ok
}

func (o *memOffsets) Save(path string, off int64) {
	o.mu.Lock()
	o.m[path] = off
	o.mu.Unlock()
}
