package shard

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/codec"
	"github.com/cordis-gateway/cordis/src/config"
	"github.com/cordis-gateway/cordis/src/state"
)

// discordStub is a scripted stand-in for Discord's gateway: every
// connection is handed to the test, which plays Discord's side (JSON, no
// compression). Heartbeats are ACKed automatically unless autoAck is off.
type discordStub struct {
	t     *testing.T
	srv   *httptest.Server
	conns chan *stubConn
	mu    sync.Mutex
	ack   bool
}

type stubConn struct {
	t        *testing.T
	ws       *websocket.Conn
	url      string // path?query the shard dialed
	wmu      sync.Mutex
	payloads chan map[string]any // everything but heartbeats
	beats    chan any            // d of every heartbeat
	closed   chan struct{}
}

func newDiscordStub(t *testing.T) *discordStub {
	d := &discordStub{t: t, conns: make(chan *stubConn, 16), ack: true}
	up := websocket.Upgrader{}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &stubConn{t: t, ws: ws, url: r.URL.RequestURI(), payloads: make(chan map[string]any, 64),
			beats: make(chan any, 64), closed: make(chan struct{})}
		go c.readLoop(d)
		d.conns <- c
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *discordStub) setAutoAck(on bool) {
	d.mu.Lock()
	d.ack = on
	d.mu.Unlock()
}

func (d *discordStub) autoAck() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ack
}

func (d *discordStub) url() string { return "ws" + strings.TrimPrefix(d.srv.URL, "http") }

// next waits for the shard's next connection.
func (d *discordStub) next() *stubConn {
	d.t.Helper()
	select {
	case c := <-d.conns:
		return c
	case <-time.After(5 * time.Second):
		d.t.Fatal("shard did not connect")
		return nil
	}
}

func (c *stubConn) readLoop(d *discordStub) {
	defer close(c.closed)
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var p map[string]any
		if err := json.Unmarshal(msg, &p); err != nil {
			c.t.Errorf("shard sent invalid JSON %q: %v", msg, err)
			return
		}
		if p["op"] == float64(codec.OpHeartbeat) {
			c.beats <- p["d"]
			if d.autoAck() {
				c.send(map[string]any{"op": codec.OpHeartbeatACK})
			}
			continue
		}
		c.payloads <- p
	}
}

func (c *stubConn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *stubConn) sendRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *stubConn) hello(intervalMS int) {
	c.send(map[string]any{"op": codec.OpHello, "d": map[string]any{"heartbeat_interval": intervalMS}})
}

func (c *stubConn) closeWith(code int) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "stub"), time.Now().Add(time.Second))
	_ = c.ws.Close()
}

// expect waits for the next non-heartbeat payload and checks its op.
func (c *stubConn) expect(op int) map[string]any {
	c.t.Helper()
	select {
	case p := <-c.payloads:
		if p["op"] != float64(op) {
			c.t.Fatalf("got op %v, want %d: %v", p["op"], op, p)
		}
		d, _ := p["d"].(map[string]any)
		return d
	case <-time.After(5 * time.Second):
		c.t.Fatalf("no op %d from the shard", op)
		return nil
	}
}

// ready answers an IDENTIFY with READY (s=1).
func (c *stubConn) ready(stub *discordStub, sessionID string) {
	c.send(map[string]any{"op": 0, "s": 1, "t": "READY", "d": map[string]any{
		"v": 10, "session_id": sessionID, "resume_gateway_url": stub.url() + "/resume", "guilds": []any{},
	}})
}

type published struct {
	shardID int
	ref     int64
	key     string
	body    string
}

// recordingPublisher records what a shard publishes and, like RabbitMQ,
// confirms it at once (unless holdConfirms).
type recordingPublisher struct {
	ch           chan published
	shard        atomic.Pointer[Shard]
	holdConfirms bool
	fail         atomic.Int32 // refuse this many publishes (as when the broker is closing)
}

func (p *recordingPublisher) Publish(_ context.Context, shardID int, ref int64, key, body []byte) error {
	if p.fail.Load() > 0 {
		p.fail.Add(-1)
		return errors.New("test publisher refuses")
	}
	p.ch <- published{shardID, ref, string(key), string(body)}
	if s := p.shard.Load(); s != nil && !p.holdConfirms {
		s.Confirmed(ref)
	}
	return nil
}

func (p *recordingPublisher) next(t *testing.T) published {
	t.Helper()
	select {
	case m := <-p.ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("nothing published")
		return published{}
	}
}

type freeLimiter struct{}

func (freeLimiter) Acquire(ctx context.Context, _ int) error { return ctx.Err() }

// startShard runs a JSON, uncompressed shard 1 of 4 against stub.
func startShard(t *testing.T, stub *discordStub, clk clock.Clock, mutate func(*Config)) (*Shard, *recordingPublisher, func() error) {
	t.Helper()
	pub := &recordingPublisher{ch: make(chan published, 256)}
	cfg := Config{
		ID: 1, Total: 4, Token: config.NewSecret("test-token"), Codec: codec.JSON{}, GatewayURL: stub.url(),
		Intents: 513, LargeThreshold: 250,
		Timeouts:  Timeouts{Open: 5 * time.Second, Hello: 5 * time.Second, Ready: time.Minute, Guild: time.Second, Reconnect: time.Minute},
		Identify:  freeLimiter{},
		Sessions:  state.NewMemorySessions(),
		Publisher: pub,
		Clock:     clk,
		Logger:    slog.New(slog.DiscardHandler),
		Rand:      func() float64 { return 0.5 },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s := New(cfg)
	pub.shard.Store(s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		runErr = s.Run(ctx)
		close(done)
	}()
	wait := func() error {
		select {
		case <-done:
			return runErr
		case <-time.After(5 * time.Second):
			t.Error("shard did not stop")
			return nil
		}
	}
	t.Cleanup(func() {
		cancel()
		_ = wait()
	})
	return s, pub, wait
}
