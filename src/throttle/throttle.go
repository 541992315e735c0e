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
	clk     clock.Clock
	every   time.Duration
	summary func(heldBack int) // nil: the count waits for the next event

	mu        sync.Mutex
	last      time.Time // when the last event (or summary) was let through
	heldBack  int
	scheduled bool // a summary is due when the interval ends
}

// New returns a limiter that lets an event through at most once per every.
// What it holds back is reported by the next event let through.
func New(clk clock.Clock, every time.Duration) *Limiter {
	return &Limiter{clk: clk, every: every}
}

// NewSummarizing is New that also reports the held-back count when an
// interval ends with events held back, even if no event follows: summary
// is called with the count (then a new interval starts), from a goroutine
// of the limiter's that ends with the interval. summary runs with the
// limiter locked, so an event let through never comes before the summary
// of the ones held back ahead of it; it must not use the limiter.
func NewSummarizing(clk clock.Clock, every time.Duration, summary func(heldBack int)) *Limiter {
	return &Limiter{clk: clk, every: every, summary: summary}
}

// Allow reports whether to let an event through now and, if so, how many
// were held back since the last one let through.
func (l *Limiter) Allow() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.heldBack++
		if l.summary != nil && !l.scheduled {
			l.scheduleLocked(l.last.Add(l.every).Sub(now))
		}
		return false, 0
	}
	n := l.heldBack
	l.last, l.heldBack = now, 0
	return true, n
}

func (l *Limiter) scheduleLocked(d time.Duration) {
	l.scheduled = true
	t := l.clk.NewTimer(d)
	go func() { // ends when the interval does, at most every from now
		<-t.C()
		l.summarize()
	}()
}

// summarize reports the events held back in the interval that just ended.
func (l *Limiter) summarize() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.scheduled = false
	if l.heldBack == 0 {
		return // an event let through since has reported them
	}
	now := l.clk.Now()
	if wait := l.last.Add(l.every).Sub(now); wait > 0 {
		// An event let through started a new interval, and more were
		// held back in it: report them when it ends.
		l.scheduleLocked(wait)
		return
	}
	n := l.heldBack
	l.last, l.heldBack = now, 0
	l.summary(n)
}

// Reset lets the next event through at once and forgets the held-back
// count (after a recovery, say).
func (l *Limiter) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last, l.heldBack = time.Time{}, 0
}
