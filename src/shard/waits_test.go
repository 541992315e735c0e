package shard

import (
	"testing"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
)

// waitLimit bounds every wait of these tests: a shard that breaks a timing
// rule fails the test within seconds, naming what it did not do, instead
// of hanging until go test's timeout.
const waitLimit = 10 * time.Second

// awaitTimer waits until the shard arms a timer due in d (what says which
// rule sets it), so the test advances the fake clock only then.
func awaitTimer(t *testing.T, fake *clock.Fake, d time.Duration, what string) {
	t.Helper()
	if err := fake.AwaitTimer(d, time.After(waitLimit)); err != nil {
		t.Fatalf("the shard never waited %v for %s: %v", d, what, err)
	}
}

// await receives from ch within waitLimit, or fails naming what.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("no %s within %v", what, waitLimit)
		var zero T
		return zero
	}
}
