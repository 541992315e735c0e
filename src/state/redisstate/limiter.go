package redisstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

// logEvery is the minimum spacing of repeated warnings about Redis, so an
// outage produces a few lines instead of one per attempt.
const logEvery = 30 * time.Second

const (
	// opTimeout bounds one Redis round trip, so a hung Redis delays an
	// identify by at most this before the local fallback takes over.
	opTimeout = 2 * time.Second
	// probeAfter is how long the limiter stays local after a Redis error
	// before trying Redis again.
	probeAfter = time.Second
	// noTTLRetry is the pause after repairing a lock that had no expiry.
	noTTLRetry = 50 * time.Millisecond
	// ContendedGuard is added to the wait for a lock another holder has:
	// the lock lives 5 s from when its holder took it, but the holder's
	// IDENTIFY reaches Discord a little later (see state.IdentifyGuard).
	ContendedGuard = state.IdentifyGuard
)

// Limiter is an IdentifyLimiter shared by every process using the same bot
// and Redis. Within the process it is a state.LocalLimiter (FIFO per bucket,
// 5 s pacing, start limit); the shard at the head of a bucket then takes one
// start from the daily limit all clusters share (StartLimitKey) and the
// bucket's Redis lock, SET NX PX 5000, waiting the lock's PTTL (plus
// ContendedGuard) while another cluster holds it.
type Limiter struct {
	client   redis.UniversalClient
	clk      clock.Clock
	logger   *slog.Logger
	local    *state.LocalLimiter
	keys     []string // lock key per bucket
	startKey string
	owner    string // lock values: owner + counter, unique across clusters
	count    atomic.Uint64

	warn      *throttle.Limiter // Redis unavailable
	startWarn *throttle.Limiter // shared start limit used up
	mu        sync.Mutex
	down      bool      // last Redis call failed
	downUntil time.Time // skip Redis until then
}

var _ state.IdentifyLimiter = (*Limiter)(nil)

// NewLimiter returns a limiter for the bot botID (see BotID).
func NewLimiter(client redis.UniversalClient, botID string, limit state.StartLimit, clk clock.Clock, logger *slog.Logger) *Limiter {
	local := state.NewLocalLimiter(clk, limit)
	mc := local.MaxConcurrency()
	keys := make([]string, mc)
	for b := range keys {
		keys[b] = IdentifyKey(botID, mc, b)
	}
	var id [8]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	return &Limiter{
		client:    client,
		clk:       clk,
		logger:    orDiscard(logger),
		local:     local,
		keys:      keys,
		startKey:  StartLimitKey(botID),
		owner:     hex.EncodeToString(id[:]),
		warn:      throttle.New(clk, logEvery),
		startWarn: throttle.New(clk, logEvery),
	}
}

// Acquire returns when shardID may send IDENTIFY, or ctx's error.
func (l *Limiter) Acquire(ctx context.Context, shardID int) error {
	return l.local.AcquireWith(ctx, shardID, l.lockBucket)
}

// lockBucket takes the bucket's Redis lock, then a start from the daily
// limit all clusters share; with none left it waits for the limit's reset
// and takes the lock again (it expires in 5 s). Taking the start last means
// an identify abandoned while waiting for the lock has used none. It never
// fails for Redis reasons: then the local pacing and start limit, already
// applied, are the limit.
func (l *Limiter) lockBucket(ctx context.Context, bucket int) error {
	first := l.local.StartLimit()
	for {
		if err := l.lock(ctx, bucket); err != nil {
			return err
		}
		if !first.Known {
			return nil
		}
		wait, err := l.takeStart(ctx, first.Period)
		if err != nil || wait == 0 {
			return err
		}
		if err := clock.Sleep(ctx, l.clk, wait); err != nil {
			return err
		}
	}
}

// lock takes the bucket's Redis lock, waiting while another cluster holds
// it; nil without the lock when Redis fails.
func (l *Limiter) lock(ctx context.Context, bucket int) error {
	key := l.keys[bucket]
	value := l.owner + ":" + strconv.FormatUint(l.count.Add(1), 10)
	for {
		if l.skipRedis() {
			return nil
		}
		ok, pttl, err := l.trySet(ctx, key, value)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			l.markDown(err)
			return nil
		}
		l.markUp()
		if ok {
			return nil
		}
		var wait time.Duration
		switch pttl {
		case -2: // expired between SET and PTTL: its holder identified 5 s ago
			wait = ContendedGuard
		case -1:
			// A lock without expiry would block the bucket forever; it
			// is not ours, so give it the lifetime a lock has.
			l.repair(ctx, key, state.IdentifyInterval, "identify lock")
			wait = noTTLRetry
		default:
			// PTTL 0 means under a millisecond left: don't spin on it.
			wait = max(time.Duration(pttl)*time.Millisecond, time.Millisecond) + ContendedGuard
		}
		if err := clock.Sleep(ctx, l.clk, wait); err != nil {
			return err
		}
	}
}

// trySet sends SET NX PX and PTTL in one round trip: if the SET fails, the
// PTTL says how long the holder keeps the bucket.
func (l *Limiter) trySet(ctx context.Context, key, value string) (bool, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	pipe := l.client.Pipeline()
	set := pipe.Do(ctx, "set", key, value, "nx", "px", state.IdentifyInterval.Milliseconds())
	pttl := pipe.Do(ctx, "pttl", key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, 0, fmt.Errorf("identify lock %s: %w", key, err)
	}
	if err := set.Err(); errors.Is(err, redis.Nil) {
		ms, err := pttl.Int64()
		if err != nil {
			return false, 0, fmt.Errorf("identify lock %s: PTTL: %w", key, err)
		}
		return false, ms, nil
	} else if err != nil {
		return false, 0, fmt.Errorf("identify lock %s: %w", key, err)
	}
	return true, 0, nil
}

// repair gives key, which has no expiry and would block every cluster for
// good, the lifetime ttl; what names the key in the warning.
func (l *Limiter) repair(ctx context.Context, key string, ttl time.Duration, what string) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := l.client.PExpire(ctx, key, ttl).Err(); err != nil {
		l.markDown(err)
		return
	}
	l.logger.Warn("redis "+what+" had no expiry; gave it one", "key", key, "ttl", ttl)
}

func (l *Limiter) skipRedis() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.down && l.clk.Now().Before(l.downUntil)
}

func (l *Limiter) markDown(err error) {
	l.mu.Lock()
	l.down = true
	l.downUntil = l.clk.Now().Add(probeAfter)
	l.mu.Unlock()
	if ok, n := l.warn.Allow(); ok {
		l.logger.Warn("redis unavailable: identify limits fall back to this process only",
			"error", err, "suppressed", n)
	}
}

func (l *Limiter) markUp() {
	l.mu.Lock()
	was := l.down
	l.down = false
	l.mu.Unlock()
	if was {
		l.warn.Reset()
		l.logger.Info("redis reachable again: identify limits shared across clusters")
	}
}

// takeStartScript takes one start from the shared daily limit. KEYS[1] is
// the counter; when it does not exist (first cluster, or the period ended)
// it is created from ARGV[1] (this process's count) expiring after ARGV[2]
// ms (this process's reset). Returns {1, left} or, when none is left,
// {0, PTTL}.
var takeStartScript = redis.NewScript(`
local v = redis.call('get', KEYS[1])
if not v then
	redis.call('set', KEYS[1], ARGV[1], 'px', ARGV[2])
	v = ARGV[1]
end
local n = tonumber(v)
if n and n > 0 then
	return {1, redis.call('decr', KEYS[1])}
end
return {0, redis.call('pttl', KEYS[1])}
`)

// takeStart takes one start from the daily limit all clusters share, or
// says how long until it resets (0: taken, or Redis failed and the local
// limit applies). Each cluster's own count comes from GET /gateway/bot at
// its start, so clusters starting together would each spend all of it, and
// Discord resets a bot's token when the limit is exceeded. period is the
// local limit's period when this identify took its local start.
func (l *Limiter) takeStart(ctx context.Context, period uint64) (time.Duration, error) {
	if l.skipRedis() {
		return 0, nil
	}
	v := l.local.StartLimit()
	seed := v.Remaining
	if v.Period == period {
		seed++ // the local count already includes this identify
	}
	ttl := max(v.ResetAt.Sub(l.clk.Now()), time.Millisecond)
	ok, n, err := l.tryStart(ctx, seed, ttl)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		l.markDown(err)
		return 0, nil
	}
	l.markUp()
	switch {
	case ok:
		return 0, nil
	case n < 0: // no expiry: it would block every cluster for good
		l.repair(ctx, l.startKey, ttl, "session start counter") // ttl: this cluster's reset
		return noTTLRetry, nil
	}
	wait := max(time.Duration(n)*time.Millisecond, time.Millisecond)
	if ok, _ := l.startWarn.Allow(); ok {
		l.logger.Warn("daily session start limit used up by the clusters sharing this bot; waiting for its reset",
			"wait", wait)
	}
	return wait, nil
}

// tryStart runs takeStartScript: ok and the starts left, or !ok and the
// counter's PTTL in ms.
func (l *Limiter) tryStart(ctx context.Context, seed int, ttl time.Duration) (bool, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	res, err := takeStartScript.Run(ctx, l.client, []string{l.startKey}, seed, ttl.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("session start limit %s: %w", l.startKey, err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("session start limit %s: script returned %v", l.startKey, res)
	}
	return res[0] == 1, res[1], nil
}
