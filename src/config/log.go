package config

import (
	"log/slog"
	"net/url"
)

// LogValue summarizes the configuration for the start-up log line. The
// token is left out and URL passwords (AMQP, Redis) are masked.
func (c *Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("amqp_url", maskURL(c.AMQPURL)),
		slog.Bool("debug", c.Debug),
		slog.Int("shard_count", c.ShardCount),
		slog.Int("starting_shard", c.StartingShard),
		slog.Int("total_shard_count", c.TotalShardCount),
		slog.String("redis_url", maskURL(c.RedisURL)),
		slog.String("compress", c.Compress),
		slog.String("encoding", c.Encoding),
		slog.Duration("open_timeout", c.OpenTimeout),
		slog.Duration("hello_timeout", c.HelloTimeout),
		slog.Duration("ready_timeout", c.ReadyTimeout),
		slog.Duration("guild_timeout", c.GuildTimeout),
		slog.Duration("reconnect_timeout", c.ReconnectTimeout),
		slog.Int("large_threshold", c.LargeThreshold),
		slog.Int64("intents", c.Intents),
		slog.Any("intent_names", IntentNames(c.Intents)),
		slog.String("discord_api", maskURL(c.DiscordAPI)),
		slog.String("metrics_addr", c.MetricsAddr),
	)
}

// maskURL hides a URL's password the way net/url does, or the whole
// userinfo if the URL does not parse.
func maskURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return redactUserinfo(s)
	}
	return u.Redacted()
}
