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
	}{
		{"body float seconds", "", `{"retry_after": 1.25}`, 1250 * time.Millisecond},
		{"body wins", "9", `{"retry_after": 0.5}`, 500 * time.Millisecond},
		{"header seconds", "2", `not json`, 2 * time.Second},
		{"header used when body says 0", "2", `{"retry_after": 0}`, 2 * time.Second},
		{"nothing", "", ``, 0},
		{"negative ignored", "-3", `{"retry_after": -1}`, 0},
		{"http date is not understood", "Wed, 21 Oct 2015 07:28:00 GMT", ``, 0},
		{"absurd value is capped", "", `{"retry_after": 1e300}`, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Retry-After", tc.header)
			}
			if got := retryAfter(h, []byte(tc.body)); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUserAgent(t *testing.T) {
	if got, want := UserAgent("v1.0.0"), "DiscordBot (https://github.com/cordis-gateway/cordis, v1.0.0)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
