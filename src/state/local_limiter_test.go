package state

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/state/statetest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// eventually spins (yielding, never sleeping) until cond holds.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtime.Gosched()
	}
}

func TestBucketIsShardModMaxConcurrency(t *testing.T) {
	for _, tc := range []struct{ shard, mc, want int }{
		{0, 1, 0}, {7, 1, 0}, {7, 0, 0}, {7, -3, 0},
		{5, 16, 5}, {16, 16, 0}, {33, 16, 1}, {-1, 4, 3},
	} {
		require.Equal(t, tc.want, Bucket(tc.shard, tc.mc), "Bucket(%d, %d)", tc.shard, tc.mc)
	}
}

func TestLocalLimiterSpacesOneBucketByInterval(t *testing.T) {
	for _, mc := range []int{0, 1, 2} {
		clk := clock.NewFake(t0)
		l := NewLocalLimiter(clk, StartLimit{MaxConcurrency: mc})
		ctx := context.Background()
		other := 1
		if mc == 2 {
			other = 2 // same bucket as shard 0
		}
		require.NoError(t, l.Acquire(ctx, 0), "first identify goes at once")
		ch := statetest.AcquireAsync(ctx, l, other)
		clk.BlockUntil(1)
		clk.Advance((IdentifyInterval + IdentifyGuard) - time.Millisecond)
		statetest.NotDone(t, ch)
		clk.Advance(time.Millisecond)
		require.NoError(t, statetest.Done(t, ch))
		require.Equal(t, t0.Add((IdentifyInterval + IdentifyGuard)), clk.Now(), "mc=%d", mc)
	}
}

func TestLocalLimiterRunsBucketsInParallel(t *testing.T) {
	clk := clock.NewFake(t0)
	l := NewLocalLimiter(clk, StartLimit{MaxConcurrency: 4})
	ctx := context.Background()
	for shard := range 4 {
		require.NoError(t, l.Acquire(ctx, shard), "shard %d has its own bucket", shard)
	}
	chs := make([]<-chan error, 4)
	for i := range chs {
		chs[i] = statetest.AcquireAsync(ctx, l, 4+i)
	}
	clk.BlockUntil(4)
	clk.Advance((IdentifyInterval + IdentifyGuard))
	for _, ch := range chs {
		require.NoError(t, statetest.Done(t, ch))
	}
}

func TestLocalLimiterIsFIFOWithinABucket(t *testing.T) {
	clk := clock.NewFake(t0)
	l := NewLocalLimiter(clk, StartLimit{MaxConcurrency: 1})
	ctx := context.Background()
	require.NoError(t, l.Acquire(ctx, 0))

	order := make(chan int, 8)
	want := []int{5, 3, 7, 1, 6}
	for i, shard := range want {
		go func() {
			if l.Acquire(ctx, shard) == nil {
				order <- shard
			}
		}()
		eventually(t, func() bool { return l.waiting(0) == i+1 })
	}
	for _, shard := range want {
		clk.BlockUntil(1)
		clk.Advance((IdentifyInterval + IdentifyGuard))
		select {
		case got := <-order:
			require.Equal(t, shard, got)
		case <-time.After(5 * time.Second):
			t.Fatalf("shard %d never identified", shard)
		}
	}
}

func TestLocalLimiterCancelledWaiterUsesNoSlot(t *testing.T) {
	clk := clock.NewFake(t0)
	// Two starts: if the cancelled waiters used one, shard 3 would wait
	// for the daily reset instead of 5 s.
	l := NewLocalLimiter(clk, StartLimit{Total: 10, Remaining: 2, ResetAfter: time.Hour, MaxConcurrency: 1})
	ctx := context.Background()
	require.NoError(t, l.Acquire(ctx, 0))

	headCtx, cancelHead := context.WithCancel(ctx)
	head := statetest.AcquireAsync(headCtx, l, 1)
	clk.BlockUntil(1)
	midCtx, cancelMid := context.WithCancel(ctx)
	mid := statetest.AcquireAsync(midCtx, l, 2)
	eventually(t, func() bool { return l.waiting(0) == 2 })
	last := statetest.AcquireAsync(ctx, l, 3)
	eventually(t, func() bool { return l.waiting(0) == 3 })

	cancelMid() // queued behind the head
	require.ErrorIs(t, statetest.Done(t, mid), context.Canceled)
	cancelHead() // holding the turn, sleeping
	require.ErrorIs(t, statetest.Done(t, head), context.Canceled)

	clk.BlockUntil(1)
	clk.Advance((IdentifyInterval + IdentifyGuard))
	require.NoError(t, statetest.Done(t, last))
	require.Equal(t, t0.Add((IdentifyInterval + IdentifyGuard)), clk.Now())
	remaining, _ := l.StartsRemaining()
	require.Equal(t, 0, remaining)
}

func TestLocalLimiterCancelledBeforeCallReturnsAtOnce(t *testing.T) {
	clk := clock.NewFake(t0)
	l := NewLocalLimiter(clk, StartLimit{Total: 1, Remaining: 0, ResetAfter: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, l.Acquire(ctx, 0), context.Canceled)
}

func TestLocalLimiterStartLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limit     StartLimit
		shards    []int         // identified in this order, buckets permitting
		wantWait  time.Duration // before the last shard may go
		wantLeft  int
		wantReset time.Duration // next reset, from t0
	}{
		{
			name:      "remaining 0 waits reset_after",
			limit:     StartLimit{Total: 1000, Remaining: 0, ResetAfter: 30 * time.Second, MaxConcurrency: 1},
			shards:    []int{0},
			wantWait:  30 * time.Second,
			wantLeft:  999,
			wantReset: 30*time.Second + 24*time.Hour,
		},
		{
			name:      "running out waits for the reset then refills",
			limit:     StartLimit{Total: 3, Remaining: 1, ResetAfter: time.Minute, MaxConcurrency: 2},
			shards:    []int{0, 1},
			wantWait:  time.Minute,
			wantLeft:  2,
			wantReset: time.Minute + 24*time.Hour,
		},
		{
			name:      "reset passed while idle refills without waiting",
			limit:     StartLimit{Total: 5, Remaining: 0, ResetAfter: 0, MaxConcurrency: 1},
			shards:    []int{0},
			wantWait:  0,
			wantLeft:  4,
			wantReset: 24 * time.Hour,
		},
		{
			name:      "unknown limit only paces",
			limit:     StartLimit{MaxConcurrency: 2},
			shards:    []int{0, 1},
			wantWait:  0,
			wantLeft:  0,
			wantReset: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			l := NewLocalLimiter(clk, tc.limit)
			ctx := context.Background()
			last := len(tc.shards) - 1
			for _, shard := range tc.shards[:last] {
				require.NoError(t, l.Acquire(ctx, shard))
			}
			ch := statetest.AcquireAsync(ctx, l, tc.shards[last])
			if tc.wantWait > 0 {
				clk.BlockUntil(1)
				clk.Advance(tc.wantWait - time.Millisecond)
				statetest.NotDone(t, ch)
				clk.Advance(time.Millisecond)
			}
			require.NoError(t, statetest.Done(t, ch))
			require.Equal(t, t0.Add(tc.wantWait), clk.Now())
			left, reset := l.StartsRemaining()
			require.Equal(t, tc.wantLeft, left)
			require.Equal(t, t0.Add(tc.wantReset), reset)
		})
	}
}

func TestLocalLimiterFailedHoldUsesNoSlot(t *testing.T) {
	clk := clock.NewFake(t0)
	l := NewLocalLimiter(clk, StartLimit{Total: 5, Remaining: 1, ResetAfter: time.Hour, MaxConcurrency: 1})
	ctx := context.Background()
	boom := context.DeadlineExceeded
	err := l.AcquireWith(ctx, 0, func(context.Context, int) error { return boom })
	require.ErrorIs(t, err, boom)
	left, _ := l.StartsRemaining()
	require.Equal(t, 1, left)
	require.NoError(t, l.Acquire(ctx, 0), "no 5 s spacing after a failed hold")
}
