package redisstate

import (
	"context"
	"fmt"
	"log/slog"
)

// ClientLog routes go-redis's own messages (dial failures, pool events),
// which it otherwise prints to stderr as plain text, into slog at debug
// level: during an outage this package already logs rate-limited warnings.
// Install it once at start: redis.SetLogger(redisstate.ClientLog{Logger: l}).
type ClientLog struct{ Logger *slog.Logger }

// Printf implements go-redis's logging interface.
func (c ClientLog) Printf(ctx context.Context, format string, v ...any) {
	c.Logger.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// orDiscard lets constructors accept a nil logger.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
