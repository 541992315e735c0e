package integration

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// DESIGN §6: with Redis, a gateway stopped with SIGTERM and started again
// RESUMEs its shards' sessions (no IDENTIFY) and publishes every event
// dispatched while it was down, with the bytes Discord sent. The stored
// sessions have the documented fields and a TTL, and no key or value holds
// the token.
func TestRestart_WithRedisResumesTheStoredSessionAndReplaysMissedEvents(t *testing.T) {
	const shards = 2
	bot := newTestBot()
	rdb := redisClient(t, bot)
	s := newBotDiscord(t, bot, fakediscord.Options{Shards: shards, MaxConcurrency: 16})
	ev := eventName("ISSUE5_RESTART")
	c := newConsumer(t, ev, "RESUMED")
	vars := botEnv(bot, redisURL(t, ""), map[string]string{"CORDIS_WS_ENCODING": "etf", "CORDIS_WS_COMPRESS": "zlib-stream"})

	// First run: sessions, and a few events on each shard.
	first := s.start(vars)
	s.waitSessions(0, 1)
	var live [][]byte
	for shard := range shards {
		for range 3 {
			live = append(live, s.dispatch(shard, ev, fakediscord.SampleMessageCreate()))
		}
	}
	c.expectBodies(20*time.Second, live)
	before := s.discord.Snapshot()
	first.signal(syscall.SIGTERM)
	code, err := first.wait(10 * time.Second)
	require.NoError(t, err)
	require.Equal(t, 0, code)

	// What the first run left in Redis.
	ctx := testContext(t)
	keys := botKeys(ctx, t, rdb, bot)
	for shard := range shards {
		key := "cordis:" + bot.id + ":session:" + itoa(shard)
		require.Contains(t, keys, key)
		fields, err := rdb.HGetAll(ctx, key).Result()
		require.NoError(t, err)
		st := before.Shards[shard]
		assert.Equal(t, map[string]string{
			"session_id":         st.SessionID,
			"seq":                strconv.FormatInt(st.Seq, 10),
			"resume_gateway_url": s.discord.ResumeURL(),
			"shard_total":        itoa(shards),
		}, fields, "stored session of shard %d", shard)
		ttl, err := rdb.PTTL(ctx, key).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "session key %s needs a TTL", key)
		assert.LessOrEqual(t, ttl, 30*time.Minute, "a stored session is only resumable for minutes")
	}
	assertNoTokenInRedis(ctx, t, rdb, bot, keys)

	// While the gateway is down, Discord keeps dispatching.
	var missed []int64
	for shard := range shards {
		require.False(t, s.discord.Snapshot().Shards[shard].Connected)
		for range 3 {
			missed = append(missed, s.dispatchNow(shard, ev, fakediscord.SampleMessageCreate()))
		}
	}

	// Second run: resume, replay, no identify.
	s.start(vars)
	var want [][]byte
	for shard := range shards {
		st := before.Shards[shard]
		rs, conn := s.waitResume(shard, st.ConnID, 30*time.Second)
		assert.Equal(t, st.SessionID, rs.SessionID, "shard %d resumes its old session", shard)
		assert.Equal(t, st.Seq, rs.Seq, "shard %d resumes from the last seq it published", shard)
		assert.Equal(t, 3, rs.Replayed, "shard %d: the events dispatched while the gateway was down are replayed", shard)
		assert.Equal(t, "/resume", conn.Path)
		snap := s.waitFor("RESUMED written", 10*time.Second, func(sn *fakediscord.Snapshot) bool {
			for _, d := range sn.DispatchesTo(shard) {
				if d.ConnID == rs.ConnID && d.T == "RESUMED" {
					return true
				}
			}
			return false
		})
		for _, d := range snap.DispatchesTo(shard) {
			if d.ConnID == rs.ConnID {
				want = append(want, d.Raw)
			}
		}
	}
	require.Len(t, want, len(missed)+shards, "the replayed events and a RESUMED per shard")
	c.expectBodies(20*time.Second, want)
	assert.Len(t, s.discord.Snapshot().AcceptedIdentifies(), shards, "a restart must not identify again")
	s.noViolations(fakediscord.ViolationIdentifyRate, fakediscord.ViolationDecode)
}

// assertNoTokenInRedis checks that neither the bot's keys and values nor any
// key of the test database hold the token's secret part.
func assertNoTokenInRedis(ctx context.Context, t *testing.T, rdb *redis.Client, bot testBot, keys []string) {
	t.Helper()
	_, secret, _ := strings.Cut(bot.token, ".")
	for _, k := range keys {
		assert.NotContains(t, k, secret, "a Redis key holds the token")
		typ, err := rdb.Type(ctx, k).Result()
		require.NoError(t, err)
		if typ != "hash" {
			continue
		}
		fields, err := rdb.HGetAll(ctx, k).Result()
		require.NoError(t, err)
		for f, v := range fields {
			assert.NotContains(t, f+"="+v, secret, "Redis hash %s holds the token", k)
		}
	}
	var leaked []string
	iter := rdb.Scan(ctx, 0, "*"+strings.ReplaceAll(secret, ".", "?")+"*", 1000).Iterator()
	for iter.Next(ctx) {
		leaked = append(leaked, iter.Val())
	}
	require.NoError(t, iter.Err())
	assert.Empty(t, leaked, "keys holding the token")
}

// DESIGN §3 and §6: a restart never resumes past an event RabbitMQ did
// not confirm. RabbitMQ goes away, events keep arriving (the gateway buffers
// them, unconfirmed), the gateway is stopped and its confirm wait runs out;
// the stored seq is the last confirmed one, so the next start resumes from
// there and every buffered event is published after all.
func TestRestart_ResumesFromTheLastConfirmedEvent(t *testing.T) {
	bot := newTestBot()
	redisClient(t, bot) // cleans the bot's keys afterwards
	s := newBotDiscord(t, bot, fakediscord.Options{})
	ev := eventName("ISSUE5_UNCONFIRMED")
	c := newConsumer(t, ev)
	proxy := newFaultProxy(t, amqpHost(t))
	vars := botEnv(bot, redisURL(t, ""), map[string]string{"CORDIS_AMQP_HOST": amqpVia(t, proxy.addr())})

	first := s.start(vars)
	s.waitSessions(0)
	confirmed := s.dispatch(0, ev, map[string]any{"n": 0})
	c.expectBodies(20*time.Second, [][]byte{confirmed})

	proxy.block() // RabbitMQ unreachable: what follows is only buffered
	var stuck [][]byte
	for i := range 3 {
		stuck = append(stuck, s.dispatch(0, ev, map[string]any{"n": i + 1}))
	}
	seqStuck := s.discord.Snapshot().Shards[0].Seq
	first.waitLog(10*time.Second, "the shard heartbeating after the stuck events", func(rec map[string]any) bool {
		return rec["level"] == "WARN" // the broker noticed the connection loss
	})
	first.signal(syscall.SIGTERM)
	code, err := first.wait(15 * time.Second)
	require.NoError(t, err)
	require.Equal(t, 0, code, "shutdown stays clean even when confirms never come")

	proxy.unblock()
	s.start(vars)
	rs, _ := s.waitResume(0, 0, 30*time.Second)
	assert.Less(t, rs.Seq, seqStuck, "the stored seq must not cover events RabbitMQ never confirmed")
	c.expectBodies(30*time.Second, stuck)
}
