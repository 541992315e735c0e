package discordapi

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoffIsCappedAndJittered(t *testing.T) {
	for _, tc := range []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{0, 0, time.Second},
		{0, 0.999999999, 2*time.Second - time.Nanosecond},
		{1, 0, 2 * time.Second},
		{3, 0.5, 12 * time.Second},
		{4, 0, 15 * time.Second},
		{5, 0, 15 * time.Second},
		{5, 0.999999999, 30*time.Second - 15*time.Nanosecond},
		{63, 0.5, 22500 * time.Millisecond},
		{1000, 0.5, 22500 * time.Millisecond},
	} {
		got := retryDelay(tc.n, tc.jitter)
		if got < tc.want-20*time.Nanosecond || got > tc.want {
			t.Errorf("retryDelay(%d, %v) = %v, want %v", tc.n, tc.jitter, got, tc.want)
		}
		if got > maxBackoff {
			t.Errorf("retryDelay(%d) = %v exceeds %v", tc.n, got, maxBackoff)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		body   string
		want   time.Duration
		global bool
	}{
		{"body float seconds", "", `{"retry_after": 1.25}`, 1250 * time.Millisecond, false},
		{"body wins", "9", `{"retry_after": 0.5}`, 500 * time.Millisecond, false},
		{"global takes the longest", "9", `{"retry_after": 0.5, "global": true}`, 9 * time.Second, true},
		{"global body is longest", "1", `{"retry_after": 2.5, "global": true}`, 2500 * time.Millisecond, true},
		{"header seconds", "2", `not json`, 2 * time.Second, false},
		{"header used when body says 0", "2", `{"retry_after": 0}`, 2 * time.Second, false},
		{"nothing", "", ``, 0, false},
		{"negative ignored", "-3", `{"retry_after": -1}`, 0, false},
		{"http date is not understood", "Wed, 21 Oct 2015 07:28:00 GMT", ``, 0, false},
		{"absurd value is capped", "", `{"retry_after": 1e300}`, time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Retry-After", tc.header)
			}
			got, global := retryAfter(h, []byte(tc.body))
			if got != tc.want || global != tc.global {
				t.Errorf("got %v global=%v, want %v global=%v", got, global, tc.want, tc.global)
			}
		})
	}
}

func TestUserAgent(t *testing.T) {
	if got, want := UserAgent("v1.0.0"), "DiscordBot (https://github.com/cordis-gateway/cordis, v1.0.0)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRateLimitDelayHasAFloorThatGrowsToACap(t *testing.T) {
	for _, tc := range []struct {
		n      int
		jitter float64
		after  time.Duration
		want   time.Duration
	}{
		{0, 0, time.Millisecond, time.Second},
		{0, 0, 0, time.Second},
		{1, 0, 0, 2 * time.Second},
		{4, 0, 0, 16 * time.Second},
		{10, 0, 0, 30 * time.Second},
		{10, 0.999999999, 0, 60*time.Second - 30*time.Nanosecond},
		{0, 0, 5 * time.Second, 5 * time.Second},
		{10, 0, 10 * time.Minute, 10 * time.Minute},
	} {
		got := rateLimitDelay(tc.n, tc.jitter, tc.after)
		if got < tc.want-50*time.Nanosecond || got > tc.want {
			t.Errorf("rateLimitDelay(%d, %v, %v) = %v, want %v", tc.n, tc.jitter, tc.after, got, tc.want)
		}
	}
	if min429Wait < time.Second || max429Wait > 5*time.Minute {
		t.Errorf("429 floor %v..%v: must start at >= 1 s and stay sane", min429Wait, max429Wait)
	}
}
