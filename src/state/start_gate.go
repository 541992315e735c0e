package state

import (
	"context"
	"sync"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
)

// startResetPeriod is how often Discord refills session_start_limit.
const startResetPeriod = 24 * time.Hour

// startGate enforces session_start_limit: every identify uses one of
// remaining; at resetAt remaining becomes total again and the next reset is
// a day later. Shared by all buckets of a limiter.
type startGate struct {
	clk clock.Clock

	mu        sync.Mutex
	total     int
	remaining int
	resetAt   time.Time
	epoch     uint64 // bumped on every reset, so a late refund cannot overfill
	unlimited bool
}

func newStartGate(clk clock.Clock, limit StartLimit) *startGate {
	return &startGate{
		clk:       clk,
		total:     limit.Total,
		remaining: max(limit.Remaining, 0),
		resetAt:   clk.Now().Add(max(limit.ResetAfter, 0)),
		// A zero StartLimit means Discord's numbers are unknown (tests, or a
		// caller without /gateway/bot): only the bucket pacing applies.
		unlimited: limit.Total <= 0 && limit.Remaining <= 0 && limit.ResetAfter <= 0,
	}
}

// take waits until an identify may use the daily limit and uses one slot.
// The returned epoch lets refund give the slot back if the identify is
// abandoned before being sent.
func (g *startGate) take(ctx context.Context) (uint64, error) {
	for {
		g.mu.Lock()
		now := g.clk.Now()
		if !now.Before(g.resetAt) {
			g.resetLocked(now)
		}
		if g.unlimited || g.remaining > 0 {
			if !g.unlimited {
				g.remaining--
			}
			epoch := g.epoch
			g.mu.Unlock()
			return epoch, nil
		}
		wait := g.resetAt.Sub(now)
		g.mu.Unlock()
		if err := clock.Sleep(ctx, g.clk, wait); err != nil {
			return 0, err
		}
	}
}

// refund returns a slot taken in the same reset period.
func (g *startGate) refund(epoch uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if epoch == g.epoch && !g.unlimited {
		g.remaining++
	}
}

// resetLocked refills the limit; a Total of 0 means Discord gave no total,
// so after the first reset the daily limit is no longer enforced.
func (g *startGate) resetLocked(now time.Time) {
	g.epoch++
	if g.total <= 0 {
		g.unlimited = true
		return
	}
	g.remaining = g.total
	for !now.Before(g.resetAt) {
		g.resetAt = g.resetAt.Add(startResetPeriod)
	}
}

// snapshot reports the remaining starts and the next reset.
func (g *startGate) snapshot() (remaining int, resetAt time.Time) {
	v := g.view()
	return v.Remaining, v.ResetAt
}

// StartView is the daily start limit as one process sees it.
type StartView struct {
	Known     bool      // false: Discord gave no limit, only bucket pacing applies
	Remaining int       // starts left in this period
	ResetAt   time.Time // when the period ends
	Period    uint64    // changes at every reset
}

// view returns the current limit, applying a reset that is due.
func (g *startGate) view() StartView {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := g.clk.Now(); !now.Before(g.resetAt) && !g.unlimited {
		g.resetLocked(now)
	}
	return StartView{Known: !g.unlimited, Remaining: g.remaining, ResetAt: g.resetAt, Period: g.epoch}
}
