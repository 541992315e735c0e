package discordapi

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cordis-gateway/cordis/src/backoff"
)

const (
	minBackoff    = time.Second
	maxBackoff    = 30 * time.Second
	maxRetryAfter = time.Hour // a longer ask is a misreading, not a plan

	// min429Wait and max429Wait bound the floor under a 429's wait: it
	// starts at 1 s and doubles on every 429 in a row up to 60 s, whatever
	// retry_after says, so a server asking for 1 ms (or nothing) cannot
	// drive a hot loop; Discord bans clients that hammer it. A larger
	// retry_after is always honoured.
	min429Wait = time.Second
	max429Wait = 60 * time.Second

	// warnEvery spaces repeated retry warnings; each logged one says how
	// many were held back.
	warnEvery = 30 * time.Second
)

// retryable marks a failure worth another attempt; after is how long
// Discord asked us to wait (0: use the backoff). limited marks a 429,
// global Discord's global rate limit.
type retryable struct {
	err     error
	after   time.Duration
	limited bool
	global  bool
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// retryDelay is the wait after the n-th consecutive failure (n from 0):
// 1 s doubling up to 30 s, jittered.
func retryDelay(n int, jitter float64) time.Duration {
	return backoff.Delay(minBackoff, maxBackoff, n, jitter)
}

// rateLimitDelay is the wait after the n-th 429 (n from 0) when Discord
// asked for after: a floor from 1 s doubling per 429 up to 60 s (jittered
// like retryDelay), or what Discord asked for if that is longer.
func rateLimitDelay(n int, jitter float64, after time.Duration) time.Duration {
	return max(after, backoff.Delay(min429Wait, max429Wait, n, jitter))
}

// retryAfter reads how long a 429 asks to wait: the body's retry_after
// (float seconds, more precise) or else the Retry-After header (seconds);
// 0 means neither said. global reports Discord's global flag (body or
// X-RateLimit-Global): the whole bot is limited, so no hint may be
// undercut and the longest of them is taken.
func retryAfter(h http.Header, body []byte) (after time.Duration, global bool) {
	var rl struct {
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	var fromBody, fromHeader time.Duration
	if json.Unmarshal(body, &rl) == nil {
		fromBody = seconds(rl.RetryAfter)
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			fromHeader = seconds(f)
		}
	}
	global = rl.Global || strings.EqualFold(strings.TrimSpace(h.Get("X-RateLimit-Global")), "true")
	switch {
	case global:
		return max(fromBody, fromHeader), true
	case fromBody > 0:
		return fromBody, false
	}
	return fromHeader, false
}

func seconds(f float64) time.Duration {
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f >= maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	return time.Duration(f * float64(time.Second))
}
