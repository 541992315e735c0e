package shard

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/throttle"
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

// dropWarnEvery spaces the warnings about drops of one kind; the next
// warning says how many were held back (the metrics count all).
const dropWarnEvery = 10 * time.Second

// Throttles are shared by every shard of a process (Config.Throttles) so
// that what they limit does not multiply with the shard count: the forced
// full GC after an oversized payload (debug.FreeOSMemory, on a reader
// goroutine) runs at most once per dropWarnEvery in the process, and a
// command dropped on every shard at once (a broadcast during an outage) is
// warned about once, not once per shard. Payload drops, which each come
// from one shard's own connection, are throttled per shard.
type Throttles struct {
	freeOSMemory  *throttle.Limiter
	commandDrops  map[string]*throttle.Limiter // by reason; never changed after NewThrottles
	releaseMemory func()                       // debug.FreeOSMemory; tests count the calls
}

// NewThrottles returns the throttles for all the shards of one process.
func NewThrottles(clk clock.Clock) *Throttles {
	return &Throttles{
		freeOSMemory: throttle.New(clk, dropWarnEvery),
		commandDrops: map[string]*throttle.Limiter{
			dropQueueFull: throttle.New(clk, dropWarnEvery),
			dropExpired:   throttle.New(clk, dropWarnEvery),
		},
		releaseMemory: debug.FreeOSMemory,
	}
}

// newPayloadDropThrottles returns one shard's throttles of payload drop
// warnings, by reason.
func newPayloadDropThrottles(clk clock.Clock) map[string]*throttle.Limiter {
	return map[string]*throttle.Limiter{
		dropFrameTooLarge:    throttle.New(clk, dropWarnEvery),
		dropInflatedTooLarge: throttle.New(clk, dropWarnEvery),
	}
}

// payloadDropped counts and (throttled) logs a payload from Discord dropped
// for being over a size bound. Its seq and t are unknown: its bytes were
// never kept.
func (s *Shard) payloadDropped(reason string, size int64, limit int) {
	if o, ok := s.cfg.Observer.(DropObserver); ok {
		o.PayloadDropped(s.cfg.ID, reason)
	}
	if ok, n := s.payloadDrops[reason].Allow(); ok {
		s.log.Warn("dropped a payload from Discord over the size bound; the connection goes on",
			slog.String("reason", reason), slog.Int64("bytes", size), slog.Int("limit", limit),
			slog.Int64("last_seq", s.seq.Load()), slog.Int("suppressed", n))
	}
	// The buffers it grew are already let go; hand their memory back to the
	// OS now rather than whenever the scavenger gets to it. A forced full GC
	// is costly, so a flood of such payloads on any number of shards runs it
	// at most once per dropWarnEvery in the process.
	if ok, _ := s.cfg.Throttles.freeOSMemory.Allow(); ok {
		s.cfg.Throttles.releaseMemory()
	}
}

// commandDropped counts and (throttled) logs a command that will never
// reach Discord.
func (s *Shard) commandDropped(reason string, age time.Duration) {
	if o, ok := s.cfg.Observer.(DropObserver); ok {
		o.CommandDropped(s.cfg.ID, reason)
	}
	// Throttled across the process's shards: n counts the drops held back
	// on all of them.
	if ok, n := s.cfg.Throttles.commandDrops[reason].Allow(); ok {
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
	for _, lims := range []map[string]*throttle.Limiter{s.cfg.Throttles.commandDrops, s.payloadDrops} {
		for kind, lim := range lims {
			if n := lim.Flush(); n > 0 {
				s.log.Warn("more drops since the last warning", slog.String("reason", kind), slog.Int("suppressed", n))
			}
		}
	}
}
