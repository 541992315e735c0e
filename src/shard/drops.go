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

// dropWarnEvery spaces the warnings about drops of one kind; a window that
// held some back ends with a line saying how many (the metrics count all).
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

// NewThrottles returns the throttles for all the shards of one process;
// log gets the held-back counts of command drops when a window ends.
func NewThrottles(clk clock.Clock, log *slog.Logger) *Throttles {
	return &Throttles{
		freeOSMemory: throttle.New(clk, dropWarnEvery),
		commandDrops: map[string]*throttle.Limiter{
			dropQueueFull: heldBackDrops(clk, log, dropQueueFull),
			dropExpired:   heldBackDrops(clk, log, dropExpired),
		},
		releaseMemory: debug.FreeOSMemory,
	}
}

// newPayloadDropThrottles returns one shard's throttles of payload drop
// warnings, by reason.
func newPayloadDropThrottles(clk clock.Clock, log *slog.Logger) map[string]*throttle.Limiter {
	return map[string]*throttle.Limiter{
		dropFrameTooLarge:    heldBackDrops(clk, log, dropFrameTooLarge),
		dropInflatedTooLarge: heldBackDrops(clk, log, dropInflatedTooLarge),
	}
}

// heldBackDrops throttles the warnings about drops of one kind. The drops
// it held back are logged when the window ends, whatever else happens (the
// shard may send nothing, and the drops may have stopped).
func heldBackDrops(clk clock.Clock, log *slog.Logger, reason string) *throttle.Limiter {
	return throttle.NewSummarizing(clk, dropWarnEvery, func(n int) {
		log.Warn("more drops since the last warning", slog.String("reason", reason), slog.Int("suppressed", n))
	})
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
