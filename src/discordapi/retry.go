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
)

// retryable marks a failure worth another attempt; after is how long
// Discord asked us to wait (0: use the backoff).
type retryable struct {
	err   error
	after time.Duration
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// retryDelay is the wait after the n-th consecutive failure (n from 0):
// 1 s doubling up to 30 s, jittered.
func retryDelay(n int, jitter float64) time.Duration {
	return backoff.Delay(minBackoff, maxBackoff, n, jitter)
}

// retryAfter reads how long a 429 asks to wait: the body's retry_after
// (float seconds, more precise) or else the Retry-After header (seconds).
// 0 means neither said.
func retryAfter(h http.Header, body []byte) time.Duration {
	var rl struct {
		RetryAfter float64 `json:"retry_after"`
	}
	if json.Unmarshal(body, &rl) == nil {
		if d := seconds(rl.RetryAfter); d > 0 {
			return d
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return seconds(f)
		}
	}
	return 0
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
