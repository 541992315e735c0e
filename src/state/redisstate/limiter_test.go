package redisstate

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/state"
	"github.com/cordis-gateway/cordis/src/state/statetest"
)

// advance moves the gateway's clock and miniredis's together (miniredis
// only expires keys when told).
type clocks struct {
	fake *clock.Fake
	mr   *miniredis.Miniredis
}

func (c clocks) advance(d time.Duration) {
	c.mr.FastForward(d)
	c.fake.Advance(d)
}

func TestLimiterLockKeyHasFiveSecondTTL(t *testing.T) {
	mr, client, _ := newMini(t)
	clk := clock.NewFake(t0)
	l := NewLimiter(client, testBot, state.StartLimit{MaxConcurrency: 16}, clk, discardLogger())

	require.NoError(t, l.Acquire(context.Background(), 17))
	key := "cordis:" + testBot + ":identify:16:1"
	require.Equal(t, []string{key}, mr.Keys())
	require.Equal(t, state.IdentifyInterval, mr.TTL(key))
	v, err := mr.Get(key)
	require.NoError(t, err)
	require.NotEmpty(t, v)
}

func TestLimiterMaxConcurrencyZeroUsesOneBucket(t *testing.T) {
	mr, client, _ := newMini(t)
	l := NewLimiter(client, testBot, state.StartLimit{}, clock.NewFake(t0), discardLogger())
	require.NoError(t, l.Acquire(context.Background(), 5))
	require.Equal(t, []string{"cordis:" + testBot + ":identify:1:0"}, mr.Keys())
}

func TestLimiterTwoClustersShareOneBucket(t *testing.T) {
	mr, client, _ := newMini(t)
	clk := clock.NewFake(t0)
	c := clocks{clk, mr}
	limit := state.StartLimit{MaxConcurrency: 1}
	a := NewLimiter(client, testBot, limit, clk, discardLogger())
	b := NewLimiter(newClient(t, mr.Addr()), testBot, limit, clk, discardLogger())
	ctx := context.Background()

	require.NoError(t, a.Acquire(ctx, 0))
	chB := statetest.AcquireAsync(ctx, b, 1)
	clk.BlockUntil(1) // b waits the lock's PTTL plus the guard
	c.advance(state.IdentifyInterval + ContendedGuard - time.Millisecond)
	statetest.NotDone(t, chB)
	c.advance(time.Millisecond)
	require.NoError(t, statetest.Done(t, chB))
	step := state.IdentifyInterval + ContendedGuard
	require.Equal(t, t0.Add(step), clk.Now())

	// a's own pacing allows shard 2 now, but b holds the bucket.
	chA := statetest.AcquireAsync(ctx, a, 2)
	clk.BlockUntil(1)
	c.advance(step - time.Millisecond)
	statetest.NotDone(t, chA)
	c.advance(time.Millisecond)
	require.NoError(t, statetest.Done(t, chA))
	require.Equal(t, t0.Add(2*step), clk.Now())
}

func TestLimiterWaitsExactlyTheLockPTTL(t *testing.T) {
	mr, client, rt := newMini(t)
	clk := clock.NewFake(t0)
	key := IdentifyKey(testBot, 1, 0)
	require.NoError(t, mr.Set(key, "other-cluster"))
	mr.SetTTL(key, 1234*time.Millisecond)
	l := NewLimiter(client, testBot, state.StartLimit{MaxConcurrency: 1}, clk, discardLogger())

	ch := statetest.AcquireAsync(context.Background(), l, 0)
	clk.BlockUntil(1)
	clocks{clk, mr}.advance(1233*time.Millisecond + ContendedGuard)
	statetest.NotDone(t, ch)
	clocks{clk, mr}.advance(time.Millisecond)
	require.NoError(t, statetest.Done(t, ch))
	require.Equal(t, int64(2), rt.pipelines.Load(), "one failed and one successful SET, no polling")
	require.Zero(t, rt.commands.Load())
}

func TestLimiterRunsBucketsInParallelAcrossClusters(t *testing.T) {
	mr, client, _ := newMini(t)
	clk := clock.NewFake(t0)
	limit := state.StartLimit{MaxConcurrency: 2}
	a := NewLimiter(client, testBot, limit, clk, discardLogger())
	b := NewLimiter(newClient(t, mr.Addr()), testBot, limit, clk, discardLogger())
	ctx := context.Background()
	require.NoError(t, a.Acquire(ctx, 0))
	require.NoError(t, b.Acquire(ctx, 1))
	require.ElementsMatch(t, []string{IdentifyKey(testBot, 2, 0), IdentifyKey(testBot, 2, 1)}, mr.Keys())
}

func TestLimiterRepairsALockWithoutExpiry(t *testing.T) {
	mr, client, _ := newMini(t)
	clk := clock.NewFake(t0)
	key := IdentifyKey(testBot, 1, 0)
	require.NoError(t, mr.Set(key, "stale"))
	l := NewLimiter(client, testBot, state.StartLimit{MaxConcurrency: 1}, clk, discardLogger())

	ch := statetest.AcquireAsync(context.Background(), l, 0)
	clk.BlockUntil(1)
	require.Equal(t, state.IdentifyInterval, mr.TTL(key), "the stale lock now expires")
	clocks{clk, mr}.advance(noTTLRetry)
	clk.BlockUntil(1) // now waiting the repaired lock's PTTL
	clocks{clk, mr}.advance(state.IdentifyInterval + ContendedGuard)
	require.NoError(t, statetest.Done(t, ch))
}

func TestLimiterCancelWhileWaitingForTheLock(t *testing.T) {
	mr, client, _ := newMini(t)
	clk := clock.NewFake(t0)
	key := IdentifyKey(testBot, 1, 0)
	require.NoError(t, mr.Set(key, "other-cluster"))
	mr.SetTTL(key, state.IdentifyInterval)
	l := NewLimiter(client, testBot, state.StartLimit{Total: 10, Remaining: 1, ResetAfter: time.Hour, MaxConcurrency: 1}, clk, discardLogger())

	ctx, cancel := context.WithCancel(context.Background())
	ch := statetest.AcquireAsync(ctx, l, 0)
	clk.BlockUntil(1)
	cancel()
	require.ErrorIs(t, statetest.Done(t, ch), context.Canceled)

	// The cancelled call used neither the start limit nor the local 5 s.
	ch = statetest.AcquireAsync(context.Background(), l, 1)
	clk.BlockUntil(1)
	clocks{clk, mr}.advance(state.IdentifyInterval + ContendedGuard)
	require.NoError(t, statetest.Done(t, ch))
	require.Equal(t, t0.Add(state.IdentifyInterval+ContendedGuard), clk.Now())
}

func TestLimiterAppliesTheStartLimit(t *testing.T) {
	mr, client, _ := newMini(t)
	clk := clock.NewFake(t0)
	l := NewLimiter(client, testBot, state.StartLimit{Total: 100, Remaining: 0, ResetAfter: time.Minute, MaxConcurrency: 1}, clk, discardLogger())
	ch := statetest.AcquireAsync(context.Background(), l, 0)
	clk.BlockUntil(1)
	require.Empty(t, mr.Keys(), "no lock held while waiting for the daily reset")
	clocks{clk, mr}.advance(time.Minute - time.Millisecond)
	statetest.NotDone(t, ch)
	clocks{clk, mr}.advance(time.Millisecond)
	require.NoError(t, statetest.Done(t, ch))
	require.ElementsMatch(t, []string{IdentifyKey(testBot, 1, 0), StartLimitKey(testBot)}, mr.Keys())
	left, err := mr.Get(StartLimitKey(testBot))
	require.NoError(t, err)
	require.Equal(t, "99", left, "a new period: total 100, one used")
	require.Equal(t, 24*time.Hour, mr.TTL(StartLimitKey(testBot)), "the shared count expires with the next reset")
}

func TestLimiterClustersShareTheDailyStartLimit(t *testing.T) {
	mr, client, _ := newMini(t)
	clk := clock.NewFake(t0)
	c := clocks{clk, mr}
	// Both clusters read remaining 2 from /gateway/bot: together they may
	// identify twice, not four times.
	limit := state.StartLimit{Total: 10, Remaining: 2, ResetAfter: time.Hour, MaxConcurrency: 16}
	logger, logs := newLogger()
	a := NewLimiter(client, testBot, limit, clk, discardLogger())
	b := NewLimiter(newClient(t, mr.Addr()), testBot, limit, clk, logger)
	ctx := context.Background()

	require.NoError(t, a.Acquire(ctx, 0))
	require.NoError(t, a.Acquire(ctx, 1))
	require.Equal(t, time.Hour, mr.TTL(StartLimitKey(testBot)), "the count expires at Discord's reset")
	ch := statetest.AcquireAsync(ctx, b, 2) // b's own count still says 2
	clk.BlockUntil(1)
	c.advance(time.Hour - time.Millisecond)
	statetest.NotDone(t, ch)
	require.Equal(t, 1, logs.Count("used up"))
	c.advance(time.Millisecond)
	require.NoError(t, statetest.Done(t, ch))
	left, err := mr.Get(StartLimitKey(testBot))
	require.NoError(t, err)
	require.Equal(t, "9", left, "after the reset: total 10, one used")
}

func TestLimiterGivesAStartCounterWithoutExpiryOne(t *testing.T) {
	mr, client, _ := newMini(t)
	clk := clock.NewFake(t0)
	require.NoError(t, mr.Set(StartLimitKey(testBot), "0"))
	l := NewLimiter(client, testBot, state.StartLimit{Total: 5, Remaining: 5, ResetAfter: time.Hour, MaxConcurrency: 1}, clk, discardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	ch := statetest.AcquireAsync(ctx, l, 0)
	clk.BlockUntil(1)
	require.Equal(t, time.Hour, mr.TTL(StartLimitKey(testBot)), "a counter that never expires would block every cluster for good")
	statetest.NotDone(t, ch)
	cancel()
	require.ErrorIs(t, statetest.Done(t, ch), context.Canceled)
}

func TestLimiterFallsBackToLocalLimitsWhileRedisIsDown(t *testing.T) {
	for _, tc := range []struct {
		name       string
		down, back func(t *testing.T, mr *miniredis.Miniredis)
	}{
		{
			name: "error replies",
			down: func(_ *testing.T, mr *miniredis.Miniredis) {
				mr.SetError("LOADING redis is loading")
			},
			back: func(_ *testing.T, mr *miniredis.Miniredis) {
				mr.SetError("")
			},
		},
		{
			name: "server gone",
			down: func(_ *testing.T, mr *miniredis.Miniredis) {
				mr.Close()
			},
			back: func(t *testing.T, mr *miniredis.Miniredis) {
				require.NoError(t, mr.Restart())
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mr, client, _ := newMini(t)
			clk := clock.NewFake(t0)
			logger, logs := newLogger()
			l := NewLimiter(client, testBot, state.StartLimit{MaxConcurrency: 1}, clk, logger)
			ctx := context.Background()

			tc.down(t, mr)
			require.NoError(t, l.Acquire(ctx, 0), "identify proceeds without Redis")
			for shard := 1; shard <= 3; shard++ {
				ch := statetest.AcquireAsync(ctx, l, shard)
				clk.BlockUntil(1) // the local 5 s still applies
				clk.Advance(state.IdentifyInterval + state.IdentifyGuard - time.Millisecond)
				statetest.NotDone(t, ch)
				clk.Advance(time.Millisecond)
				require.NoError(t, statetest.Done(t, ch))
			}
			require.Equal(t, 1, logs.Count("fall back"), "one warning, not one per attempt")

			tc.back(t, mr)
			ch := statetest.AcquireAsync(ctx, l, 4)
			clk.BlockUntil(1)
			clk.Advance(state.IdentifyInterval + state.IdentifyGuard)
			require.NoError(t, statetest.Done(t, ch))
			require.Equal(t, []string{IdentifyKey(testBot, 1, 0)}, mr.Keys(), "back on Redis")
			require.Equal(t, 1, logs.Count("reachable again"))
		})
	}
}
