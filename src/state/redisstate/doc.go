// Package redisstate implements the identify limiter and the session store
// of package state on Redis (DESIGN.md §6), so that every cluster sharing a
// bot token and a Redis respects one identify rate, and a restarted process
// resumes its shards instead of identifying again.
//
// Keys (bot_id from BotID, never the token):
//
//	cordis:{bot_id}:identify:{max_concurrency}:{bucket}  SET NX PX 5000, never deleted
//	cordis:{bot_id}:session:{shard_id}                   hash session_id, seq,
//	                                                     resume_gateway_url, shard_total;
//	                                                     TTL state.SessionTTL
//
// Redis trouble never stops dispatching: the limiter falls back to
// in-process limits, and the session store does no I/O on a shard's behalf
// (every write goes out from its own flush loop, retried until it lands).
package redisstate
