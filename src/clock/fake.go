package clock

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Fake is a manually advanced clock for deterministic tests.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed chan struct{} // closed and replaced whenever the set of timers changes
	limit   time.Duration // BlockLimit when 0; shorter in this package's tests
}

// NewFake returns a fake clock starting at start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer creates a timer that fires when the clock is advanced past d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	f.armLocked(t, d)
	return t
}

// Advance moves time forward by d, firing due timers in deadline order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	end := f.now.Add(d)
	for {
		sort.Slice(f.timers, func(i, j int) bool { return f.timers[i].when.Before(f.timers[j].when) })
		if len(f.timers) == 0 || f.timers[0].when.After(end) {
			break
		}
		t := f.timers[0]
		f.timers = f.timers[1:]
		if t.when.After(f.now) {
			f.now = t.when
		}
		t.active = false
		select {
		case t.c <- f.now:
		default:
		}
	}
	f.now = end
	f.notifyLocked()
}

// Pending reports how many timers are armed.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// BlockLimit bounds BlockUntil and BlockUntilTimer in wall-clock time: code
// that never arms the awaited timer makes them panic, naming the wait and
// the timers armed, instead of hanging the test until go test's timeout.
// Tests that want a failure of their own use AwaitTimer.
const BlockLimit = time.Minute

// BlockUntil waits until at least n timers are armed, so a test can advance
// time only once the code under test is really waiting. It panics after
// BlockLimit.
func (f *Fake) BlockUntil(n int) {
	if err := f.awaitTimers(n, time.After(f.blockLimit())); err != nil {
		panic("clock.Fake.BlockUntil: " + err.Error())
	}
}

// AwaitTimers is BlockUntil that gives up (with an error naming the timers
// armed) when giveUp delivers.
func (f *Fake) AwaitTimers(n int, giveUp <-chan time.Time) error {
	return f.awaitTimers(n, giveUp)
}

func (f *Fake) awaitTimers(n int, giveUp <-chan time.Time) error {
	for {
		f.mu.Lock()
		if len(f.timers) >= n {
			f.mu.Unlock()
			return nil
		}
		waits := f.waitsLocked()
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-giveUp:
			return fmt.Errorf("%d timers never armed; armed: %v", n, waits)
		}
	}
}

// BlockUntilTimer waits until a timer due exactly d from now is armed:
// tests advance time only once the code under test waits for that long.
// It panics after BlockLimit.
func (f *Fake) BlockUntilTimer(d time.Duration) {
	if err := f.AwaitTimer(d, time.After(f.blockLimit())); err != nil {
		panic("clock.Fake.BlockUntilTimer: " + err.Error())
	}
}

func (f *Fake) blockLimit() time.Duration {
	if f.limit > 0 {
		return f.limit
	}
	return BlockLimit
}

func (f *Fake) waitsLocked() []time.Duration {
	waits := make([]time.Duration, 0, len(f.timers))
	for _, t := range f.timers {
		waits = append(waits, t.when.Sub(f.now))
	}
	return waits
}

// AwaitTimer is BlockUntilTimer that gives up when giveUp delivers (a
// wall-clock time.After in tests), so code that waits for some other time
// fails the test instead of hanging it. The error lists the waits armed.
func (f *Fake) AwaitTimer(d time.Duration, giveUp <-chan time.Time) error {
	for {
		f.mu.Lock()
		due := f.now.Add(d)
		waits := make([]time.Duration, 0, len(f.timers))
		for _, t := range f.timers {
			if t.when.Equal(due) {
				f.mu.Unlock()
				return nil
			}
			waits = append(waits, t.when.Sub(f.now))
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-giveUp:
			return fmt.Errorf("no timer due in %v; armed: %v", d, waits)
		}
	}
}

func (f *Fake) armLocked(t *fakeTimer, d time.Duration) {
	t.when = f.now.Add(d)
	t.active = true
	f.timers = append(f.timers, t)
	f.notifyLocked()
	if d <= 0 {
		f.removeLocked(t)
		t.active = false
		select {
		case t.c <- f.now:
		default:
		}
	}
}

func (f *Fake) removeLocked(t *fakeTimer) bool {
	for i, x := range f.timers {
		if x == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			f.notifyLocked()
			return true
		}
	}
	return false
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

type fakeTimer struct {
	f      *Fake
	c      chan time.Time
	when   time.Time
	active bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.active
	t.active = false
	t.f.removeLocked(t)
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.active
	t.f.removeLocked(t)
	t.f.armLocked(t, d)
	return was
}
