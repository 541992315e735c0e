package redisstate

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/logging/logtest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const testBot = "198622483471925248"

// roundTrips counts what the client sends: single commands and pipelines
// (one network round trip each).
type roundTrips struct {
	commands  atomic.Int64
	pipelines atomic.Int64
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// A new pooled connection says HELLO first; that is set-up, not a
		// call made by the code under test.
		if cmd.Name() != "hello" {
			h.commands.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipelines.Add(1)
		return next(ctx, cmds)
	}
}

func (h *roundTrips) total() int64 { return h.commands.Load() + h.pipelines.Load() }

func (h *roundTrips) reset() {
	h.commands.Store(0)
	h.pipelines.Store(0)
}

// newMini starts a miniredis and a client for it; the client is warmed up
// so that connection set-up commands do not show in later counts.
func newMini(t testing.TB) (*miniredis.Miniredis, *redis.Client, *roundTrips) {
	t.Helper()
	mr := miniredis.RunT(t)
	mr.SetTime(t0)
	client := newClient(t, mr.Addr())
	return mr, client, addCounter(t, client)
}

func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	client := redis.NewClient(&redis.Options{
		Addr: addr,
		// miniredis lacks CLIENT SETINFO; it would show as an extra round trip.
		DisableIdentity: true,
		MaxRetries:      -1, // a failed call must show at once, not after retries
		DialerRetries:   1,
		DialTimeout:     time.Second,
		ReadTimeout:     time.Second,
		WriteTimeout:    time.Second,
	})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func addCounter(t testing.TB, client *redis.Client) *roundTrips {
	t.Helper()
	require.NoError(t, client.Ping(context.Background()).Err())
	h := &roundTrips{}
	client.AddHook(h)
	return h
}

func newLogger() (*slog.Logger, *logtest.Buffer) {
	b := &logtest.Buffer{}
	return slog.New(slog.NewJSONHandler(b, nil)), b
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// closedAddr is a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
