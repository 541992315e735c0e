// Package statetest helps tests drive identify limiters on a fake clock:
// start an Acquire, then check whether it returned yet.
package statetest

import (
	"context"
	"testing"
	"time"
)

// Acquirer is what an identify limiter offers (state.IdentifyLimiter,
// restated so that package state's own tests can use this one).
type Acquirer interface {
	Acquire(ctx context.Context, shardID int) error
}

// AcquireAsync runs Acquire in a goroutine; the channel gets its result.
func AcquireAsync(ctx context.Context, l Acquirer, shardID int) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- l.Acquire(ctx, shardID) }()
	return ch
}

// Done waits for a result that must come; the real-time guard only catches
// a hang and never paces a test.
func Done(t testing.TB, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire did not return")
		return nil
	}
}

// NotDone fails if Acquire already returned.
func NotDone(t testing.TB, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("Acquire returned early (err=%v)", err)
	default:
	}
}
