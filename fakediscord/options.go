package fakediscord

import "time"

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	// Addr is the listen address for REST and the gateway (127.0.0.1:0).
	Addr string
	// Token is the bot token without "Bot " (a fixed test token).
	Token string
	// BotID is the bot's user id (and application id) in READY.
	BotID uint64
	// Shards is the recommended shard count /gateway/bot answers (1).
	Shards int
	// MaxConcurrency is session_start_limit.max_concurrency (1).
	MaxConcurrency int
	// SessionStartTotal and SessionStartRemaining are the daily identify
	// budget (1000 each; 0 remaining means "= total", a negative value
	// means none left). IDENTIFY decrements remaining; at 0 it is refused.
	SessionStartTotal     int
	SessionStartRemaining int
	// ResetAfter is when the budget refills (24h).
	ResetAfter time.Duration
	// HeartbeatInterval is sent in HELLO (41.25s).
	HeartbeatInterval time.Duration
	// ZombieTimeout closes a connection with 4009 when no heartbeat came for
	// this long (1.5 x HeartbeatInterval).
	ZombieTimeout time.Duration
	// IdentifyInterval is the per-bucket identify spacing (5s).
	IdentifyInterval time.Duration
	// SendLimit messages per SendWindow per connection (120 per 60s);
	// one more closes with 4008.
	SendLimit  int
	SendWindow time.Duration
	// Guilds is the number of guilds each shard gets in READY, each then
	// sent as a GUILD_CREATE (0 means none).
	Guilds int
	// PrivilegedIntents are the privileged intent bits enabled for the bot
	// (bits 1, 8, 15); asking for others closes with 4014.
	PrivilegedIntents int64
	// ReplayBuffer is how many dispatches a session keeps for RESUME
	// (1000); resuming from an older seq gets op 9 false. Memory grows with
	// shards x ReplayBuffer x payload size under load.
	ReplayBuffer int
	// RecordLimit caps each recorded list (received messages, dispatch
	// bytes, requests) so long runs stay bounded (100000); older entries
	// are dropped.
	RecordLimit int
}

// Defaults used for zero Options fields.
const (
	DefaultToken = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake.token"
	DefaultBotID = uint64(123456789012345678)
)

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Token == "" {
		o.Token = DefaultToken
	}
	if o.BotID == 0 {
		o.BotID = DefaultBotID
	}
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = 1
	}
	if o.SessionStartTotal <= 0 {
		o.SessionStartTotal = 1000
	}
	if o.SessionStartRemaining < 0 {
		o.SessionStartRemaining = 0
	} else if o.SessionStartRemaining == 0 {
		o.SessionStartRemaining = o.SessionStartTotal
	}
	if o.ResetAfter <= 0 {
		o.ResetAfter = 24 * time.Hour
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 41250 * time.Millisecond
	}
	if o.ZombieTimeout <= 0 {
		o.ZombieTimeout = o.HeartbeatInterval + o.HeartbeatInterval/2
	}
	if o.IdentifyInterval <= 0 {
		o.IdentifyInterval = 5 * time.Second
	}
	if o.SendLimit <= 0 {
		o.SendLimit = 120
	}
	if o.SendWindow <= 0 {
		o.SendWindow = 60 * time.Second
	}
	if o.ReplayBuffer <= 0 {
		o.ReplayBuffer = 1000
	}
	if o.RecordLimit <= 0 {
		o.RecordLimit = 100000
	}
	return o
}
