// Package cluster is mpmd's cluster log on Redis (`mpmd run --redis URL`):
// several mpmd nodes, one ordered history.
//
// Every event a node ingests (hook, /emit, OTLP, transcript, and what the
// session model derives) goes through one Lua script on Redis that drops it
// when its event_id was seen (a key per event_id, with a TTL), takes the
// next cluster seq (INCR) and appends it to one stream (XADD, entry id
// "<seq>-0", trimmed with MAXLEN ~). The producer is acked when the script
// returned: the event is in the cluster log. Every node runs a consumer that
// reads the stream in order (XREAD BLOCK from the last seq it stored) and
// applies each event to its own store with the cluster seq, then broadcasts
// it to its own clients; a node that restarts resumes from its store's last
// seq. While Redis cannot be reached a node takes events into an outbox in
// its own SQLite (durable, acked as pending) and forwards them, in order and
// once each (the event_id de-dup makes a repeated forward a no-op), when
// Redis answers again. docs/SCALE.md has the design and each failure case.
//
// The pipeline (pkg/server) sees this package only through its EventLog
// interface: Append and Run. AdminHost (admin.go) gives the Socket.IO Admin
// UI of every node a view of, and actions on, every node's sockets, over
// Redis pub/sub on the same connection.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
	"github.com/redis/go-redis/v9"
)

// Defaults of Config.
const (
	DefaultMaxLen   = 250_000
	DefaultDedupTTL = 24 * time.Hour
	DefaultPrefix   = "mpm:"
)

// Config says which Redis holds the log and how.
type Config struct {
	URL      string        // redis://[user:password@]host:port/db (rediss:// for TLS)
	NodeID   string        // this node's name in the log and in /health
	MaxLen   int64         // entries the stream keeps, approximately (0: DefaultMaxLen; <0: no trimming)
	DedupTTL time.Duration // how long an event_id is remembered cluster-wide (0: DefaultDedupTTL)
	Prefix   string        // of every key (0: DefaultPrefix)
	Logger   *slog.Logger
}

// memberKey marks a store as a cluster node's: its seqs are the log's.
const memberKey = "cluster_member"

const (
	maxBatch     = 512
	queueSize    = 8192
	opTimeout    = 5 * time.Second
	readBlock    = 500 * time.Millisecond
	retryDown    = 250 * time.Millisecond
	headInterval = time.Second
	queueWait    = 5 * time.Second
)

// ErrClosed answers an Append after Close.
var ErrClosed = errors.New("the cluster log is closed")

// ErrOverloaded answers an Append that found the queue full for queueWait.
var ErrOverloaded = errors.New("the cluster log's queue is full: Redis is slow to answer; try again")

// Log is a node's side of the cluster log.
type Log struct {
	cfg  Config
	rdb  *redis.Client
	st   *store.Store
	log  *slog.Logger
	keys struct{ seq, stream, id string }

	mu     sync.RWMutex // closed vs Append's send
	closed bool
	q      chan item
	stop   chan struct{}
	done   chan struct{}

	// the appender goroutine's own
	down    bool
	retryAt time.Time

	appendOK  atomic.Bool // the appender's last Redis call worked
	consumeOK atomic.Bool // the consumer's last Redis call worked
	applied   atomic.Int64
	head      atomic.Int64
	outboxN   atomic.Int64
	forwarded atomic.Int64
	missed    atomic.Int64
	appended  atomic.Int64
}

type item struct {
	ev   *event.Event
	done func(seq int64, duplicate, pending bool, err error)
}

// Open connects to Redis (which may be down: the node then starts with its
// outbox) and starts the appender. st must be the node's store; one that
// holds a local history (seqs of its own) is refused.
func Open(ctx context.Context, cfg Config, st *store.Store) (*Log, error) {
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("--redis %q: %w (give redis://host:port/db)", redact(cfg.URL), err)
	}
	opts.DialTimeout = time.Second
	opts.DialerRetries = 1
	opts.ReadTimeout = 2 * time.Second
	opts.WriteTimeout = 2 * time.Second
	opts.MaxRetries = -1 // a retried script is no harm (de-dup) but would answer "duplicate"
	opts.DisableIdentity = true
	if cfg.MaxLen == 0 {
		cfg.MaxLen = DefaultMaxLen
	}
	if cfg.DedupTTL <= 0 {
		cfg.DedupTTL = DefaultDedupTTL
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	member, _, err := st.Meta(ctx, memberKey)
	if err != nil {
		return nil, err
	}
	if member == 0 {
		if st.LastSeq() > 0 {
			return nil, fmt.Errorf("the event store %s holds a history of this node alone (last seq %d), whose seqs would clash with the cluster's: give a cluster node a store of its own (--db)", st.Path(), st.LastSeq())
		}
		if err := st.SetMeta(ctx, memberKey, 1); err != nil {
			return nil, err
		}
	}
	n, err := st.OutboxLen(ctx)
	if err != nil {
		return nil, err
	}
	// go-redis logs every failed dial on its own; the log says what matters
	// once (Redis away, Redis back), the rest is for debugging.
	redis.SetLogger(debugLogger{cfg.Logger.With("component", "go-redis")})
	l := &Log{
		cfg:  cfg,
		rdb:  redis.NewClient(opts),
		st:   st,
		log:  cfg.Logger.With("component", "cluster"),
		q:    make(chan item, queueSize),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	l.keys.seq, l.keys.stream, l.keys.id = cfg.Prefix+"seq", cfg.Prefix+"log", cfg.Prefix+"id:"
	l.outboxN.Store(n)
	l.applied.Store(st.LastSeq())
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := l.rdb.Ping(pctx).Err(); err != nil {
		l.log.Warn("Redis does not answer; events are kept in this node's outbox until it does", "redis", redact(cfg.URL), "err", err)
		l.down = true
	} else {
		l.appendOK.Store(true)
		l.consumeOK.Store(true)
		l.refreshHead(pctx)
	}
	go l.appender()
	return l, nil
}

// Close stops taking events, hands what is queued to Redis (or to the
// outbox) and closes the connection. Call it before closing the store.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return l.rdb.Close()
}

// Append implements the pipeline's EventLog.
func (l *Log) Append(ev *event.Event, done func(seq int64, duplicate, pending bool, err error)) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		done(0, false, false, ErrClosed)
		return
	}
	it := item{ev, done}
	select {
	case l.q <- it:
		return
	default:
	}
	// The queue is full (Redis slow to answer): wait a while, as the
	// local pipeline does, then refuse; the producer retries.
	t := time.NewTimer(queueWait)
	defer t.Stop()
	select {
	case l.q <- it:
	case <-t.C:
		done(0, false, false, ErrOverloaded)
	}
}

// appender is the one goroutine that writes the log (and the outbox): one
// pipelined round trip for each batch of queued events, in their order.
func (l *Log) appender() {
	defer close(l.done)
	tick := time.NewTicker(retryDown)
	defer tick.Stop()
	batch := make([]item, 0, maxBatch)
	for {
		batch = batch[:0]
		// forwarding: do not wait (unless a failure said to pause)
		busy := l.outboxN.Load() > 0 && !l.down && !time.Now().Before(l.retryAt)
		if busy {
			select {
			case it := <-l.q:
				batch = append(batch, it)
			case <-l.stop:
				l.drain()
				return
			default:
			}
		} else {
			select {
			case it := <-l.q:
				batch = append(batch, it)
			case <-tick.C:
			case <-l.stop:
				l.drain()
				return
			}
		}
	fill:
		for len(batch) > 0 && len(batch) < maxBatch {
			select {
			case it := <-l.q:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		if len(batch) > 0 {
			l.handle(batch)
		}
		l.forward()
	}
}

// drain handles what was queued before Close.
func (l *Log) drain() {
	for {
		batch := make([]item, 0, maxBatch)
	fill:
		for len(batch) < maxBatch {
			select {
			case it := <-l.q:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return
		}
		l.handle(batch)
	}
}

// handle appends batch to the log, or to the outbox while Redis is out of
// reach or the outbox still holds older events (they go first).
func (l *Log) handle(batch []item) {
	if l.down || l.outboxN.Load() > 0 {
		l.toOutbox(batch)
		return
	}
	evs := make([]*event.Event, len(batch))
	for i, it := range batch {
		evs[i] = it.ev
	}
	res := l.run(evs)
	var failed []item
	var ferr error
	for i, r := range res {
		if r.err != nil {
			failed = append(failed, batch[i])
			ferr = r.err
			continue
		}
		if !r.dup {
			l.appended.Add(1)
		}
		batch[i].done(r.seq, r.dup, false, nil)
	}
	if len(failed) > 0 {
		l.setDown(ferr)
		l.toOutbox(failed)
	}
}

func (l *Log) toOutbox(batch []item) {
	evs := make([]*event.Event, len(batch))
	for i, it := range batch {
		evs[i] = it.ev
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	res, err := l.st.OutboxAdd(ctx, evs)
	if err != nil {
		for _, it := range batch {
			it.done(0, false, false, err)
		}
		return
	}
	for i, r := range res {
		switch {
		case r.Queued:
			l.outboxN.Add(1)
			batch[i].done(0, false, true, nil)
		case r.Seq > 0:
			batch[i].done(r.Seq, true, false, nil)
		default:
			batch[i].done(0, true, true, nil)
		}
	}
}

func (l *Log) setDown(err error) {
	if !l.down {
		l.log.Warn("Redis is out of reach; events go to this node's outbox and are forwarded when it is back", "err", err)
	}
	l.down = true
	l.appendOK.Store(false)
	l.retryAt = time.Now().Add(retryDown)
}

// forward moves one chunk of the outbox to the log, when Redis answers.
func (l *Log) forward() {
	if time.Now().Before(l.retryAt) {
		return
	}
	if l.down {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := l.rdb.Ping(ctx).Err()
		cancel()
		if err != nil {
			l.retryAt = time.Now().Add(retryDown)
			return
		}
		l.down = false
		l.appendOK.Store(true)
		l.log.Info("Redis answers again", "outbox", l.outboxN.Load())
	}
	if l.outboxN.Load() == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	entries, err := l.st.OutboxNext(ctx, 0, maxBatch)
	if err != nil {
		l.log.Warn("cannot read the outbox", "err", err)
		l.retryAt = time.Now().Add(retryDown)
		return
	}
	if len(entries) == 0 {
		l.outboxN.Store(0)
		return
	}
	evs := make([]*event.Event, len(entries))
	for i, e := range entries {
		evs[i] = e.Ev
	}
	res := l.run(evs)
	ok := 0
	for _, r := range res {
		if r.err != nil {
			l.setDown(r.err)
			break
		}
		ok++
		if !r.dup {
			l.appended.Add(1)
		}
	}
	if ok == 0 {
		return
	}
	// A crash between the script and this delete forwards them again:
	// the log's event_id de-dup makes that a no-op.
	if err := l.st.OutboxDelete(ctx, entries[ok-1].Pos); err != nil {
		l.log.Warn("cannot clear forwarded events from the outbox (they will be forwarded again, and dropped as duplicates)", "err", err)
		l.retryAt = time.Now().Add(retryDown)
		return
	}
	l.forwarded.Add(int64(ok))
	if n, err := l.st.OutboxLen(ctx); err == nil {
		l.outboxN.Store(n)
		if n == 0 {
			l.log.Info("outbox forwarded to the cluster log", "forwarded_total", l.forwarded.Load())
		}
	}
}

type result struct {
	seq int64
	dup bool
	err error
}

// run runs the append script for each of evs, pipelined.
func (l *Log) run(evs []*event.Event) []result {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	res := make([]result, len(evs))
	todo := make([]int, len(evs))
	for i := range evs {
		todo[i] = i
	}
	floor := strconv.FormatInt(max(l.applied.Load(), l.head.Load()), 10)
	ttl := strconv.FormatInt(int64(l.cfg.DedupTTL/time.Second), 10)
	maxLen := strconv.FormatInt(max(l.cfg.MaxLen, 0), 10)
	for attempt := 0; attempt < 2 && len(todo) > 0; attempt++ {
		pipe := l.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(todo))
		for j, i := range todo {
			ev := evs[i]
			data, err := event.AppendJSON(nil, ev.Data)
			if err != nil {
				res[i].err = err
				continue
			}
			cmds[j] = appendScript.EvalSha(ctx, pipe,
				[]string{l.keys.seq, l.keys.stream, l.keys.id + ev.ID},
				ttl, maxLen, floor,
				ev.ID, ev.Namespace, ev.Name, strconv.FormatInt(ev.Time.UnixMilli(), 10), ev.SessionID, string(data), l.cfg.NodeID)
		}
		_, _ = pipe.Exec(ctx)
		var again []int
		noScript := false
		for j, i := range todo {
			c := cmds[j]
			if c == nil {
				continue
			}
			if err := c.Err(); err != nil {
				if redis.HasErrorPrefix(err, "NOSCRIPT") {
					noScript = true
					again = append(again, i)
					continue
				}
				res[i].err = err
				continue
			}
			v, err := c.Int64Slice()
			if err != nil || len(v) != 2 {
				res[i].err = fmt.Errorf("the append script answered %v: %v", c.Val(), err)
				continue
			}
			res[i] = result{seq: v[0], dup: v[1] == 1}
			raise(&l.head, v[0])
		}
		todo = again
		if noScript {
			if err := appendScript.Load(ctx, l.rdb).Err(); err != nil {
				for _, i := range todo {
					res[i].err = err
				}
				return res
			}
		}
	}
	for _, i := range todo {
		res[i].err = errors.New("the append script is not loaded in Redis")
	}
	return res
}

// Run implements the pipeline's EventLog: it consumes the log after seq
// after, in order, until ctx ends.
func (l *Log) Run(ctx context.Context, after int64, apply func(context.Context, []*event.Event) error) error {
	last := after
	l.applied.Store(last)
	backoff := 100 * time.Millisecond
	lastHead := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastHead) > headInterval {
			lastHead = time.Now()
			l.refreshHead(ctx)
		}
		streams, err := l.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{l.keys.stream, strconv.FormatInt(last, 10) + "-0"},
			Count:   maxBatch,
			Block:   readBlock,
		}).Result()
		if errors.Is(err, redis.Nil) {
			l.consumeOK.Store(true)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if l.consumeOK.Swap(false) {
				l.log.Warn("cannot read the cluster log; retrying", "err", err)
			}
			sleep(ctx, backoff)
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		if !l.consumeOK.Swap(true) {
			l.log.Info("reading the cluster log again", "after_seq", last)
		}
		backoff = 100 * time.Millisecond
		var evs []*event.Event
		for _, s := range streams {
			for _, m := range s.Messages {
				ev, err := decode(m)
				if err != nil {
					l.log.Error("skipping an entry of the cluster log mpmd cannot read", "id", m.ID, "err", err)
					continue
				}
				if ev.Seq <= last {
					continue
				}
				if ev.Seq != last+1 {
					l.missed.Add(ev.Seq - last - 1)
					l.log.Error("events are missing from the cluster log: trimmed (raise --redis-maxlen) or lost by Redis", "from_seq", last+1, "to_seq", ev.Seq-1)
				}
				last = ev.Seq
				evs = append(evs, ev)
			}
		}
		if len(evs) == 0 {
			continue
		}
		for i := 0; ; i++ {
			err := apply(ctx, evs)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if i == 0 {
				l.log.Warn("cannot store events from the cluster log; retrying", "err", err)
			}
			sleep(ctx, min(time.Duration(i+1)*100*time.Millisecond, 2*time.Second))
		}
		l.applied.Store(last)
		raise(&l.head, last)
	}
	return ctx.Err()
}

func (l *Log) refreshHead(ctx context.Context) {
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	v, err := l.rdb.Get(c, l.keys.seq).Int64()
	if err == nil || errors.Is(err, redis.Nil) {
		l.head.Store(v)
	}
}

// raise sets a to v if v is higher.
func raise(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// decode reads one stream entry back into an event.
func decode(m redis.XMessage) (*event.Event, error) {
	seqStr, _, _ := strings.Cut(m.ID, "-")
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if err != nil || seq <= 0 {
		return nil, fmt.Errorf("entry id %q is no seq", m.ID)
	}
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	ev := &event.Event{Seq: seq, ID: str("id"), Namespace: str("ns"), Name: str("ev"), SessionID: str("sid")}
	if ev.ID == "" || !event.IsNamespace(ev.Namespace) || ev.Name == "" {
		return nil, fmt.Errorf("entry %s lacks an event_id, namespace or event name", m.ID)
	}
	ts, err := strconv.ParseInt(str("ts"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("entry %s: timestamp: %w", m.ID, err)
	}
	ev.Time = time.UnixMilli(ts).UTC()
	if err := json.Unmarshal([]byte(str("data")), &ev.Data); err != nil {
		return nil, fmt.Errorf("entry %s: data: %w", m.ID, err)
	}
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	return ev, nil
}

// Status is the node's view of the cluster.
type Status struct {
	NodeID         string `json:"node_id"`
	Redis          string `json:"redis"`
	RedisReachable bool   `json:"redis_reachable"`
	AppliedSeq     int64  `json:"applied_seq"`
	HeadSeq        int64  `json:"head_seq"`
	Lag            int64  `json:"lag"`
	Outbox         int64  `json:"outbox"`
	Forwarded      int64  `json:"forwarded"`
	Missed         int64  `json:"missed"`
	Appended       int64  `json:"appended"`
}

// Status reports the node's view of the cluster.
func (l *Log) Status() Status {
	applied, head := l.applied.Load(), l.head.Load()
	return Status{
		NodeID:         l.cfg.NodeID,
		Redis:          redact(l.cfg.URL),
		RedisReachable: l.appendOK.Load() && l.consumeOK.Load(),
		AppliedSeq:     applied,
		HeadSeq:        max(head, applied),
		Lag:            max(head-applied, 0),
		Outbox:         l.outboxN.Load(),
		Forwarded:      l.forwarded.Load(),
		Missed:         l.missed.Load(),
		Appended:       l.appended.Load(),
	}
}

// Health implements the pipeline's EventLog: Status as /health shows it.
func (l *Log) Health() map[string]any {
	s := l.Status()
	b, _ := json.Marshal(s)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// redact hides a password in a Redis URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// debugLogger puts go-redis's own messages in mpmd's log at debug level.
type debugLogger struct{ log *slog.Logger }

func (d debugLogger) Printf(ctx context.Context, format string, v ...any) {
	d.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}
