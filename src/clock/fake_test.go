package clock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func fired(t Timer) bool {
	select {
	case <-t.C():
		return true
	default:
		return false
	}
}

func TestFakeTimersFireOnlyWhenTimeReachesThem(t *testing.T) {
	f := NewFake(time.Unix(100, 0))
	a, b := f.NewTimer(time.Second), f.NewTimer(3*time.Second)
	f.Advance(999 * time.Millisecond)
	assert.False(t, fired(a))
	f.Advance(time.Millisecond)
	assert.True(t, fired(a))
	assert.False(t, fired(b))
	f.Advance(5 * time.Second)
	assert.True(t, fired(b))
	assert.Equal(t, time.Unix(106, 0), f.Now())
}

func TestFakeStopAndReset(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	tm := f.NewTimer(time.Second)
	assert.True(t, tm.Stop(), "stopping an armed timer reports true")
	f.Advance(2 * time.Second)
	assert.False(t, fired(tm))
	assert.False(t, tm.Reset(time.Second), "reset of a stopped timer reports false")
	assert.Equal(t, 1, f.Pending())
	f.Advance(time.Second)
	assert.True(t, fired(tm))
	assert.Zero(t, f.Pending())
}

func TestBlockUntilTimerWaitsForThatDeadline(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	f.NewTimer(time.Hour)
	done := make(chan struct{})
	go func() {
		f.BlockUntilTimer(5 * time.Second)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("returned before a 5 s timer existed")
	case <-time.After(20 * time.Millisecond):
	}
	f.NewTimer(5 * time.Second)
	<-done
}

func TestAwaitTimerGivesUpAndSaysWhatWasArmed(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	f.NewTimer(3 * time.Second)
	giveUp := make(chan time.Time, 1)
	giveUp <- time.Time{}
	err := f.AwaitTimer(5*time.Second, giveUp)
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), "no timer due in 5s; armed: [3s]")
	}
	assert.NoError(t, f.AwaitTimer(3*time.Second, giveUp), "an armed timer is found even when giving up is due")
}

func TestSleepEndsWithContextOrClock(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error)
	go func() { errs <- Sleep(ctx, f, time.Minute) }()
	f.BlockUntil(1)
	f.Advance(time.Minute)
	assert.NoError(t, <-errs)
	go func() { errs <- Sleep(ctx, f, time.Minute) }()
	f.BlockUntil(1)
	cancel()
	assert.ErrorIs(t, <-errs, context.Canceled)
	assert.NoError(t, Sleep(context.Background(), Real(), 0))
}

// A wait for a timer that is never armed fails (naming the wait and what
// is armed) instead of hanging the test.
func TestFakeBlockingWaitsHaveADeadline(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	f.limit = 20 * time.Millisecond
	f.NewTimer(3 * time.Second)
	for name, wait := range map[string]func(){
		"BlockUntilTimer": func() { f.BlockUntilTimer(time.Second) },
		"BlockUntil":      func() { f.BlockUntil(2) },
	} {
		t.Run(name, func(t *testing.T) {
			done := make(chan any)
			go func() {
				defer func() { done <- recover() }()
				wait()
			}()
			select {
			case r := <-done:
				assert.Contains(t, r, "clock.Fake."+name)
				assert.Contains(t, r, "armed: [3s]")
			case <-time.After(5 * time.Second):
				t.Fatal("still waiting after 5 s")
			}
		})
	}
	assert.Error(t, f.AwaitTimers(2, time.After(10*time.Millisecond)))
	assert.NoError(t, f.AwaitTimers(1, time.After(10*time.Millisecond)))
}
