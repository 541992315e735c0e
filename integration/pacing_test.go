package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Item 8: identify pacing. Discord allows one IDENTIFY per
// max_concurrency bucket (shard_id % max_concurrency) per 5 s, buckets in
// parallel; fakediscord refuses (and records a violation for) anything
// faster.

const identifyInterval = 5 * time.Second

// identifySlack is how much later than necessary an identify may come: the
// gateway must wait for the bucket, not for longer.
const identifySlack = 2500 * time.Millisecond

// waitAllIdentified waits for n accepted IDENTIFYs and checks that none was
// refused and no identify rule was broken; it returns them in time order.
func waitAllIdentified(t *testing.T, s *stack, n int, timeout time.Duration) []fakediscord.Identify {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	snap, err := s.discord.WaitIdentified(ctx, n)
	require.NoError(t, err, "%d shards did not identify within %v", n, timeout)
	s.noViolations(fakediscord.ViolationIdentifyRate, fakediscord.ViolationSessionStart)
	ids := snap.Identifies
	require.Len(t, ids, n, "every IDENTIFY must be accepted: none may come too early")
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b fakediscord.Identify) int { return a.Time.Compare(b.Time) })
	shards := make([]int, 0, n)
	for _, id := range ids {
		shards = append(shards, id.Shard)
	}
	slices.Sort(shards)
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	require.Equal(t, want, shards, "each shard identifies once")
	return ids
}

// assertSpaced checks that consecutive identifies are identifyInterval
// apart, and not much more.
func assertSpaced(t *testing.T, ids []fakediscord.Identify) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		gap := ids[i].Time.Sub(ids[i-1].Time)
		assert.GreaterOrEqual(t, gap, identifyInterval, "shards %d and %d identified too close together", ids[i-1].Shard, ids[i].Shard)
		assert.Less(t, gap, identifyInterval+identifySlack, "shard %d waited longer than the limit needs", ids[i].Shard)
	}
}

// Item 8: max_concurrency 1, four shards in one process: one IDENTIFY
// every 5 s.
func TestItem8_MaxConcurrency1IdentifiesOneShardEvery5s(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{Shards: 4, MaxConcurrency: 1})
	s.start(nil)
	ids := waitAllIdentified(t, s, 4, 45*time.Second)
	assertSpaced(t, ids)
}

// Item 8: max_concurrency 2, four shards: buckets {0,2} and {1,3} each
// identify 5 s apart, and the two buckets go together.
func TestItem8_MaxConcurrency2PacesEachBucketAndRunsBucketsTogether(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{Shards: 4, MaxConcurrency: 2})
	s.start(nil)
	ids := waitAllIdentified(t, s, 4, 30*time.Second)

	for bucket := range 2 {
		var in []fakediscord.Identify
		for _, id := range ids {
			if id.Shard%2 == bucket {
				in = append(in, id)
			}
		}
		require.Len(t, in, 2)
		assertSpaced(t, in)
	}
	assert.Less(t, ids[1].Time.Sub(ids[0].Time), time.Second, "the first identifies of the two buckets must go together")
	assert.Less(t, ids[3].Time.Sub(ids[2].Time), time.Second, "the second identifies of the two buckets must go together")
	assert.NotEqual(t, ids[0].Shard%2, ids[1].Shard%2, "one shard of each bucket first")
}

// Item 8 and issue 5: two gateway processes (clusters) sharing Redis and a
// token, shards 0-1 and 2-3 of 4, max_concurrency 1: together they identify
// one shard every 5 s (15 s for all four), never two at once.
func TestItem8_TwoClustersSharingRedisIdentifyOneShardEvery5s(t *testing.T) {
	bot := newTestBot()
	redisClient(t, bot) // deletes the bot's keys afterwards
	s := newBotDiscord(t, bot, fakediscord.Options{Shards: 4, MaxConcurrency: 1})
	rURL := redisURL(t, "")
	for _, first := range []string{"0", "2"} {
		s.start(botEnv(bot, rURL, map[string]string{
			"CORDIS_STARTING_SHARD":    first,
			"CORDIS_SHARD_COUNT":       "2",
			"CORDIS_TOTAL_SHARD_COUNT": "4",
		}))
	}
	ids := waitAllIdentified(t, s, 4, 60*time.Second)
	assertSpaced(t, ids)
}
