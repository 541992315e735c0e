package broker

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/cordis-gateway/cordis/src/backoff"
	"github.com/cordis-gateway/cordis/src/clock"
)

// reconnectBackoff counts consecutive attempts and hands out capped,
// jittered exponential waits (backoff.Delay) so that a fleet of gateways
// that lost the same broker does not come back in lockstep.
type reconnectBackoff struct {
	min, max time.Duration
	attempt  int
}

func (b *reconnectBackoff) next() time.Duration {
	d := backoff.Delay(b.min, b.max, b.attempt, rand.Float64())
	b.attempt++
	return d
}

// sleepCtx waits d or until ctx ends, reporting whether the full wait happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	return clock.Sleep(ctx, clock.Real(), d) == nil
}
