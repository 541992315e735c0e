package broker

import (
	"math/bits"
	"slices"
	"sync"
	"unsafe"
)

// Size classes of pooled body buffers, from 256 B to 16 MiB: each power-of-two range is
// cut in classSteps steps, so a buffer wastes at most 1/classSteps of its body (powers
// of two alone wasted up to half, ~40% on a typical load mix, all of it held while the
// buffer is full). Bodies above 16 MiB (rare: the largest GUILD_CREATEs) are allocated
// exactly and left to the GC.
const (
	minClassShift = 8
	maxClassShift = 24
	classSteps    = 4
	numClasses    = (maxClassShift-minClassShift)*classSteps + 1
)

// bufPool hands out byte buffers by size class so that Publish does not allocate in
// steady state.
type bufPool struct {
	classes [numClasses]sync.Pool
}

// classOf returns the class of the smallest buffer holding n bytes and its size.
func classOf(n int) (class, size int, ok bool) {
	if n <= 1<<minClassShift {
		return 0, 1 << minClassShift, true
	}
	shift := bits.Len(uint(n - 1)) // smallest power of two >= n is 1<<shift
	if shift > maxClassShift {
		return 0, 0, false
	}
	base := 1 << (shift - 1) // n is in (base, 2*base]
	step := base / classSteps
	j := (n - base + step - 1) / step // 1..classSteps
	return (shift-1-minClassShift)*classSteps + j, base + j*step, true
}

// dispatchOverhead is what one buffered dispatch holds besides its body buffer: its ring
// slot, counted twice because the ring's backing array grows by doubling, and the *[]byte
// header of its pooled buffer. The buffer bound counts it so that many small dispatches
// cannot hold several times the bound (TestBufferedCountsWhatTheOutboxHolds measures it).
// amqp091's per-publish state is not counted: it exists only for the in-flight window.
const dispatchOverhead = 2*int(unsafe.Sizeof(entry{})) + int(unsafe.Sizeof([]byte(nil)))

// costOf is what a dispatch whose body sits in buf holds while buffered: the whole
// buffer as the Go allocator sized it (cap, see alloc) plus the per-dispatch overhead.
func costOf(buf []byte) int { return cap(buf) + dispatchOverhead }

// alloc returns a buffer of length n whose capacity is all the allocator reserved for it
// (slices.Grow rounds up to the allocator's size class), so costOf counts that slack too.
func alloc(n int) []byte {
	return slices.Grow([]byte(nil), n)[:n]
}

// get returns a buffer holding a copy of src.
func (p *bufPool) get(src []byte) (*[]byte, []byte) {
	c, size, ok := classOf(len(src))
	if !ok {
		b := alloc(len(src))
		copy(b, src)
		return nil, b
	}
	bp, _ := p.classes[c].Get().(*[]byte)
	if bp == nil {
		b := alloc(size)
		bp = &b
	}
	b := (*bp)[:len(src)]
	copy(b, src)
	return bp, b
}

func (p *bufPool) put(bp *[]byte) {
	if bp == nil {
		return
	}
	c, size, ok := classOf(len(*bp)) // a pooled buffer's length is its class size
	if !ok || len(*bp) != size {
		return
	}
	p.classes[c].Put(bp)
}
