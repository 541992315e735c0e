package cluster

import (
	"context"
	"log/slog"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/throttle"
)

// RefusedBadShardID is the refusal reason of a command whose shard_id
// header is not an integer (the codec names the others).
const RefusedBadShardID = "bad_shard_id"

// refusalLog logs refused commands at most once per warnEvery. What it
// holds back is never lost from the log: when a window ends with refusals
// left unlogged, one line says how many, even if no refusal follows (a
// flood that stops within the window would otherwise leave one line for
// any number of refusals).
type refusalLog struct {
	log  *slog.Logger
	warn *throttle.Limiter
}

func newRefusalLog(log *slog.Logger, clk clock.Clock) *refusalLog {
	return &refusalLog{log: log, warn: throttle.NewSummarizing(clk, warnEvery, func(n int) {
		log.LogAttrs(context.Background(), slog.LevelWarn, "refused commands not logged one by one",
			slog.Int("suppressed", n), slog.Duration("within", warnEvery))
	})}
}

func (r *refusalLog) refused(reason string, attrs ...slog.Attr) {
	if ok, n := r.warn.Allow(); ok {
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "dropped a command from gateway_commands: refused, it reaches no shard",
			append(attrs, slog.String("reason", reason), slog.Int("suppressed_since_last", n))...)
	}
}
