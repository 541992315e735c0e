// Package fakediscord is a fake of the parts of Discord a gateway talks to:
// GET /api/v10/gateway/bot, GET /api/v10/gateway and the gateway
// websocket. It is strict where Discord is strict, records everything, and
// can be driven from tests (Go methods) or from scripts (ControlHandler,
// the fakediscord binary). It shares no code with the gateway: its ETF and
// compression are its own.
//
// # Starting
//
//	srv := fakediscord.New(fakediscord.Options{Shards: 2, Guilds: 3, HeartbeatInterval: time.Second})
//	if err := srv.Start(); err != nil { ... }
//	defer srv.Close()
//	// CORDIS_DISCORD_API=srv.APIURL()  (http://127.0.0.1:PORT/api/v10)
//	// CORDIS_AUTH=srv.Options().Token
//
// APIURL, GatewayURL (ws://127.0.0.1:PORT, what /gateway/bot returns) and
// ResumeURL (ws://127.0.0.1:PORT/resume, READY's resume_gateway_url) give
// the addresses. Options documents every knob and its default; the
// timings (HeartbeatInterval, ZombieTimeout, IdentifyInterval, SendWindow)
// can be shortened for tests.
//
// # What it enforces
//
// URL: v=9, v=10 or none (else close 4012), encoding=json|etf (none means
// json) and compress empty, zlib-stream or zstd-stream (else 4000).
// IDENTIFY: token bare or "Bot <token>" (4004), shard [id,total] with
// 0 <= id < total (4010), intents known (4013), privileged intents only if
// in Options.PrivilegedIntents (4014), large_threshold 50..250 and compress
// a boolean (4002), one IDENTIFY per bucket (shard_id % MaxConcurrency) per
// IdentifyInterval and session_start_limit.remaining > 0 (else op 9 false
// and a violation). RESUME: unknown/ended session, a seq that is not a
// number or older than the replay buffer gets op 9 false; a seq beyond the
// last one sent closes 4007 and ends the session. Undecodable payloads,
// ETF with atom keys or payloads over 4096 bytes: 4002. Ops 3, 4 and 8
// with a shape Discord does not document: 4002; op 8 for the whole member
// list without GUILD_MEMBERS: 4013. Unknown op: 4001. Ops 3/4/8 before
// IDENTIFY: 4003. A second IDENTIFY: 4005. More than SendLimit messages
// per SendWindow: 4008. No heartbeat for ZombieTimeout: 4009. Each broken
// rule is also a Violation. A close with 4004, 4007, 4009 or 4010-4014
// ends the session; other closes leave it resumable. Op 9 (either d)
// leaves the socket unauthenticated, so RESUME or IDENTIFY may follow on it.
//
// What it sends: HELLO, op 11 for each op 1, READY (v, user, guilds as
// unavailable, session_id, resume_gateway_url, shard when IDENTIFY sent
// one, application) then a GUILD_CREATE per guild, GUILD_MEMBERS_CHUNKs
// for op 8, RESUMED after a replay. IDENTIFY compress: true without
// transport compression makes every later message a binary frame holding
// one complete zlib stream (payload compression). ETF is what Discord's
// Erlang sends (atom keys, atom t, nil/true/false atoms, binaries for
// strings, SMALL_BIG_EXT for large integers, STRING_EXT for lists of small
// integers like shard); it is checked byte for byte against erl. Snowflake
// values are strings in JSON and integers in ETF, as on Discord. zlib-stream
// keeps one deflate context per connection (its own small LZ77 encoder with
// a 32 KB window shared across messages and fixed Huffman codes, so back
// references cross message boundaries as on Discord, at ~35 KB per
// connection) and sync-flushes each message (ends with 00 00 ff ff).
// zstd-stream writes one never-ending frame per connection
// (klauspost/compress), flushed per message; it costs ~470 KB per
// connection.
//
// # Controls
//
// Shard arguments are a shard id or AllShards; they act on the shard's
// latest session and the connection carrying it.
//
//	Dispatch(shard, t, d) (seq, error)   op 0 with the session's next s; kept for replay
//	Send(shard, op, d)                   any other payload
//	RequestHeartbeat(shard)              op 1
//	Reconnect(shard)                     op 7
//	InvalidSession(shard, resumable)     op 9 (false also ends the session)
//	CloseShard(shard, code, reason)      close frame with any code
//	DropShard(shard)                     TCP close without a close frame
//	SetHeartbeatACKs(shard, enabled)     stop/resume op 11
//	SendRaw(shard, bytes)                one websocket message, not compressed
//	SendPayload(shard, bytes)            bytes through the connection's compression
//	SendBomb(shard, size)                a compression bomb inflating to size, built in the
//	                                     connection's zlib/zstd context (the stream stays valid)
//	Load(ctx, LoadOptions) (LoadReport, error)
//
// d may be map[string]any, []any, string, bool, nil, any integer type,
// float64, Snowflake, Atom, RawJSON or anything encoding/json accepts.
// Map keys are written sorted, so the bytes are reproducible.
//
// # Reading what happened
//
// Snapshot returns everything recorded: Requests (REST, without the
// Authorization header), Connections (URL path+query, encoding,
// compression, shard, how and with which code it closed), Identifies and
// Resumes (time, connection, URL, shard, intents, accepted or why not),
// Violations, Received (every client message: raw bytes and decoded),
// Dispatches (the exact bytes of every op 0 written, before compression,
// recorded before the write so anything a client saw is already there)
// and per-shard ShardState. Helpers: ReceivedBy, ReceivedOp, DispatchesTo,
// AcceptedIdentifies, ViolationsOf, Conn.
//
// WaitFor(ctx, cond) re-checks cond after every recorded change instead of
// polling blindly; WaitIdentified, WaitResumed, WaitConnected and
// WaitReceived cover the usual conditions.
//
//	snap, err := srv.WaitIdentified(ctx, 2)
//	seq, _ := srv.Dispatch(0, "MESSAGE_CREATE", fakediscord.SampleMessageCreate())
//	sent := snap.DispatchesTo(0) // compare Raw with what the broker got
//
// # Payload builders
//
// SampleMessageCreate, SampleTypingStart, SamplePresenceUpdate,
// SampleGuildMemberUpdate, SampleMessageReactionAdd, SampleGuildCreate,
// GuildMember, SampleUser and SampleMember return d values shaped like
// Discord's documented objects (every field Discord always sends, optional
// ones absent rather than null), for benchmarks elsewhere too. EncodePayload,
// DecodePayload, MarshalETF, MarshalETFClient and UnmarshalETF are exported
// for tests that need to build or read payloads independently of the
// gateway's codec.
package fakediscord
