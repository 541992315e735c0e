package shard

import (
	"errors"
	"fmt"
)

// Action is what a shard does after its connection ends.
type Action int

const (
	// Resume reconnects to resume_gateway_url and sends RESUME.
	Resume Action = iota
	// Reidentify drops the session and sends a fresh IDENTIFY on the main URL.
	Reidentify
	// Fatal stops the shard: reconnecting cannot help.
	Fatal
)

func (a Action) String() string {
	switch a {
	case Resume:
		return "resume"
	case Reidentify:
		return "identify"
	case Fatal:
		return "fatal"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// fatalCodes are Discord close codes that no reconnect can fix, each with
// what the operator has to change (DESIGN.md §4).
var fatalCodes = map[int]string{
	4004: "authentication failed: Discord rejected the token, check CORDIS_AUTH",
	4010: "invalid shard: check CORDIS_STARTING_SHARD, CORDIS_SHARD_COUNT and CORDIS_TOTAL_SHARD_COUNT",
	4011: "sharding required: the bot is in too many guilds for this shard count, raise CORDIS_TOTAL_SHARD_COUNT",
	4012: "invalid API version",
	4013: "invalid intents: check CORDIS_WS_INTENTS",
	4014: "disallowed intents: enable the privileged intents in the developer portal or remove them from CORDIS_WS_INTENTS",
}

// ClassifyClose decides what a close code from Discord means. Codes that end
// the session (4003 not authenticated, 4007 invalid seq, 4009 session timed
// out) need a new IDENTIFY; every other code, including ones Discord adds
// later, keeps the session resumable.
func ClassifyClose(code int) Action {
	if _, ok := fatalCodes[code]; ok {
		return Fatal
	}
	switch code {
	case 4003, 4007, 4009:
		return Reidentify
	}
	return Resume
}

// FatalError is returned by Run when Discord closed the shard with a code
// that reconnecting cannot fix. The process must exit non-zero.
type FatalError struct {
	ShardID int
	Code    int
	Reason  string // Discord's close reason text, if any
}

func (e *FatalError) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("shard %d: %s", e.ShardID, e.Reason)
	}
	msg := fmt.Sprintf("shard %d: Discord closed the connection with %d (%s)", e.ShardID, e.Code, fatalCodes[e.Code])
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Reasons a connection ended on our side. They decide the next Action just
// like close codes from Discord do.
var (
	errZombie          = errors.New("no heartbeat ACK between two heartbeats (zombie connection)")
	errReconnect       = errors.New("Discord asked to reconnect (op 7)")
	errInvalidResume   = errors.New("invalid session, resumable (op 9 true)")
	errInvalidSession  = errors.New("invalid session, not resumable (op 9 false)")
	errHelloTimeout    = errors.New("no HELLO within CORDIS_WS_HELLO_TIMEOUT")
	errReadyTimeout    = errors.New("no READY within CORDIS_WS_READY_TIMEOUT")
	errResumeTimeout   = errors.New("no RESUMED within CORDIS_WS_RECONNECT_TIMEOUT")
	errShutdown        = errors.New("shutting down")
	errUnexpectedHello = errors.New("first payload was not HELLO")
)
