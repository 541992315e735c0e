// Package memlimit keeps the Go GC's headroom above the live heap small and fixed instead
// of proportional, so that a full dispatch buffer costs little more than its bound in RSS.
//
// With the default GOGC=100 the heap may grow to twice what is live before a collection:
// a full 64 MiB buffer took ~1.5x its bound in RSS. Run sets a soft memory limit
// (debug.SetMemoryLimit) a fixed headroom above what is live, re-derived as the live heap
// moves. GOGC still applies below it, so a small heap (few shards, empty buffer) is
// collected exactly as before; the limit only binds when the live heap is larger than the
// headroom. The gateway's hot path does not allocate, so the extra collections are rare.
package memlimit

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
)

// Headroom is the room the GC gets above what is live when the buffer bound is
// bufferBound bytes: an eighth of the bound plus 4 MiB, so a full buffer costs at most
// ~1.19x its bound in RSS above idle (DESIGN.md: a full buffer costs <= 1.25x its bound).
func Headroom(bufferBound int) int64 { return int64(bufferBound)/8 + 4<<20 }

// Every is how often Run re-derives the limit: often enough that a stale limit (below a
// live heap that grew) cannot make the GC run back to back for long.
const Every = 100 * time.Millisecond

var names = [...]string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
	"/gc/cycles/total:gc-cycles",
}

// Usage is what the runtime reports, in bytes.
type Usage struct {
	Live     uint64 // heap marked live by the last GC
	Total    uint64 // all memory mapped by the runtime
	Released uint64 // heap returned to the OS
	Objects  uint64 // heap in objects, live or not yet collected
	Free     uint64 // heap free and not released (may be released)
	GCs      uint64 // GC cycles so far
}

// Idle reports whether the process holds more than headroom of garbage and
// unreleased free heap although no GC ran since prev: after a burst (say a
// GUILD_CREATE to every shard) an idle gateway allocates too little to start
// one, and would keep the burst's memory until the runtime's 2-minute GC.
func Idle(prev, u Usage, headroom int64) bool {
	return u.GCs == prev.GCs && int64(u.Objects)+int64(u.Free)-int64(u.Live) > headroom
}

// Grown reports whether the live heap of the last GC is more than headroom above base,
// the live heap when the process was last quiet. A GC that ran during a burst (hundreds
// of shards each holding a buffer while a large dispatch passes) found the burst's
// buffers live; once they are let go they are garbage no metric shows (Idle sees none),
// and an idle gateway would keep them until the runtime's 2-minute GC. Only a GC can tell.
func Grown(base uint64, u Usage, headroom int64) bool {
	return int64(u.Live)-int64(base) > headroom
}

// Limit is the memory limit for u with headroom: what the runtime counts against a limit
// (everything mapped and not released), with the heap objects replaced by the live heap
// (the garbage among them is what the GC may collect), plus headroom.
func Limit(u Usage, headroom int64) int64 {
	live := u.Live
	if live == 0 { // no GC yet: all objects may be live
		live = u.Objects
	}
	fixed := int64(u.Total) - int64(u.Released) - int64(u.Objects) - int64(u.Free) // stacks, metadata, fragmentation
	limit := int64(live) + max(fixed, 0) + headroom
	if limit <= 0 {
		return math.MaxInt64
	}
	return limit
}

// Read returns the runtime's current Usage; samples is reused between calls.
func Read(samples []metrics.Sample) Usage {
	metrics.Read(samples)
	var v [len(names)]uint64
	for i := range samples {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			v[i] = samples[i].Value.Uint64()
		}
	}
	return Usage{Live: v[0], Total: v[1], Released: v[2], Objects: v[3], Free: v[4], GCs: v[5]}
}

// Samples returns the samples Read fills.
func Samples() []metrics.Sample {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	return s
}

// idleSlack is the most garbage and unreleased free heap a quiet process keeps (when the
// headroom is larger): giving it back costs one collection in a quiet second, while what
// a busy process may hold above its live heap is the headroom, which a full buffer needs.
const idleSlack = 4 << 20

// freeEvery is how many Every ticks with no GC make an idle process give its garbage
// back (free): a second, so a busy gateway, whose own GCs do it, is never disturbed.
const freeEvery = 10

// Run keeps the process's soft memory limit at Limit(Read(), headroom), every Every, until
// ctx ends; then it lifts the limit. When no GC ran for freeEvery ticks and Idle (with at
// most idleSlack) or Grown holds, it calls free. read, set and free are injectable for tests (Read,
// debug.SetMemoryLimit and release in production).
func Run(ctx context.Context, clk clock.Clock, headroom int64, read func() Usage, set func(int64) int64, free func()) {
	defer set(math.MaxInt64)
	u := read()
	set(Limit(u, headroom))
	since, quiet := u, 0 // the sample quiet ticks ago, with no GC since
	base := u.Live       // the live heap when last quiet (see Grown)
	t := clk.NewTimer(Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		u = read()
		set(Limit(u, headroom))
		base = min(base, u.Live)
		if u.GCs != since.GCs {
			since, quiet = u, 0
		} else if quiet++; quiet >= freeEvery {
			if Idle(since, u, min(headroom, idleSlack)) || Grown(base, u, headroom) {
				free()
				u = read()
				base = u.Live // what is still live is the new normal
			}
			since, quiet = u, 0
		}
		t.Reset(Every)
	}
}

// Start runs Run with the runtime's metrics and debug.SetMemoryLimit in a goroutine that
// ends with ctx. It does nothing if the operator set GOMEMLIMIT (lookupEnv), which wins.
func Start(ctx context.Context, lookupEnv func(string) (string, bool), bufferBound int) bool {
	if _, ok := lookupEnv("GOMEMLIMIT"); ok {
		return false
	}
	samples := Samples()
	go Run(ctx, clock.Real(), Headroom(bufferBound), func() Usage { return Read(samples) }, debug.SetMemoryLimit, release)
	return true
}

// release collects the garbage and hands free memory back to the OS. It runs two GCs:
// what a burst left in sync.Pools (the broker's body buffers: as many as were in flight)
// survives the first in the pools' victim caches, and an idle process may run no other
// GC for minutes.
func release() {
	runtime.GC()
	debug.FreeOSMemory()
}
