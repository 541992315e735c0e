// Package backoff computes the waits between retries, shared by everything
// that reconnects (shards, RabbitMQ, Discord's REST API).
package backoff

import "time"

// Delay is the wait before retry number attempt (0 for the first retry):
// jittered exponential within [min, max]. Retry n waits between min·2ⁿ and
// min·2ⁿ⁺¹, the upper end capped at max (so the last range is [max/2, max)),
// placed by jitter in [0, 1): many gateways that lost the same peer do not
// come back in lockstep, and none retries sooner than min.
func Delay(min, max time.Duration, attempt int, jitter float64) time.Duration {
	hi := max
	if attempt >= 0 && attempt < 62 {
		if e := min << (attempt + 1); e > 0 && e < max {
			hi = e
		}
	}
	lo := hi / 2
	if lo < min {
		lo = min
	}
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(jitter*float64(hi-lo))
}
