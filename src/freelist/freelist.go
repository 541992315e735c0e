// Package freelist keeps a bounded number of buffers for reuse by all the
// connections of a process.
//
// Unlike sync.Pool, what it keeps is bounded and does not depend on GC
// timing: after a burst in which hundreds of connections held a buffer at
// once (all waiting on back-pressure, say), sync.Pool keeps every one of
// them until two GCs have run, which an idle gateway may not do for
// minutes. A List keeps at most its capacity; the rest is garbage at once.
package freelist

import (
	"runtime"
	"sync"
)

// List is a bounded LIFO of *T, safe for concurrent use.
type List[T any] struct {
	mu    sync.Mutex
	items []*T
}

// New returns a List keeping at most n items.
func New[T any](n int) *List[T] {
	return &List[T]{items: make([]*T, 0, n)}
}

// PerCPU is a capacity for buffers a goroutine holds only while it works on
// one message: a few per CPU cover the goroutines running, and those about
// to run, without keeping what a burst of waiting ones held.
func PerCPU() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// Get takes the most recently put item, or returns nil when there is none.
func (l *List[T]) Get() *T {
	l.mu.Lock()
	var x *T
	if n := len(l.items); n > 0 {
		x = l.items[n-1]
		l.items[n-1] = nil
		l.items = l.items[:n-1]
	}
	l.mu.Unlock()
	return x
}

// Put keeps x for a later Get unless the List is full; false means x was
// not kept (it is the GC's).
func (l *List[T]) Put(x *T) bool {
	l.mu.Lock()
	ok := len(l.items) < cap(l.items)
	if ok {
		l.items = append(l.items, x)
	}
	l.mu.Unlock()
	return ok
}

// Len is how many items the List keeps now.
func (l *List[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}
