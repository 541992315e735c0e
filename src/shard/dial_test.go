package shard

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/codec"
	"github.com/cordis-gateway/cordis/src/config"
	"github.com/cordis-gateway/cordis/src/state"
)

// blackhole accepts TCP connections and never answers nor reads: a stalled
// websocket handshake.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for c := range conns {
			_ = c.Close()
		}
	})
	return "ws://" + ln.Addr().String()
}

func TestDialEndsAtOnceWhenCancelledDuringAStalledHandshake(t *testing.T) {
	u := blackhole(t)
	d := &websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ws, err := dial(ctx, d, u+"/?v=10")
		if ws != nil {
			_ = ws.Close()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the handshake stall
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("dial took %v after cancel", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dial still waiting 10 s after cancel: it waits out the handshake deadline")
	}
}

func TestShardStopsAtOnceBehindAStalledHandshake(t *testing.T) {
	s := New(Config{
		ID: 0, Total: 1, Token: config.NewSecret("test-token"), Codec: codec.JSON{}, GatewayURL: blackhole(t),
		Timeouts:  Timeouts{Open: 30 * time.Second, Hello: 5 * time.Second, Ready: time.Minute, Guild: time.Second, Reconnect: time.Minute},
		Identify:  freeLimiter{},
		Sessions:  state.NewMemorySessions(),
		Publisher: &recordingPublisher{ch: make(chan published, 1)},
		Clock:     clock.Real(),
		Logger:    slog.New(slog.DiscardHandler),
		Rand:      func() float64 { return 0.5 },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(200 * time.Millisecond) // the dial is stalled by now
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shard still dialling 5 s after cancel: shutdown would hit the hard stop")
	}
}
