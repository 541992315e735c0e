// Package config reads the gateway's configuration from the environment
// (DESIGN.md §2). Every problem is reported before any connection is made.
package config

import "time"

// Config is the validated configuration. Zero ShardCount/TotalShardCount
// mean "not set": they are resolved with Resolve once Discord's recommended
// shard count is known.
type Config struct {
	Token            Secret
	AMQPURL          string // always a full amqp:// or amqps:// URL
	Debug            bool
	ShardCount       int // 0 = total - starting
	StartingShard    int
	TotalShardCount  int // 0 = Discord's recommendation
	RedisURL         string
	Compress         string // "", "zlib-stream" or "zstd-stream"
	Encoding         string // "etf" or "json"
	OpenTimeout      time.Duration
	HelloTimeout     time.Duration
	ReadyTimeout     time.Duration
	GuildTimeout     time.Duration
	ReconnectTimeout time.Duration
	LargeThreshold   int
	Intents          int64
	DiscordAPI       string // REST base without trailing slash
	MetricsAddr      string
}

// Shards is the resolved shard range of this process.
type Shards struct {
	First int // first shard id
	Count int // shards run by this process
	Total int // shards across all clusters
}
