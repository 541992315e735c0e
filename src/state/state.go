// Package state holds what the gateway must remember between identifies and
// connections: identify rate limits and resumable sessions (DESIGN.md §6).
// The in-memory implementations serve a single process; package
// state/redisstate makes the same interfaces span clusters and restarts.
package state

import (
	"context"
	"time"
)

// IdentifyInterval is Discord's minimum spacing of IDENTIFYs in one
// max_concurrency bucket.
const IdentifyInterval = 5 * time.Second

// IdentifyGuard is added to IdentifyInterval between two IDENTIFYs of a
// bucket: the interval is measured from when a shard was allowed to
// identify, but its IDENTIFY reaches Discord a little later (scheduling,
// the websocket write), and Discord measures between arrivals.
const IdentifyGuard = 250 * time.Millisecond

// SessionTTL is how long a stored session stays usable after its last
// write; Discord keeps a dropped session resumable for a few minutes.
const SessionTTL = 3 * time.Minute

// StartLimit is session_start_limit from GET /gateway/bot.
type StartLimit struct {
	Total          int
	Remaining      int
	ResetAfter     time.Duration
	MaxConcurrency int
}

// IdentifyLimiter is the identify queue (the twilight "Queue"): a shard
// calls Acquire right before sending IDENTIFY, and Acquire returns when that
// is allowed: at most one IDENTIFY per bucket (shard_id % max_concurrency)
// per IdentifyInterval, buckets in parallel, and none while the daily
// session start limit is exhausted.
type IdentifyLimiter interface {
	Acquire(ctx context.Context, shardID int) error
}

// Session is what a shard needs to RESUME.
type Session struct {
	ID         string
	Seq        int64
	ResumeURL  string
	ShardTotal int
}

// SessionStore remembers sessions for RESUME across reconnects (and, with
// Redis, across restarts). Save and Delete are called on READY/RESUMED and on
// invalidation, from a shard's reader: they must not wait for a remote store.
// UpdateSeq is called for every dispatch and must be cheap (no I/O). Flush
// writes everything pending (the Redis store also does so on its own at
// least every second).
type SessionStore interface {
	Load(ctx context.Context, shardID int) (Session, bool, error)
	Save(ctx context.Context, shardID int, s Session) error
	UpdateSeq(shardID int, seq int64)
	Delete(ctx context.Context, shardID int) error
	Flush(ctx context.Context) error
}
