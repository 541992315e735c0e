package shard

import (
	"sync"
	"time"
)

// maxCommandAge bounds how late a command may reach Discord. A command that
// waited longer (the shard was reconnecting, or workers published faster
// than the send limit drains) is dropped, counted and logged instead of
// arriving minutes late. It is half a window longer than the limiter's
// window, so a command that only waited for the window to slide (a burst
// over the share) still goes: at exactly one window it would expire just as
// its slot freed. Together with CommandQueueSize (one window's worth of
// sends) it keeps the queue's delay and memory small.
const maxCommandAge = 90 * time.Second

// queuedCommand is a validated command waiting for its shard's writer,
// with when it was queued.
type queuedCommand struct {
	body []byte
	at   time.Time
}

// commandQueue is the FIFO of commands waiting for the writer, bounded by
// CommandQueueSize. It is a ring under a mutex rather than a channel so that
// a full queue can look at its oldest command: one that expired while the
// shard was down gives its place to a fresh one, instead of fresh commands
// being dropped behind a queue that will all expire. Safe for concurrent
// use; ready holds a token whenever the queue is not empty.
//
// The ring grows with what is queued, up to CommandQueueSize, and is let go
// when the queue empties: commands are rare, and 1,000 shards would
// otherwise hold 1,000 rings of 120 slots (~6 KiB each) for nothing.
type commandQueue struct {
	mu    sync.Mutex
	items []queuedCommand
	head  int // index of the oldest command
	n     int
	ready chan struct{}
}

func newCommandQueue() *commandQueue { return &commandQueue{ready: make(chan struct{}, 1)} }

// push queues q unless the queue is full of commands younger than
// maxCommandAge. It returns false if q was dropped and the ages of the
// expired commands it pushed out, oldest first.
func (cq *commandQueue) push(q queuedCommand) (ok bool, expired []time.Duration) {
	cq.mu.Lock()
	defer cq.mu.Unlock()
	for cq.n == CommandQueueSize {
		age := q.at.Sub(cq.items[cq.head].at)
		if age <= maxCommandAge {
			return false, expired
		}
		expired = append(expired, age)
		cq.items[cq.head] = queuedCommand{}
		cq.head = (cq.head + 1) % len(cq.items)
		cq.n--
	}
	if cq.n == len(cq.items) {
		cq.grow()
	}
	cq.items[(cq.head+cq.n)%len(cq.items)] = q
	cq.n++
	cq.signal()
	return true, expired
}

// pop takes the oldest command, if any.
func (cq *commandQueue) pop() (queuedCommand, bool) {
	cq.mu.Lock()
	defer cq.mu.Unlock()
	if cq.n == 0 {
		return queuedCommand{}, false
	}
	q := cq.items[cq.head]
	cq.items[cq.head] = queuedCommand{}
	cq.head = (cq.head + 1) % len(cq.items)
	cq.n--
	if cq.n > 0 {
		cq.signal() // the writer took the token: leave one for the rest
	} else {
		cq.items, cq.head = nil, 0 // empty: hold no ring while idle
	}
	return q, true
}

// grow doubles the ring (at least 4 slots, at most CommandQueueSize),
// oldest command first. The caller holds mu and the ring is full.
func (cq *commandQueue) grow() {
	items := make([]queuedCommand, min(max(4, 2*len(cq.items)), CommandQueueSize))
	for i := range cq.n {
		items[i] = cq.items[(cq.head+i)%len(cq.items)]
	}
	cq.items, cq.head = items, 0
}

func (cq *commandQueue) signal() {
	select {
	case cq.ready <- struct{}{}:
	default:
	}
}

// enqueue queues a command without blocking. A full queue first gives up
// its oldest commands if they are older than maxCommandAge (counted
// expired: they would never be sent); if it is still full the new command
// is dropped.
func (s *Shard) enqueue(body []byte) bool {
	ok, expired := s.cmds.push(queuedCommand{body: body, at: s.cfg.Clock.Now()})
	for _, age := range expired {
		s.commandDropped(dropExpired, age)
	}
	if !ok {
		s.commandDropped(dropQueueFull, 0)
	}
	return ok
}
