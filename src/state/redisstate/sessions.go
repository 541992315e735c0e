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
// of this process. UpdateSeq only touches an atomic slot; Run (every
// FlushInterval) and Flush write all pending seqs in one pipeline.
type Sessions struct {
	client redis.UniversalClient
	botID  string
	clk    clock.Clock
	logger *slog.Logger
	first  int
	hot    []seqSlot // written by UpdateSeq, lock-free
	keys   []string  // session key per slot, built once

	mu      sync.Mutex // serializes Redis writes and guards cold
	cold    []slotState
	pending []int // scratch: slots in the flush being sent
	warn    throttle
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
	active bool // a session exists: flushing seq is meaningful
	// A Save or Delete that failed, retried by the next flush.
	retrySave   bool
	retryDelete bool
	session     state.Session
}

var _ state.SessionStore = (*Sessions)(nil)

// NewSessions returns the store for shards first..first+count-1 of the bot
// botID. Other shard ids still load, save and delete, but UpdateSeq ignores
// them.
func NewSessions(client redis.UniversalClient, botID string, firstShard, count int, clk clock.Clock, logger *slog.Logger) *Sessions {
	count = max(count, 0)
	keys := make([]string, count)
	for i := range keys {
		keys[i] = SessionKey(botID, firstShard+i)
	}
	return &Sessions{
		client:  client,
		botID:   botID,
		clk:     clk,
		logger:  orDiscard(logger),
		first:   firstShard,
		hot:     make([]seqSlot, count),
		keys:    keys,
		cold:    make([]slotState, count),
		pending: make([]int, 0, count),
		warn:    throttle{clk: clk, interval: logEvery},
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
// or it lacks a field.
func (s *Sessions) Load(ctx context.Context, shardID int) (state.Session, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	fields, err := s.client.HGetAll(ctx, s.key(shardID)).Result()
	if err != nil {
		return state.Session{}, false, fmt.Errorf("load session of shard %d: %w", shardID, err)
	}
	sess, ok := parseSession(fields)
	if !ok {
		return state.Session{}, false, nil
	}
	if i := s.index(shardID); i >= 0 {
		// The shard will resume this session: its seqs are worth flushing.
		s.mu.Lock()
		s.hot[i].seq.Store(sess.Seq)
		s.hot[i].dirty.Store(false)
		s.cold[i] = slotState{active: true}
		s.mu.Unlock()
	}
	return sess, true, nil
}

func parseSession(f map[string]string) (state.Session, bool) {
	seq, err := strconv.ParseInt(f[fieldSeq], 10, 64)
	if err != nil {
		return state.Session{}, false
	}
	total, err := strconv.Atoi(f[fieldTotal])
	if err != nil || total < 1 {
		return state.Session{}, false
	}
	sess := state.Session{ID: f[fieldSessionID], Seq: seq, ResumeURL: f[fieldResumeURL], ShardTotal: total}
	if sess.ID == "" || sess.ResumeURL == "" {
		return state.Session{}, false
	}
	return sess, true
}

// Save writes shardID's whole session (READY/RESUMED) and its TTL in one
// round trip. On failure the next flush tries again.
func (s *Sessions) Save(ctx context.Context, shardID int, sess state.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.index(shardID)
	if i >= 0 {
		s.hot[i].seq.Store(sess.Seq)
		s.hot[i].dirty.Store(false)
		s.cold[i] = slotState{active: true}
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	pipe := s.client.Pipeline()
	queueSave(ctx, pipe, s.key(shardID), sess)
	if _, err := pipe.Exec(ctx); err != nil {
		if i >= 0 {
			s.cold[i].retrySave, s.cold[i].session = true, sess
		}
		return fmt.Errorf("save session of shard %d: %w", shardID, err)
	}
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

// Delete removes shardID's session (invalidated). On failure the next
// flush tries again.
func (s *Sessions) Delete(ctx context.Context, shardID int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.index(shardID)
	if i >= 0 {
		s.hot[i].dirty.Store(false)
		s.cold[i] = slotState{}
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := s.client.Del(ctx, s.key(shardID)).Err(); err != nil {
		if i >= 0 {
			s.cold[i].retryDelete = true
		}
		return fmt.Errorf("delete session of shard %d: %w", shardID, err)
	}
	return nil
}

// Flush writes every pending seq (HSET seq + PEXPIRE per shard), and any
// failed Save or Delete, in one pipelined round trip. On error everything
// stays pending for the next call.
func (s *Sessions) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()

	pipe := s.client.Pipeline()
	s.pending = s.pending[:0]
	for i := range s.hot {
		c := &s.cold[i]
		dirty := s.hot[i].dirty.Load() && s.hot[i].dirty.Swap(false)
		switch {
		case c.retryDelete:
			pipe.Del(ctx, s.keys[i])
		case c.retrySave:
			c.session.Seq = s.hot[i].seq.Load()
			queueSave(ctx, pipe, s.keys[i], c.session)
		case dirty && c.active:
			pipe.HSet(ctx, s.keys[i], fieldSeq, s.hot[i].seq.Load())
			pipe.PExpire(ctx, s.keys[i], state.SessionTTL)
		default:
			continue
		}
		s.pending = append(s.pending, i)
	}
	if len(s.pending) == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		for _, i := range s.pending {
			if s.cold[i].active {
				s.hot[i].dirty.Store(true)
			}
		}
		return fmt.Errorf("flush sessions of %d shards: %w", len(s.pending), err)
	}
	for _, i := range s.pending {
		s.cold[i].retrySave, s.cold[i].retryDelete = false, false
		s.cold[i].session = state.Session{}
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
			if ok, n := s.warn.allow(); ok {
				s.logger.Warn("redis session flush failed; retrying", "err", err, "suppressed", n)
			}
		case err == nil && failing:
			failing = false
			s.warn.reset()
			s.logger.Info("redis session flush works again")
		}
	}
}
