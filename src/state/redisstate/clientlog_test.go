package redisstate

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/state"
)

func TestConstructorsAcceptANilLogger(t *testing.T) {
	mr, client, _ := newMini(t)
	mr.SetError("ERR down")
	l := NewLimiter(client, testBot, state.StartLimit{}, clock.NewFake(t0), nil)
	require.NoError(t, l.Acquire(context.Background(), 0))
	s := NewSessions(client, testBot, 0, 1, clock.NewFake(t0), nil)
	require.NoError(t, s.Save(context.Background(), 0, sess))
	require.Error(t, s.Flush(context.Background()))
}

func TestClientLogWritesDebugRecords(t *testing.T) {
	logger, logs := newLogger()
	ClientLog{Logger: logger}.Printf(context.Background(), "dial %s failed", "x")
	require.Zero(t, logs.Count("dial x failed"), "debug is off by default")
	debug := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ClientLog{Logger: debug}.Printf(context.Background(), "dial %s failed", "x")
	require.Equal(t, 1, logs.Count("redis client: dial x failed"))
}
