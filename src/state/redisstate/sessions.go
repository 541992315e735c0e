package redisstate

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/state"
	"github.com/cordis-gateway/cordis/src/throttle"
)

// FlushInterval is the longest a dispatched seq waits before reaching Redis.
const FlushInterval = time.Second

// Hash fields of a session key.
const (
	fieldSessionID = "session_id"
	fieldSeq       = "seq"
	fieldResumeURL = "resume_gateway_url"
	fieldTotal     = "shard_total"
)

// Sessions is a SessionStore in Redis for the shards [first, first+count)
// of this process. Nothing a shard calls waits for Redis: UpdateSeq only
// touches an atomic slot, and Save and Delete only note what to write. Run
// (every FlushInterval) and Flush send everything pending in one pipeline,
// without holding the lock the shards take, so a slow or absent Redis never
// holds up a shard's reader.
type Sessions struct {
	client redis.UniversalClient
	botID  string
	clk    clock.Clock
	logger *slog.Logger
	first  int
	hot    []seqSlot // written by UpdateSeq, lock-free
	keys   []string  // session key per slot, built once

	flushMu sync.Mutex // one flush at a time
	mu      sync.Mutex // guards cold; never held across a round trip
	cold    []slotState
	ops     []flushOp // scratch: the flush being sent (under flushMu)
	warn    *throttle.Limiter
}

// seqSlot is padded to a cache line so shards on different cores do not
// contend on neighbouring slots.
type seqSlot struct {
	seq   atomic.Int64
	dirty atomic.Bool
	_     [64 - 12]byte
}

// slotState is what the flush needs besides the seq.
type slotState struct {
	active   bool // a session exists: flushing seq is meaningful
	needSave bool // the whole hash is written on the next flush even if seq did not move
	needDel  bool // the key is still to be deleted
	// session is kept for the session's whole life: every write is the
	// whole hash, so a Redis that lost the key in between (restart without
	// persistence, failover) holds a resumable session again after the next
	// flush instead of a hash with only seq.
	session state.Session
	gen     uint64    // bumped by every Save and Delete
	written time.Time // last successful write: TTL refresh due after SessionTTL/3
}

// flushOp is one slot's part of a flush.
type flushOp struct {
	slot int
	gen  uint64
	seq  bool // only the seq (and TTL): re-mark dirty if the flush fails
}

var _ state.SessionStore = (*Sessions)(nil)

// NewSessions returns the store for shards first..first+count-1 of the bot
// botID. Other shard ids still load, save and delete (directly), but
// UpdateSeq ignores them.
func NewSessions(client redis.UniversalClient, botID string, firstShard, count int, clk clock.Clock, logger *slog.Logger) *Sessions {
	count = max(count, 0)
	keys := make([]string, count)
	for i := range keys {
		keys[i] = SessionKey(botID, firstShard+i)
	}
	return &Sessions{
		client: client,
		botID:  botID,
		clk:    clk,
		logger: orDiscard(logger),
		first:  firstShard,
		hot:    make([]seqSlot, count),
		keys:   keys,
		cold:   make([]slotState, count),
		ops:    make([]flushOp, 0, count),
		warn:   throttle.New(clk, logEvery),
	}
}

// index returns shardID's slot, or -1 outside this process's range.
func (s *Sessions) index(shardID int) int {
	i := shardID - s.first
	if i < 0 || i >= len(s.hot) {
		return -1
	}
	return i
}

func (s *Sessions) key(shardID int) string {
	if i := s.index(shardID); i >= 0 {
		return s.keys[i]
	}
	return SessionKey(s.botID, shardID)
}

// UpdateSeq records the seq of a dispatch: no I/O, no allocation, no lock.
func (s *Sessions) UpdateSeq(shardID int, seq int64) {
	i := s.index(shardID)
	if i < 0 {
		return
	}
	slot := &s.hot[i]
	slot.seq.Store(seq)
	if !slot.dirty.Load() { // skip the write when already dirty
		slot.dirty.Store(true)
	}
}

// Load returns the stored session of shardID; ok is false if there is none
// or it is unusable (logged: the shard will identify and miss events).
func (s *Sessions) Load(ctx context.Context, shardID int) (state.Session, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	fields, err := s.client.HGetAll(ctx, s.key(shardID)).Result()
	if err != nil {
		return state.Session{}, false, fmt.Errorf("load session of shard %d: %w", shardID, err)
	}
	if len(fields) == 0 {
		return state.Session{}, false, nil
	}
	sess, err := parseSession(fields)
	if err != nil {
		// Not resumable, and never silently: it means events will be
		// missed, and something wrote a broken hash.
		s.logger.Warn("stored session is unreadable; the shard identifies instead of resuming",
			slog.Int("shard_id", shardID), slog.String("key", s.key(shardID)), slog.Any("error", err))
		return state.Session{}, false, nil
	}
	if i := s.index(shardID); i >= 0 {
		// The shard will resume this session: its seqs are worth flushing.
		s.mu.Lock()
		s.hot[i].seq.Store(sess.Seq)
		s.hot[i].dirty.Store(false)
		c := &s.cold[i]
		*c = slotState{active: true, session: sess, gen: c.gen + 1, written: s.clk.Now()}
		s.mu.Unlock()
	}
	return sess, true, nil
}

// parseSession reads a stored hash, saying what is wrong with an unusable one.
func parseSession(f map[string]string) (state.Session, error) {
	for _, field := range []string{fieldSessionID, fieldSeq, fieldResumeURL, fieldTotal} {
		if f[field] == "" {
			return state.Session{}, fmt.Errorf("field %s is missing", field)
		}
	}
	seq, err := strconv.ParseInt(f[fieldSeq], 10, 64)
	if err != nil || seq < 0 {
		return state.Session{}, fmt.Errorf("field %s is %q, not a sequence", fieldSeq, f[fieldSeq])
	}
	total, err := strconv.Atoi(f[fieldTotal])
	if err != nil || total < 1 {
		return state.Session{}, fmt.Errorf("field %s is %q, not a shard count", fieldTotal, f[fieldTotal])
	}
	return state.Session{ID: f[fieldSessionID], Seq: seq, ResumeURL: f[fieldResumeURL], ShardTotal: total}, nil
}

// Save records shardID's whole session (READY/RESUMED, shutdown); the next
// flush writes it (HSET + PEXPIRE), at most FlushInterval later. Shards
// outside this store's range are written at once.
func (s *Sessions) Save(ctx context.Context, shardID int, sess state.Session) error {
	i := s.index(shardID)
	if i < 0 {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		pipe := s.client.Pipeline()
		queueSave(ctx, pipe, s.key(shardID), sess)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("save session of shard %d: %w", shardID, err)
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hot[i].seq.Store(sess.Seq)
	s.hot[i].dirty.Store(false)
	c := &s.cold[i]
	*c = slotState{active: true, needSave: true, session: sess, gen: c.gen + 1, written: c.written}
	return nil
}

func queueSave(ctx context.Context, pipe redis.Pipeliner, key string, sess state.Session) {
	pipe.HSet(ctx, key,
		fieldSessionID, sess.ID,
		fieldSeq, sess.Seq,
		fieldResumeURL, sess.ResumeURL,
		fieldTotal, sess.ShardTotal)
	pipe.PExpire(ctx, key, state.SessionTTL)
}

// Delete drops shardID's session (invalidated); the next flush deletes the
// key. Shards outside this store's range are deleted at once.
func (s *Sessions) Delete(ctx context.Context, shardID int) error {
	i := s.index(shardID)
	if i < 0 {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		if err := s.client.Del(ctx, s.key(shardID)).Err(); err != nil {
			return fmt.Errorf("delete session of shard %d: %w", shardID, err)
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hot[i].dirty.Store(false)
	c := &s.cold[i]
	*c = slotState{needDel: true, gen: c.gen + 1}
	return nil
}

// Flush writes everything pending in one pipelined round trip: new
// sessions, deletions, changed seqs and, for sessions that stayed quiet, a
// TTL refresh every SessionTTL/3 so a live session never expires. Every
// write is the whole hash plus PEXPIRE, so whatever Redis lost in between,
// a flush leaves a complete, resumable session. On error everything stays
// pending for the next call.
func (s *Sessions) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()

	now := s.clk.Now()
	pipe := s.client.Pipeline()
	s.ops = s.ops[:0]
	s.mu.Lock()
	for i := range s.hot {
		c := &s.cold[i]
		op := flushOp{slot: i, gen: c.gen}
		switch {
		case c.needDel:
			pipe.Del(ctx, s.keys[i])
		case c.needSave:
			sess := c.session
			sess.Seq = s.hot[i].seq.Load()
			s.hot[i].dirty.Store(false)
			queueSave(ctx, pipe, s.keys[i], sess)
		case c.active && s.hot[i].dirty.Load() && s.hot[i].dirty.Swap(false):
			// The whole hash, not only seq: see slotState.session.
			sess := c.session
			sess.Seq = s.hot[i].seq.Load()
			queueSave(ctx, pipe, s.keys[i], sess)
			op.seq = true
		case c.active && now.Sub(c.written) >= state.SessionTTL/3:
			// A TTL refresh rewrites the hash too: PEXPIRE alone on a key
			// Redis lost would leave nothing to resume.
			sess := c.session
			sess.Seq = s.hot[i].seq.Load()
			queueSave(ctx, pipe, s.keys[i], sess)
		default:
			continue
		}
		s.ops = append(s.ops, op)
	}
	s.mu.Unlock()
	if len(s.ops) == 0 {
		return nil
	}

	_, err := pipe.Exec(ctx)

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range s.ops {
		c := &s.cold[op.slot]
		if c.gen != op.gen {
			continue // saved or deleted again meanwhile: that write is still pending
		}
		switch {
		case err != nil && op.seq:
			s.hot[op.slot].dirty.Store(true)
		case err == nil:
			c.needSave, c.needDel = false, false
			c.written = now
		}
	}
	if err != nil {
		return fmt.Errorf("flush sessions of %d shards: %w", len(s.ops), err)
	}
	return nil
}

// Run flushes every FlushInterval until ctx ends; errors are logged
// (rate-limited) and retried on the next tick. Call Flush once more at
// shutdown.
func (s *Sessions) Run(ctx context.Context) {
	next := s.clk.Now()
	failing := false
	for {
		// Ticks are planned from the previous tick, not from the end of
		// the flush, so seqs reach Redis at least every FlushInterval.
		next = next.Add(FlushInterval)
		if now := s.clk.Now(); next.Before(now) {
			next = now
		}
		if err := clock.Sleep(ctx, s.clk, next.Sub(s.clk.Now())); err != nil {
			return
		}
		err := s.Flush(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			failing = true
			if ok, n := s.warn.Allow(); ok {
				s.logger.Warn("redis session flush failed; retrying", "error", err, "suppressed", n)
			}
		case err == nil && failing:
			failing = false
			s.warn.Reset()
			s.logger.Info("redis session flush works again")
		}
	}
}
