package config

import "time"

// The environment variables of DESIGN.md §2.
const (
	varAuth             = "CORDIS_AUTH"
	varAMQPHost         = "CORDIS_AMQP_HOST"
	varDebug            = "CORDIS_DEBUG"
	varShardCount       = "CORDIS_SHARD_COUNT"
	varStartingShard    = "CORDIS_STARTING_SHARD"
	varTotalShardCount  = "CORDIS_TOTAL_SHARD_COUNT"
	varRedisURL         = "CORDIS_REDIS_URL"
	varCompress         = "CORDIS_WS_COMPRESS"
	varEncoding         = "CORDIS_WS_ENCODING"
	varOpenTimeout      = "CORDIS_WS_OPEN_TIMEOUT"
	varHelloTimeout     = "CORDIS_WS_HELLO_TIMEOUT"
	varReadyTimeout     = "CORDIS_WS_READY_TIMEOUT"
	varGuildTimeout     = "CORDIS_WS_GUILD_TIMEOUT"
	varReconnectTimeout = "CORDIS_WS_RECONNECT_TIMEOUT"
	varLargeThreshold   = "CORDIS_WS_LARGE_THRESHOLD"
	varIntents          = "CORDIS_WS_INTENTS"
	varDiscordAPI       = "CORDIS_DISCORD_API"
	varMetricsAddr      = "CORDIS_METRICS_ADDR"
)

// Defaults of DESIGN.md §2.
const (
	DefaultCompress         = CompressZlib
	DefaultEncoding         = EncodingETF
	DefaultOpenTimeout      = 30 * time.Second
	DefaultHelloTimeout     = 30 * time.Second
	DefaultReadyTimeout     = 60 * time.Second
	DefaultGuildTimeout     = 10 * time.Second
	DefaultReconnectTimeout = 60 * time.Second
	DefaultLargeThreshold   = 250
	DefaultIntents          = IntentsNonPrivileged
	DefaultDiscordAPI       = "https://discord.com/api/v10"
)

// Values of Config.Compress and Config.Encoding.
const (
	CompressNone = ""
	CompressZlib = "zlib-stream"
	CompressZstd = "zstd-stream"
	EncodingETF  = "etf"
	EncodingJSON = "json"
)

const (
	minLargeThreshold = 50
	maxLargeThreshold = 250
)
