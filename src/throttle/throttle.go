// Package throttle spaces out repeated log lines (or any costly action):
// one is let through per interval and the ones held back are counted, so
// the next line can say how many there were.
package throttle

import (
	"sync"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
)

// Limiter lets one event through per interval and counts the ones it
// holds back. Safe for concurrent use.
type Limiter struct {
	clk   clock.Clock
	every time.Duration

	mu       sync.Mutex
	last     time.Time // when the last event was let through
	heldBack int
}

// New returns a limiter that lets an event through at most once per every.
func New(clk clock.Clock, every time.Duration) *Limiter {
	return &Limiter{clk: clk, every: every}
}

// Allow reports whether to let an event through now and, if so, how many
// were held back since the last one let through.
func (l *Limiter) Allow() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.heldBack++
		return false, 0
	}
	n := l.heldBack
	l.last, l.heldBack = now, 0
	return true, n
}

// Reset lets the next event through at once and forgets the held-back
// count (after a recovery, say).
func (l *Limiter) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last, l.heldBack = time.Time{}, 0
}

// Flush takes the held-back count if the interval since the last event let
// through has passed, starting a new interval, so a burst that then stops
// is still reported; otherwise it returns 0.
func (l *Limiter) Flush() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	if l.heldBack == 0 || now.Sub(l.last) < l.every {
		return 0
	}
	n := l.heldBack
	l.last, l.heldBack = now, 0
	return n
}
