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
