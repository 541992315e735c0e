// Package backoff computes the waits between retries, shared by everything
// that reconnects (shards, RabbitMQ, Discord's REST API).
package backoff

import "time"

// Delay is the wait before retry number attempt (0 for the first retry):
// min doubling up to max, then scaled into [d/2, d) by jitter in [0, 1), so
// that many gateways that lost the same peer do not come back in lockstep.
func Delay(min, max time.Duration, attempt int, jitter float64) time.Duration {
	d := max
	if attempt >= 0 && attempt < 62 {
		if e := min << attempt; e > 0 && e < max {
			d = e
		}
	}
	return d/2 + time.Duration(jitter*float64(d/2))
}
