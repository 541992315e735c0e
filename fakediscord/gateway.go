package fakediscord

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fasthttp/websocket"
)

// maxClientPayload is Discord's limit for what a client sends.
const maxClientPayload = 4096

// serveGateway upgrades to a websocket, sends HELLO and reads until the
// connection ends. The handler goroutine is the connection's reader.
func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(2) // this reader and the writer below
	s.mu.Unlock()
	defer s.wg.Done()

	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.wg.Done() // no writer
		return      // the upgrader already answered with an error status
	}
	ws.SetReadLimit(1 << 20) // larger than 4096 so oversize closes with 4002
	q := r.URL.Query()
	enc := Encoding(q.Get("encoding"))
	if !q.Has("encoding") {
		enc = EncodingJSON // Discord's default
	}
	c := &conn{
		s:        s,
		ws:       ws,
		version:  gatewayVersion(q),
		enc:      enc,
		compress: Compression(q.Get("compress")),
		url:      r.URL.RequestURI(),
		shard:    -1,
		wake:     make(chan struct{}, 1),
		readDone: make(chan struct{}),
	}
	c.lastBeat.Store(time.Now().UnixNano())
	s.register(c, strings.TrimSuffix(r.URL.Path, "/"))
	go c.writeLoop()

	if code, why := checkGatewayQuery(c.version, c.enc, c.compress); code != 0 {
		s.violation(c, ViolationBadURL, code, why)
		c.enqueue(outMsg{kind: outClose, code: code, reason: why})
	} else {
		_ = s.sendOp(c, OpHello, map[string]any{
			"heartbeat_interval": s.opts.HeartbeatInterval.Milliseconds(),
			"_trace":             s.trace(),
		})
	}
	c.readLoop()
}

// gatewayVersion is the v of the URL; without one Discord serves the
// current version.
func gatewayVersion(q url.Values) string {
	if !q.Has("v") {
		return "10"
	}
	return q.Get("v")
}

func checkGatewayQuery(v string, enc Encoding, comp Compression) (int, string) {
	switch {
	case v != "10" && v != "9":
		return 4012, "Invalid API version."
	case enc != EncodingJSON && enc != EncodingETF:
		return 4000, fmt.Sprintf("Unknown encoding %q: use json or etf.", string(enc))
	case comp != CompressNone && comp != CompressZlib && comp != CompressZstd:
		return 4000, fmt.Sprintf("Unknown compression %q: use zlib-stream or zstd-stream.", string(comp))
	}
	return 0, ""
}

func (c *conn) readLoop() {
	defer close(c.readDone)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			code := 0
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code = ce.Code
			}
			c.s.markClosed(c, code, "client")
			return
		}
		if c.closing.Load() {
			continue
		}
		c.handle(data)
	}
}

// handle applies Discord's rules to one message from the client.
func (c *conn) handle(data []byte) {
	now := time.Now()
	p, atomKeys, err := DecodePayload(c.enc, data)
	c.s.recordReceived(c, now, data, p, err)

	if c.overSendLimit(now) {
		c.fail(ViolationSendLimit, 4008, "Rate limited.", fmt.Sprintf("more than %d messages in %s", c.s.opts.SendLimit, c.s.opts.SendWindow))
		return
	}
	switch {
	case len(data) > maxClientPayload:
		c.fail(ViolationDecode, 4002, "Error while decoding payload.", fmt.Sprintf("payload of %d bytes (max %d)", len(data), maxClientPayload))
		return
	case err != nil:
		c.fail(ViolationDecode, 4002, "Error while decoding payload.", err.Error())
		return
	case atomKeys:
		c.fail(ViolationDecode, 4002, "Error while decoding payload.", "ETF map with atom keys")
		return
	}
	op, ok := asInt64(p["op"])
	if !ok {
		c.fail(ViolationDecode, 4002, "Error while decoding payload.", "op missing or not an integer")
		return
	}
	switch op {
	case OpHeartbeat:
		c.lastBeat.Store(now.UnixNano())
		if c.s.acksEnabled(c) {
			_ = c.s.sendOp(c, OpHeartbeatACK, nil) // fails only when closing
		}
	case OpIdentify:
		c.s.identify(c, now, p)
	case OpResume:
		c.s.resume(c, now, p)
	case OpPresenceUpdate, OpVoiceState, OpRequestMembers, OpSoundboard, OpChannelInfo:
		if !c.s.isIdentified(c) {
			c.fail(ViolationNotAuthenticated, 4003, "Not authenticated.", fmt.Sprintf("op %d before IDENTIFY", op))
			return
		}
		c.command(op, p["d"])
	default:
		c.fail(ViolationUnknownOp, 4001, "Unknown opcode.", fmt.Sprintf("op %d", op))
	}
}

// overSendLimit counts this message against SendLimit per SendWindow.
func (c *conn) overSendLimit(now time.Time) bool {
	cut := now.Add(-c.s.opts.SendWindow).UnixNano()
	i := 0
	for i < len(c.sends) && c.sends[i] <= cut {
		i++
	}
	c.sends = append(c.sends[i:], now.UnixNano())
	return len(c.sends) > c.s.opts.SendLimit
}

// fail records a violation and closes with code.
func (c *conn) fail(kind string, code int, reason, detail string) {
	c.s.violation(c, kind, code, detail)
	c.closing.Store(true)
	c.enqueue(outMsg{kind: outClose, code: code, reason: reason})
}
