package redisstate

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cordis-gateway/cordis/src/clock"
)

// BenchmarkSessionsFlush1000 measures one flush of 1,000 dirty shards
// (2,000 commands in one pipeline) and reports the Redis command rate.
func BenchmarkSessionsFlush1000(b *testing.B) {
	b.Run("miniredis", func(b *testing.B) {
		_, client, _ := newMini(b)
		benchFlush(b, client, testBot)
	})
	b.Run("redis", func(b *testing.B) {
		client, bot := realRedis(b)
		benchFlush(b, client, bot)
	})
}

func benchFlush(b *testing.B, client redis.UniversalClient, bot string) {
	const shards = 1000
	ctx := context.Background()
	s := NewSessions(client, bot, 0, shards, clock.Real(), discardLogger())
	for shard := range shards {
		if err := s.Save(ctx, shard, sess); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var seq int64
	for b.Loop() {
		seq++
		for shard := range shards {
			s.UpdateSeq(shard, seq)
		}
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2*shards*b.N)/b.Elapsed().Seconds(), "redis-cmds/s")
}

// BenchmarkSessionsUpdateSeq is the per-dispatch cost.
func BenchmarkSessionsUpdateSeq(b *testing.B) {
	s := NewSessions(nil, testBot, 0, 1000, clock.Real(), discardLogger())
	b.ReportAllocs()
	var seq int64
	for b.Loop() {
		seq++
		s.UpdateSeq(int(seq%1000), seq)
	}
}
