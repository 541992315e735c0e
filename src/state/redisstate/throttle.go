package redisstate

import (
	"sync"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
)

// logEvery is the minimum spacing of repeated warnings about Redis, so an
// outage produces a few lines instead of one per attempt.
const logEvery = 30 * time.Second

// throttle lets an event through at most once per interval and counts the
// ones it held back.
type throttle struct {
	clk      clock.Clock
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether to log now and how many events were held back
// since the last one logged.
func (t *throttle) allow() (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clk.Now()
	if !t.last.IsZero() && now.Sub(t.last) < t.interval {
		t.suppressed++
		return false, 0
	}
	n := t.suppressed
	t.last, t.suppressed = now, 0
	return true, n
}

// reset makes the next event log at once (after a recovery).
func (t *throttle) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last, t.suppressed = time.Time{}, 0
}
