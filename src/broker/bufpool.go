package broker

import (
	"math/bits"
	"sync"
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

// get returns a buffer holding a copy of src.
func (p *bufPool) get(src []byte) (*[]byte, []byte) {
	c, size, ok := classOf(len(src))
	if !ok {
		b := make([]byte, len(src))
		copy(b, src)
		return nil, b
	}
	bp, _ := p.classes[c].Get().(*[]byte)
	if bp == nil {
		b := make([]byte, size)
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
	c, size, ok := classOf(cap(*bp))
	if !ok || cap(*bp) != size {
		return
	}
	p.classes[c].Put(bp)
}
