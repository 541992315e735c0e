package state

import (
	"context"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
)

// LocalLimiter is the in-process IdentifyLimiter: one identify per bucket
// per IdentifyInterval, buckets in parallel, FIFO within a bucket, and the
// daily session start limit.
type LocalLimiter struct {
	clk            clock.Clock
	maxConcurrency int
	buckets        []bucket
	gate           *startGate
}

var _ IdentifyLimiter = (*LocalLimiter)(nil)

// NewLocalLimiter returns a limiter for limit; the start limit's ResetAfter
// counts from now.
func NewLocalLimiter(clk clock.Clock, limit StartLimit) *LocalLimiter {
	mc := max(limit.MaxConcurrency, 1)
	return &LocalLimiter{
		clk:            clk,
		maxConcurrency: mc,
		buckets:        make([]bucket, mc),
		gate:           newStartGate(clk, limit),
	}
}

// MaxConcurrency is the number of buckets (at least 1).
func (l *LocalLimiter) MaxConcurrency() int { return l.maxConcurrency }

// StartsRemaining reports the identifies left before the daily limit and
// when it resets.
func (l *LocalLimiter) StartsRemaining() (int, time.Time) { return l.gate.snapshot() }

// StartLimit reports the daily start limit as this process sees it. The
// Redis limiter shares it across clusters from there.
func (l *LocalLimiter) StartLimit() StartView { return l.gate.view() }

// Acquire returns when shardID may send IDENTIFY, or ctx's error. A
// cancelled call uses no slot.
func (l *LocalLimiter) Acquire(ctx context.Context, shardID int) error {
	return l.AcquireWith(ctx, shardID, nil)
}

// AcquireWith is Acquire with an extra step run while the shard holds its
// bucket's turn, after the local pacing and the start limit: the Redis
// limiter takes its cross-process lock there. If hold fails, nothing is
// consumed and its error is returned.
func (l *LocalLimiter) AcquireWith(ctx context.Context, shardID int, hold func(ctx context.Context, bucket int) error) error {
	idx := Bucket(shardID, l.maxConcurrency)
	b := &l.buckets[idx]
	w := b.enter()
	defer b.leave(w)

	select {
	case <-w.turn:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := clock.Sleep(ctx, l.clk, b.nextAt().Sub(l.clk.Now())); err != nil {
		return err
	}
	// The start limit comes before hold so that a cross-process lock is
	// never held through a long daily-limit wait.
	epoch, err := l.gate.take(ctx)
	if err != nil {
		return err
	}
	if hold != nil {
		if err := hold(ctx, idx); err != nil {
			l.gate.refund(epoch)
			return err
		}
	}
	b.setNext(l.clk.Now().Add(IdentifyInterval + IdentifyGuard))
	return nil
}

// waiting reports how many shards are queued in bucket idx (tests).
func (l *LocalLimiter) waiting(idx int) int { return l.buckets[idx].waiting() }
