package backoff

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDelayDoublesWithinMinAndMaxWithJitter(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		attempt  int
		jitter   float64
		want     time.Duration
	}{
		{"first retry never sooner than min", time.Second, 30 * time.Second, 0, 0, time.Second},
		{"first retry below 2·min", time.Second, 30 * time.Second, 0, 0.999999, 2*time.Second - time.Microsecond},
		{"second retry from 2·min", time.Second, 30 * time.Second, 1, 0, 2 * time.Second},
		{"jitter places within the range", time.Second, 30 * time.Second, 2, 0.5, 6 * time.Second},
		{"capped range is [max/2, max)", time.Second, 30 * time.Second, 5, 0, 15 * time.Second},
		{"capped range top", time.Second, 30 * time.Second, 5, 0.999999, 30*time.Second - 15*time.Microsecond},
		{"no overflow", time.Second, 30 * time.Second, 100, 0, 15 * time.Second},
		{"negative attempt is capped", time.Second, 30 * time.Second, -1, 0, 15 * time.Second},
		{"max below 2·min keeps min", time.Second, 1500 * time.Millisecond, 3, 0, time.Second},
		{"max equal to min is fixed", time.Second, time.Second, 0, 0.7, time.Second},
		{"shard range capped at 60 s", time.Second, 60 * time.Second, 10, 0.999999, 60*time.Second - 30*time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Delay(tt.min, tt.max, tt.attempt, tt.jitter)
			assert.InDelta(t, float64(tt.want), float64(got), float64(time.Microsecond))
			assert.GreaterOrEqual(t, got, tt.min)
			assert.LessOrEqual(t, got, tt.max)
		})
	}
}
