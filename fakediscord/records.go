package fakediscord

import (
	"net/http"
	"time"
)

// Request is one recorded REST request (websocket handshakes are recorded
// as Connections instead).
type Request struct {
	Time   time.Time
	Method string
	Path   string
	Query  string
	// Header is the request's headers without Authorization.
	Header http.Header
	// Authorized tells whether Authorization was "Bot <token>".
	Authorized bool
	Status     int
}

// ConnInfo describes one gateway websocket connection.
type ConnInfo struct {
	ID int
	// URL is the path and query the client connected to, e.g.
	// "/resume?v=10&encoding=etf&compress=zlib-stream".
	URL string
	// Path is "" for the main url and "/resume" for resume_gateway_url.
	Path     string
	Encoding string
	Compress Compression
	Opened   time.Time
	Closed   time.Time // zero while open
	// Shard is the shard id after IDENTIFY or RESUME, -1 before.
	Shard     int
	SessionID string
	// CloseCode is the close code the server sent, or the client's when it
	// closed first; 0 for a dropped connection without a close frame.
	CloseCode int
	// ClosedBy is "server", "client" or "drop" once closed.
	ClosedBy string
}

// Open tells whether the connection is still up.
func (c ConnInfo) Open() bool { return c.Closed.IsZero() }

// Identify is one IDENTIFY received.
type Identify struct {
	Time       time.Time
	ConnID     int
	URL        string
	Shard      int
	ShardTotal int
	Intents    int64
	// Accepted is false when it was refused (by close code or op 9).
	Accepted bool
	// Refusal says why it was refused ("" when accepted).
	Refusal   string
	SessionID string
	Payload   map[string]any
}

// Resume is one RESUME received.
type Resume struct {
	Time      time.Time
	ConnID    int
	URL       string
	Shard     int // -1 when the session was unknown
	SessionID string
	Seq       int64
	Accepted  bool
	Refusal   string
	// Replayed is how many dispatches were replayed before RESUMED.
	Replayed int
}

// Violation kinds: a rule of Discord's the client broke.
const (
	ViolationIdentifyRate     = "identify_rate_limit"
	ViolationSessionStart     = "session_start_limit"
	ViolationSendLimit        = "send_limit"
	ViolationHeartbeatTimeout = "heartbeat_timeout"
	ViolationDecode           = "decode_error"
	ViolationUnknownOp        = "unknown_opcode"
	ViolationNotAuthenticated = "not_authenticated"
	ViolationAlreadyAuthed    = "already_authenticated"
	ViolationAuthFailed       = "authentication_failed"
	ViolationInvalidShard     = "invalid_shard"
	ViolationInvalidIntents   = "invalid_intents"
	ViolationDisallowed       = "disallowed_intents"
	ViolationBadURL           = "bad_gateway_url"
	ViolationInvalidSeq       = "invalid_seq"
	ViolationInvalidPayload   = "invalid_payload"
)

// Violation is a broken rule, with the close code it caused (0 when the
// answer was op 9 rather than a close).
type Violation struct {
	Time   time.Time
	ConnID int
	Shard  int
	Kind   string
	Code   int
	Detail string
}

// Message is one websocket message the server received.
type Message struct {
	Time   time.Time
	ConnID int
	Shard  int // -1 before IDENTIFY/RESUME
	Raw    []byte
	// Op is -1 when the message did not decode.
	Op      int
	Payload map[string]any
	D       any
	Err     string
}

// Dispatch is one op 0 payload written to a connection, with the exact
// bytes before compression.
type Dispatch struct {
	Time      time.Time
	ConnID    int
	Shard     int
	SessionID string
	Seq       int64
	T         string
	Raw       []byte
	Replay    bool
}

// ShardState is the current state of one shard id.
type ShardState struct {
	Shard      int
	ShardTotal int
	SessionID  string
	Seq        int64
	// ConnID is the connection carrying the session, 0 when disconnected.
	ConnID          int
	Connected       bool
	Received        int64
	Dispatched      int64
	DispatchedBytes int64
}

// records holds append-only lists. Snapshots share their backing arrays
// (capped at their length), so taking one is cheap and appends never race
// with readers.
type records struct {
	requests   []Request
	identifies []Identify
	resumes    []Resume
	violations []Violation
	received   []Message
	dispatches []Dispatch
}

func appendCapped[T any](s []T, v T, limit int) []T {
	if len(s) >= limit {
		// Drop the oldest tenth into a fresh array: old snapshots keep theirs.
		s = append(make([]T, 0, limit), s[len(s)-limit+limit/10+1:]...)
	}
	return append(s, v)
}

func capped[T any](s []T) []T { return s[:len(s):len(s)] }
