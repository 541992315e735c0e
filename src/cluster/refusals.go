package cluster

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
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
	log *slog.Logger
	clk clock.Clock

	mu         sync.Mutex
	last       time.Time // when the last line was logged
	suppressed int
	scheduled  bool // a summary is due at last+warnEvery
}

func (r *refusalLog) refused(reason string, attrs ...slog.Attr) {
	r.mu.Lock()
	now := r.clk.Now()
	if r.last.IsZero() || now.Sub(r.last) >= warnEvery {
		n := r.suppressed
		r.last, r.suppressed = now, 0
		r.mu.Unlock()
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "dropped a command from gateway_commands: refused, it reaches no shard",
			append(attrs, slog.String("reason", reason), slog.Int("suppressed_since_last", n))...)
		return
	}
	r.suppressed++
	if !r.scheduled {
		r.scheduled = true
		t := r.clk.NewTimer(r.last.Add(warnEvery).Sub(now))
		go func() { // ends when the window does, at most warnEvery from now
			<-t.C()
			r.summarize()
		}()
	}
	r.mu.Unlock()
}

// summarize logs how many refusals the window that just ended held back.
func (r *refusalLog) summarize() {
	r.mu.Lock()
	r.scheduled = false
	n := r.suppressed
	if n == 0 {
		r.mu.Unlock()
		return
	}
	r.last, r.suppressed = r.clk.Now(), 0
	r.mu.Unlock()
	r.log.LogAttrs(context.Background(), slog.LevelWarn, "refused commands not logged one by one",
		slog.Int("suppressed", n), slog.Duration("within", warnEvery))
}
