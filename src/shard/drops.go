package shard

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
)

// Reasons a payload from Discord or a command to it is dropped; they label
// the drop metrics.
const (
	dropFrameTooLarge    = "frame_too_large"    // uncompressed websocket message over maxFrame
	dropInflatedTooLarge = "inflated_too_large" // payload inflated past inflate.MaxPayload
	dropQueueFull        = "queue_full"         // command queue full
	dropExpired          = "expired"            // command older than maxCommandAge
)

// DropObserver is implemented by an Observer that also counts drops
// (metrics.Metrics); an Observer without it is simply not told.
type DropObserver interface {
	PayloadDropped(shardID int, reason string)
	CommandDropped(shardID int, reason string)
}

// dropWarnEvery spaces the warnings about drops of one kind on one shard;
// the next warning says how many were held back (the metrics count all).
const dropWarnEvery = 10 * time.Second

// dropLog throttles the warnings about drops. Safe for concurrent use: the
// reader, the writer and the command router all report.
type dropLog struct {
	mu    sync.Mutex
	kinds map[string]*dropKind
}

type dropKind struct {
	last       time.Time
	suppressed int
}

// allow reports whether to warn about a drop of kind now, and how many
// drops of that kind were held back since the last warning.
func (d *dropLog) allow(clk clock.Clock, kind string) (bool, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.kinds == nil {
		d.kinds = make(map[string]*dropKind)
	}
	k := d.kinds[kind]
	if k == nil {
		k = &dropKind{}
		d.kinds[kind] = k
	}
	now := clk.Now()
	if !k.last.IsZero() && now.Sub(k.last) < dropWarnEvery {
		k.suppressed++
		return false, 0
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	return true, n
}

// flush takes the held-back count of kind if the interval has passed, so a
// burst of drops that then stops is still reported.
func (d *dropLog) flush(clk clock.Clock, kind string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.kinds[kind]
	if k == nil || k.suppressed == 0 || clk.Now().Sub(k.last) < dropWarnEvery {
		return 0
	}
	n := k.suppressed
	k.last, k.suppressed = clk.Now(), 0
	return n
}

// payloadDropped counts and (throttled) logs a payload from Discord dropped
// for being over a size bound. Its seq and t are unknown: its bytes were
// never kept.
func (s *Shard) payloadDropped(reason string, size int64, limit int) {
	if o, ok := s.cfg.Observer.(DropObserver); ok {
		o.PayloadDropped(s.cfg.ID, reason)
	}
	if ok, n := s.drops.allow(s.cfg.Clock, reason); ok {
		s.log.Warn("dropped a payload from Discord over the size bound; the connection goes on",
			slog.String("reason", reason), slog.Int64("bytes", size), slog.Int("limit", limit),
			slog.Int64("last_seq", s.seq.Load()), slog.Int("suppressed", n))
		// The buffers it grew are already let go; hand their memory back to
		// the OS now rather than whenever the scavenger gets to it. Throttled
		// with the warning, so a flood of such payloads cannot make this a
		// cost: at most once per dropWarnEvery per shard.
		debug.FreeOSMemory()
	}
}

// commandDropped counts and (throttled) logs a command that will never
// reach Discord.
func (s *Shard) commandDropped(reason string, age time.Duration) {
	if o, ok := s.cfg.Observer.(DropObserver); ok {
		o.CommandDropped(s.cfg.ID, reason)
	}
	if ok, n := s.drops.allow(s.cfg.Clock, reason); ok {
		attrs := []slog.Attr{slog.String("reason", reason), slog.Int("queue_size", CommandQueueSize),
			slog.Duration("max_age", maxCommandAge), slog.Int("suppressed", n)}
		if reason == dropExpired {
			attrs = append(attrs, slog.Duration("age", age))
		}
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "dropped a command for Discord", attrs...)
	}
}

// reportHeldBackDrops logs the drops held back by the throttle once their
// interval has passed, so the count is never lost when drops stop.
func (s *Shard) reportHeldBackDrops() {
	for _, kind := range []string{dropQueueFull, dropExpired, dropFrameTooLarge, dropInflatedTooLarge} {
		if n := s.drops.flush(s.cfg.Clock, kind); n > 0 {
			s.log.Warn("more drops since the last warning", slog.String("reason", kind), slog.Int("suppressed", n))
		}
	}
}
