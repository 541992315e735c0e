package backoff

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDelayDoublesUpToTheCapWithJitter(t *testing.T) {
	tests := []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{0, 0, 500 * time.Millisecond},
		{0, 0.999999, time.Second - time.Microsecond/2},
		{1, 0, time.Second},
		{2, 0.5, 3 * time.Second},
		{5, 0, 15 * time.Second},   // 32 s capped at 30 s
		{100, 0, 15 * time.Second}, // no overflow
		{-1, 0, 15 * time.Second},
	}
	for _, tt := range tests {
		got := Delay(time.Second, 30*time.Second, tt.attempt, tt.jitter)
		assert.InDelta(t, float64(tt.want), float64(got), float64(time.Microsecond), "attempt %d jitter %v", tt.attempt, tt.jitter)
		assert.Less(t, got, 30*time.Second+1)
	}
}
