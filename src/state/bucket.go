package state

import (
	"slices"
	"sync"
	"time"
)

// Bucket returns the identify bucket of shardID: shard_id % max_concurrency,
// with a max_concurrency below 1 treated as 1.
func Bucket(shardID, maxConcurrency int) int {
	if maxConcurrency < 1 {
		return 0
	}
	b := shardID % maxConcurrency
	if b < 0 {
		b += maxConcurrency
	}
	return b
}

// bucket is a FIFO queue of shards waiting to identify in one
// max_concurrency bucket. The waiter at the head holds the turn; the others
// block on their own channel, so nobody holds a lock while waiting.
type bucket struct {
	mu    sync.Mutex
	queue []*waiter
	next  time.Time // earliest time of the next identify in this bucket
}

type waiter struct {
	turn chan struct{} // closed when this waiter reaches the head
}

// enter queues a new waiter at the tail.
func (b *bucket) enter() *waiter {
	w := &waiter{turn: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue = append(b.queue, w)
	if len(b.queue) == 1 {
		close(w.turn)
	}
	return w
}

// leave removes w, handing the turn to the next waiter if w held it.
func (b *bucket) leave(w *waiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.Index(b.queue, w)
	if i < 0 {
		return
	}
	b.queue = slices.Delete(b.queue, i, i+1)
	if i == 0 && len(b.queue) > 0 {
		close(b.queue[0].turn)
	}
}

func (b *bucket) nextAt() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.next
}

func (b *bucket) setNext(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next = t
}

// waiting reports how many shards are queued, the head included.
func (b *bucket) waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}
