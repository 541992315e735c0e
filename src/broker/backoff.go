package broker

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is a capped exponential delay with jitter: attempt n waits a random duration
// in [d/2, d], d = min(max, min*2^n), so that a fleet of gateways that lost the same broker
// does not come back in lockstep.
type backoff struct {
	min, max time.Duration
	attempt  int
}

func (b *backoff) next() time.Duration {
	d := b.max
	if b.attempt < 32 {
		if e := b.min << b.attempt; e > 0 && e < b.max {
			d = e
		}
	}
	b.attempt++
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleepCtx waits d or until ctx ends, reporting whether the full wait happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
