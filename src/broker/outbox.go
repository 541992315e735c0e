package broker

import (
	"context"
	"slices"
	"sync"
	"time"
)

// outbox is the bounded buffer between Publish and the publisher goroutine. It holds two
// queues in publish order: pending (not yet written to the current channel) and inflight
// (written, waiting for the broker's confirm, tagged with their delivery tag). Both count
// against max, each dispatch by what it holds (costOf: its size-class buffer plus the
// per-dispatch overhead, not only its body); Publish blocks while they are full
// (back-pressure).
//
// Ownership: any goroutine may add; only the publisher goroutine takes from pending and
// moves entries between the queues, so the front of pending cannot change under it.
type outbox struct {
	max  int
	pool bufPool
	keys interner

	mu       sync.Mutex
	used     int // costOf the dispatches in pending + inflight: what the bound limits
	bodies   int // their body bytes, for reports of what was left unconfirmed
	pending  ring
	inflight ring
	holes    int           // inflight entries confirmed out of order, dropped once at the front
	nacked   []entry       // scratch for confirm
	waiters  []*waiter     // blocked Publish calls, first come first served
	closed   bool          // Close has begun: refuse new dispatches
	empty    chan struct{} // closed when used drops to 0; made on demand by waitEmpty
	wake     chan struct{} // capacity 1: tells the publisher there is pending work
}

// waiter is a Publish call blocked for room. Whoever frees room queues the waiter's entry
// on its behalf, in arrival order, so a large dispatch cannot be starved by small ones.
type waiter struct {
	e       entry
	ready   chan struct{}
	granted bool
}

func newOutbox(max int) *outbox {
	return &outbox{max: max, wake: make(chan struct{}, 1)}
}

// fitsLocked reports whether need more bytes may enter. A dispatch larger than the whole
// buffer is let in alone, when the buffer is empty, rather than blocking forever.
func (o *outbox) fitsLocked(need int) bool {
	return o.used == 0 || o.used+need <= o.max
}

// add copies body into a pooled buffer and queues it, blocking while the outbox is full
// until there is room, ctx ends or the outbox is closed.
func (o *outbox) add(ctx context.Context, shard int, ref int64, key, body []byte) error {
	e := entry{key: o.keys.intern(key), shard: shard, ref: ref, at: time.Now()}
	e.buf, e.body = o.pool.get(body)
	e.cost = costOf(e.body)
	need := e.cost

	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		o.pool.put(e.buf)
		return ErrClosed
	}
	if len(o.waiters) == 0 && o.fitsLocked(need) {
		o.used += need
		o.bodies += len(e.body)
		o.pending.pushBack(e)
		first := o.pending.len() == 1
		o.mu.Unlock()
		if first {
			o.signal()
		}
		return nil
	}
	w := &waiter{e: e, ready: make(chan struct{})}
	o.waiters = append(o.waiters, w)
	o.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	if w.granted { // possibly in a race with ctx ending: it is queued, so it counts as done
		return nil
	}
	if i := slices.Index(o.waiters, w); i >= 0 {
		o.waiters = slices.Delete(o.waiters, i, i+1)
		o.grantLocked() // the ones behind us may fit now
	}
	o.pool.put(e.buf)
	if o.closed {
		return ErrClosed
	}
	return ctx.Err()
}

// signal wakes the publisher. Only a push onto an empty pending queue needs to: the
// publisher empties pending (or fills its window, and then a confirm wakes it) before
// it waits, so while pending is non-empty it has a wakeup coming. One channel send
// per burst instead of one per dispatch.
func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// grantLocked hands freed room to blocked Publish calls in arrival order.
func (o *outbox) grantLocked() {
	for len(o.waiters) > 0 && !o.closed {
		w := o.waiters[0]
		if !o.fitsLocked(w.e.cost) {
			return
		}
		o.used += w.e.cost
		o.bodies += len(w.e.body)
		o.pending.pushBack(w.e)
		if o.pending.len() == 1 {
			o.signal()
		}
		w.granted = true
		close(w.ready)
		o.waiters[0] = nil
		o.waiters = o.waiters[1:]
	}
}

// peek appends to dst copies of the first pending entries, as many as the in-flight
// window has room for, stopping after maxBytes of bodies (one socket write's worth),
// without removing them: the publisher removes them, with markSent, once they are
// written. One lock for the batch.
func (o *outbox) peek(window, maxBytes int, dst []entry) []entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	// Holes count against the window: it bounds how far the newest tag may run ahead of
	// the oldest unconfirmed one, and so the ring's size.
	n := min(o.pending.len(), window-o.inflight.len())
	size := 0
	for i := 0; i < n && size < maxBytes; i++ {
		e := o.pending.at(i)
		size += len(e.body)
		dst = append(dst, *e)
	}
	return dst
}

// markSent moves the first n pending entries to inflight, tagged first, first+1, ...
func (o *outbox) markSent(n int, first uint64) {
	o.mu.Lock()
	for i := range n {
		e := o.pending.popFront()
		e.tag = first + uint64(i)
		o.inflight.pushBack(e)
	}
	o.mu.Unlock()
}

// confirmResult says what a confirmation did.
type confirmResult struct {
	acked    int // entries released
	requeued int // entries put back at the front of pending (nacked)
	stale    bool
}

// settled is a released dispatch, for OnConfirm.
type settled struct {
	shard int
	key   string
	ref   int64
	at    time.Time
}

// confirm applies one ack or nack frame from the broker under one lock, appending what
// it released to done. multiple covers every unconfirmed tag up to tag; otherwise tag
// alone. Confirms may come out of order (RabbitMQ confirms a dispatch no queue takes at
// once, one routed to a queue once that queue has it), so a confirmed dispatch behind
// an unconfirmed one leaves a hole in inflight: inflight keeps its tags contiguous, so a
// tag's entry is found by subtraction, and holes are dropped once they reach the front.
// A nack (a broker-internal error) means "not taken": the entry is published again,
// first. A tag with no unconfirmed entry is stale and ignored.
func (o *outbox) confirm(tag uint64, multiple, ack bool, done []settled) (confirmResult, []settled) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var res confirmResult
	n := o.inflight.len()
	if n == 0 || tag < o.inflight.at(0).tag {
		res.stale = true
		return res, done
	}
	last := int(min(tag-o.inflight.at(0).tag, uint64(n-1))) // index of tag, or of the newest
	from := last
	if multiple {
		from = 0
	} else if o.inflight.at(last).tag != tag {
		res.stale = true // beyond what was published on this channel
		return res, done
	}
	for i := from; i <= last; i++ {
		e := o.inflight.at(i)
		if e.hole {
			continue
		}
		if ack {
			done = append(done, settled{shard: e.shard, key: e.key, ref: e.ref, at: e.at})
			o.releaseLocked(*e)
			res.acked++
		} else {
			again := *e
			again.tag = 0
			o.nacked = append(o.nacked, again)
		}
		*e = entry{tag: e.tag, hole: true} // keep no buffer alive
		o.holes++
	}
	for i := len(o.nacked) - 1; i >= 0; i-- {
		o.pending.pushFront(o.nacked[i])
	}
	res.requeued = len(o.nacked)
	clear(o.nacked)
	o.nacked = o.nacked[:0]
	for o.inflight.len() > 0 && o.inflight.at(0).hole {
		o.inflight.popFront()
		o.holes--
	}
	if res.acked == 0 && res.requeued == 0 {
		res.stale = true // every covered tag was confirmed already
	}
	if res.requeued > 0 {
		o.signal()
	}
	o.checkEmptyLocked()
	return res, done
}

// requeueInflight puts every unconfirmed entry back in front of pending, in publish order,
// after the channel was lost: they go out again, first, on the next channel.
func (o *outbox) requeueInflight() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := 0
	for o.inflight.len() > 0 {
		e := o.inflight.popBack()
		if e.hole {
			continue
		}
		e.tag = 0
		o.pending.pushFront(e)
		k++
	}
	o.holes = 0
	if k > 0 {
		o.signal()
	}
	return k
}

func (o *outbox) releaseLocked(e entry) {
	o.used -= e.cost
	o.bodies -= len(e.body)
	o.pool.put(e.buf)
	o.grantLocked()
}

// checkEmptyLocked wakes waitEmpty once nothing is left.
func (o *outbox) checkEmptyLocked() {
	if o.emptyLocked() && o.empty != nil {
		close(o.empty)
		o.empty = nil
	}
}

// dropped describes a dispatch given up on.
type dropped struct {
	key   string
	shard int
	ref   int64
	size  int
}

// dropFirstOfSize removes the first unsent dispatch whose body is size bytes: the broker
// refused a body of that size and would refuse it on every retry.
func (o *outbox) dropFirstOfSize(size int) (dropped, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.pending.len() {
		if len(o.pending.at(i).body) == size {
			e := o.pending.removeAt(i)
			o.releaseLocked(e)
			o.checkEmptyLocked()
			return dropped{key: e.key, shard: e.shard, ref: e.ref, size: size}, true
		}
	}
	return dropped{}, false
}

func (o *outbox) emptyLocked() bool {
	return o.used == 0 && o.pending.len() == 0 && o.inflight.len() == o.holes
}

// close refuses further dispatches and fails the blocked ones; queued ones stay.
func (o *outbox) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	for _, w := range o.waiters {
		close(w.ready) // not granted: add returns ErrClosed
	}
	o.waiters = nil
}

// waitEmpty blocks until every dispatch was confirmed or ctx ends.
func (o *outbox) waitEmpty(ctx context.Context) error {
	o.mu.Lock()
	if o.emptyLocked() {
		o.mu.Unlock()
		return nil
	}
	if o.empty == nil {
		o.empty = make(chan struct{})
	}
	ch := o.empty
	o.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stats returns the dispatches not yet confirmed (pending + inflight) and their body bytes.
func (o *outbox) stats() (msgs, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending.len() + o.inflight.len() - o.holes, o.bodies
}

// each calls f for every dispatch not confirmed yet, pending and in flight (not holes).
func (o *outbox) each(f func(e *entry)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.pending.len() {
		f(o.pending.at(i))
	}
	for i := range o.inflight.len() {
		if e := o.inflight.at(i); !e.hole {
			f(e)
		}
	}
}

// inflightLen is how many dispatches are published and not yet confirmed.
func (o *outbox) inflightLen() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.inflight.len() - o.holes
}

// buffered is what the queued and unconfirmed dispatches hold (see costOf).
func (o *outbox) buffered() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.used
}
