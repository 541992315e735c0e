package throttle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cordis-gateway/cordis/src/clock"
)

func TestOneEventPerIntervalAndTheNextSaysHowManyWereHeldBack(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	l := New(clk, 10*time.Second)
	steps := []struct {
		advance  time.Duration
		ok       bool
		heldBack int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{time.Second, false, 0},
		{8*time.Second - time.Nanosecond, false, 0},
		{time.Nanosecond, true, 3}, // 10 s after the first
		{10 * time.Second, true, 0},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		ok, n := l.Allow()
		assert.Equal(t, st.ok, ok, "step %d", i)
		assert.Equal(t, st.heldBack, n, "step %d", i)
	}
}

func TestResetLetsTheNextEventThroughAndForgetsTheCount(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	l := New(clk, 10*time.Second)
	l.Allow()
	l.Allow()
	l.Reset()
	ok, n := l.Allow()
	assert.True(t, ok)
	assert.Zero(t, n)
}

func TestHeldBackEventsAreSummarizedWhenTheIntervalEndsEvenIfNoneFollows(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	summaries := make(chan int, 10)
	l := NewSummarizing(clk, 10*time.Second, func(n int) { summaries <- n })
	l.Allow()
	for range 3 {
		l.Allow()
	}
	clk.Advance(10*time.Second - time.Nanosecond)
	select {
	case n := <-summaries:
		t.Fatalf("summary of %d before the interval ended", n)
	case <-time.After(50 * time.Millisecond):
	}
	clk.Advance(time.Nanosecond)
	select {
	case n := <-summaries:
		assert.Equal(t, 3, n)
	case <-time.After(10 * time.Second):
		t.Fatal("no summary when the interval ended")
	}
	ok, n := l.Allow()
	assert.False(t, ok, "the summary starts a new interval")
	assert.Zero(t, n)
}

func TestAnEventLetThroughReportsTheHeldBackCountOnlyOnce(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	summaries := make(chan int, 10)
	l := NewSummarizing(clk, 10*time.Second, func(n int) { summaries <- n })
	l.Allow()
	l.Allow()
	l.Allow()
	// The next event and the end of the interval come at once: whichever
	// wins reports the 2, never both.
	clk.Advance(10 * time.Second)
	ok, n := l.Allow()
	var summarized int
	select {
	case summarized = <-summaries:
	case <-time.After(100 * time.Millisecond):
	}
	assert.Equal(t, 2, n+summarized, "let through %v", ok)
	// A held-back event in the interval that started then is summarized
	// when that interval ends (with the one above if the summary won).
	want := 1
	if !ok {
		want = 2
	}
	l.Allow()
	clk.Advance(10 * time.Second)
	select {
	case s := <-summaries:
		assert.Equal(t, want, s)
	case <-time.After(10 * time.Second):
		t.Fatal("no summary of the next interval")
	}
}
