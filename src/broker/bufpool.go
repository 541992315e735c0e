package broker

import (
	"math/bits"
	"sync"
)

// Size classes of pooled body buffers: powers of two from 256 B to 16 MiB. Bodies above
// that (rare: the largest GUILD_CREATEs) are allocated exactly and left to the GC.
const (
	minClassShift = 8
	maxClassShift = 24
)

// bufPool hands out byte buffers by size class so that Publish does not allocate in
// steady state.
type bufPool struct {
	classes [maxClassShift - minClassShift + 1]sync.Pool
}

func classOf(n int) (int, bool) {
	if n <= 1<<minClassShift {
		return 0, true
	}
	shift := bits.Len(uint(n - 1)) // smallest power of two >= n
	if shift > maxClassShift {
		return 0, false
	}
	return shift - minClassShift, true
}

// get returns a buffer holding a copy of src.
func (p *bufPool) get(src []byte) (*[]byte, []byte) {
	c, ok := classOf(len(src))
	if !ok {
		b := make([]byte, len(src))
		copy(b, src)
		return nil, b
	}
	bp, _ := p.classes[c].Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 1<<(c+minClassShift))
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
	c, ok := classOf(cap(*bp))
	if !ok || cap(*bp) != 1<<(c+minClassShift) {
		return
	}
	p.classes[c].Put(bp)
}
