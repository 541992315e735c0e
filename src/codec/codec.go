// Package codec reads and writes Discord gateway payloads in the two
// encodings Discord offers (ETF and JSON).
//
// Reading is scanning, not decoding: Scan finds op, s, t and where d lies,
// without allocating and without touching the bytes, because every dispatch
// is forwarded to RabbitMQ exactly as it came off the wire (DESIGN.md §3).
// Only the handful of control payloads the gateway itself needs (HELLO,
// READY, op 9) are looked into further.
package codec

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Gateway opcodes (DESIGN.md §4).
const (
	OpDispatch            = 0
	OpHeartbeat           = 1
	OpIdentify            = 2
	OpPresenceUpdate      = 3
	OpVoiceStateUpdate    = 4
	OpResume              = 6
	OpReconnect           = 7
	OpRequestGuildMembers = 8
	OpInvalidSession      = 9
	OpHello               = 10
	OpHeartbeatACK        = 11
)

// MaxCommandSize is Discord's limit for one client payload; larger ones are
// closed with 4002.
const MaxCommandSize = 4096

// Frame is the scanned envelope of one payload. T and D alias the scanned
// buffer and are only valid until it is reused.
type Frame struct {
	Op     int
	Seq    int64 // valid when HasSeq
	HasSeq bool  // false when s is null or absent
	T      []byte
	// D is the encoded d value (ETF: the term without the 131 version byte;
	// JSON: the raw value); nil when absent, and nil for a JSON dispatch
	// other than READY that puts d last, as Discord does (see JSON.Scan).
	D []byte
}

// Identify is the d of an IDENTIFY (op 2). Compress is always false: the
// gateway uses transport compression only.
type Identify struct {
	Token          string
	OS             string
	Browser        string
	Device         string
	LargeThreshold int
	ShardID        int
	ShardTotal     int
	Intents        int64
}

// Resume is the d of a RESUME (op 6).
type Resume struct {
	Token     string
	SessionID string
	Seq       int64
}

// Ready holds what the gateway keeps from READY (DESIGN.md §5: nothing else).
type Ready struct {
	SessionID string
	ResumeURL string
	Guilds    int // entries in READY's guilds list: GUILD_CREATEs to expect
}

// Codec is one gateway encoding.
type Codec interface {
	// Name is the value of the encoding query parameter: "etf" or "json".
	Name() string
	// ContentType is the AMQP content type of published dispatches.
	ContentType() string
	// Binary reports whether payloads travel as binary websocket messages.
	Binary() bool

	// Scan fills f from one complete payload without allocating.
	Scan(payload []byte, f *Frame) error
	// HelloInterval reads heartbeat_interval from a HELLO's d.
	HelloInterval(d []byte) (time.Duration, error)
	// Ready reads session_id and resume_gateway_url from a READY's d.
	Ready(d []byte) (Ready, error)
	// Resumable reads the boolean d of an INVALID_SESSION.
	Resumable(d []byte) (bool, error)

	// AppendHeartbeat appends an op 1 with d = seq, or null when !hasSeq.
	AppendHeartbeat(dst []byte, seq int64, hasSeq bool) []byte
	// AppendIdentify appends an op 2.
	AppendIdentify(dst []byte, id Identify) []byte
	// AppendResume appends an op 6.
	AppendResume(dst []byte, r Resume) []byte

	// CommandOp fully decodes a command from a worker and returns its op. The
	// payload must be a map with exactly one integer op (ErrDuplicateOp
	// otherwise); in ETF every map key must be a binary (atom keys make
	// Discord close with 4002) and terms nest at most 64 deep.
	CommandOp(payload []byte) (int, error)
}

// Errors ValidateCommand wraps, so that a refusal can be told apart
// (RefusalReason); any other error means the command did not decode.
var (
	// ErrRefusedOp: ops 1, 2 and 6 belong to the gateway.
	ErrRefusedOp = errors.New("op is reserved for the gateway")
	// ErrDuplicateOp: the top-level map has op twice. Decoders disagree
	// on which one wins, so what the gateway checked might not be what
	// Discord acts on.
	ErrDuplicateOp = errors.New("op appears more than once")
	// ErrCommandTooLarge: above MaxCommandSize.
	ErrCommandTooLarge = errors.New("command too large")
)

// Reasons a command is refused (the metric's reason label).
const (
	RefusedGatewayOp   = "gateway_op"
	RefusedDuplicateOp = "duplicate_op"
	RefusedTooLarge    = "too_large"
	RefusedUndecodable = "undecodable"
)

// RefusalReason names why ValidateCommand refused a command.
func RefusalReason(err error) string {
	switch {
	case errors.Is(err, ErrRefusedOp):
		return RefusedGatewayOp
	case errors.Is(err, ErrDuplicateOp):
		return RefusedDuplicateOp
	case errors.Is(err, ErrCommandTooLarge):
		return RefusedTooLarge
	}
	return RefusedUndecodable
}

// ValidateCommand applies every rule of DESIGN.md §3 to a worker command and
// returns its op. A command that fails must never reach Discord.
func ValidateCommand(c Codec, payload []byte) (int, error) {
	if len(payload) > MaxCommandSize {
		return 0, fmt.Errorf("command of %d bytes exceeds %d: %w", len(payload), MaxCommandSize, ErrCommandTooLarge)
	}
	op, err := c.CommandOp(payload)
	if err != nil {
		return 0, fmt.Errorf("decode %s command: %w", c.Name(), err)
	}
	switch op {
	case OpHeartbeat, OpIdentify, OpResume:
		return op, fmt.Errorf("op %d: %w", op, ErrRefusedOp)
	}
	return op, nil
}

// commandOp checks the op a command decoded to (-1: none was found).
func commandOp(op int64) (int, error) {
	if op < 0 || op > math.MaxInt32 {
		return 0, errors.New("no integer op")
	}
	return int(op), nil
}

// ForEncoding returns the codec for a CORDIS_WS_ENCODING value.
func ForEncoding(name string) (Codec, error) {
	switch name {
	case "etf":
		return ETF{}, nil
	case "json":
		return JSON{}, nil
	}
	return nil, fmt.Errorf("unknown encoding %q (accepted: etf, json)", name)
}
