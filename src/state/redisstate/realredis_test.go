package redisstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/state"
	"github.com/cordis-gateway/cordis/src/state/statetest"
)

const defaultTestRedisURL = "redis://127.0.0.1:6379/15"

// realRedis connects to the shared local Redis (DB 15 by default) and
// returns a bot id unique to this test; its keys are deleted afterwards.
// Only this test's keys are ever touched: never FLUSHDB on a shared server.
func realRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv("CORDIS_TEST_REDIS_URL")
	if url == "" {
		url = defaultTestRedisURL
	}
	client, err := Connect(context.Background(), url)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("real Redis required in CI: %v", err)
		}
		t.Skipf("skipping: real Redis not reachable (%v); set CORDIS_TEST_REDIS_URL or start redis-server", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	bot := "test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, keyPrefix(bot)+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			_ = client.Del(ctx, keys...).Err()
		}
		_ = client.Close()
	})
	return client, bot
}

func TestRealRedisIdentifyLockKeyAndTTL(t *testing.T) {
	client, bot := realRedis(t)
	ctx := context.Background()
	l := NewLimiter(client, bot, state.StartLimit{MaxConcurrency: 2}, clock.NewFake(t0), discardLogger())
	require.NoError(t, l.Acquire(ctx, 3))
	pttl, err := client.PTTL(ctx, "cordis:"+bot+":identify:2:1").Result()
	require.NoError(t, err)
	require.Greater(t, pttl, 4*time.Second)
	require.LessOrEqual(t, pttl, state.IdentifyInterval)
}

func TestRealRedisClustersShareTheDailyStartLimit(t *testing.T) {
	client, bot := realRedis(t)
	clk := clock.NewFake(t0)
	limit := state.StartLimit{Total: 1000, Remaining: 1, ResetAfter: time.Hour, MaxConcurrency: 2}
	a := NewLimiter(client, bot, limit, clk, discardLogger())
	b := NewLimiter(client, bot, limit, clk, discardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	require.NoError(t, a.Acquire(ctx, 0))
	left, err := client.Get(ctx, StartLimitKey(bot)).Result()
	require.NoError(t, err)
	require.Equal(t, "0", left)
	pttl, err := client.PTTL(ctx, StartLimitKey(bot)).Result()
	require.NoError(t, err)
	require.Greater(t, pttl, 59*time.Minute)

	ch := statetest.AcquireAsync(ctx, b, 1) // another bucket, but no start left
	clk.BlockUntil(1)
	statetest.NotDone(t, ch)
	cancel()
	require.ErrorIs(t, statetest.Done(t, ch), context.Canceled)
}

func TestRealRedisTwoClustersShareABucket(t *testing.T) {
	client, bot := realRedis(t)
	ctx := context.Background()
	clk := clock.NewFake(t0)
	limit := state.StartLimit{MaxConcurrency: 1}
	a := NewLimiter(client, bot, limit, clk, discardLogger())
	b := NewLimiter(client, bot, limit, clk, discardLogger())
	key := IdentifyKey(bot, 1, 0)

	require.NoError(t, a.Acquire(ctx, 0))
	held, err := client.Get(ctx, key).Result()
	require.NoError(t, err)
	ch := statetest.AcquireAsync(ctx, b, 1)
	clk.BlockUntil(1) // b waits a's lock
	statetest.NotDone(t, ch)
	// Let the lock expire without waiting 5 real seconds.
	require.NoError(t, client.Del(ctx, key).Err())
	clk.Advance(state.IdentifyInterval + ContendedGuard)
	require.NoError(t, statetest.Done(t, ch))
	now, err := client.Get(ctx, key).Result()
	require.NoError(t, err)
	require.NotEqual(t, held, now, "b holds the bucket now")
}

func TestRealRedisSessionsFlushAndRestore(t *testing.T) {
	client, bot := realRedis(t)
	rt := addCounter(t, client)
	ctx := context.Background()
	const n = 1000
	s := NewSessions(client, bot, 0, n, clock.NewFake(t0), discardLogger())
	for shard := range n {
		require.NoError(t, s.Save(ctx, shard, sess))
	}
	require.NoError(t, s.Flush(ctx))
	for shard := range n {
		s.UpdateSeq(shard, int64(shard))
	}
	rt.reset()
	require.NoError(t, s.Flush(ctx))
	require.Equal(t, int64(1), rt.total(), "1,000 dirty shards, one round trip")

	restarted := NewSessions(client, bot, 0, n, clock.NewFake(t0), discardLogger())
	for _, shard := range []int{0, 640, 999} {
		got, ok, err := restarted.Load(ctx, shard)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, int64(shard), got.Seq)
		ttl, err := client.PTTL(ctx, SessionKey(bot, shard)).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, state.SessionTTL-time.Minute, "shard "+strconv.Itoa(shard))
	}
}
