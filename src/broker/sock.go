package broker

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// coalesceLimit is how many bytes a batch gathers before they go to the socket anyway:
// enough for dozens of typical dispatches per write(2), small enough to stay in cache.
const coalesceLimit = 64 << 10

// sockConn is the session's socket as amqp091 sees it (handed over through
// amqp.Config.Dial). It does two things amqp091 cannot:
//
//   - Every write to the socket has a deadline: a peer that stops reading (a frozen
//     connection, TCP buffers full) fails the write after stall without progress,
//     instead of blocking the publisher, and amqp091's teardown behind it, for as long
//     as TCP keeps the connection (minutes, or forever). A write that makes progress
//     is slow, not stuck, and carries on. While RabbitMQ blocks publishers (resource
//     alarm) it stops reading on purpose: the write then waits as long as it takes.
//   - Between beginBatch and endBatch (the publisher draining its queue) writes are
//     gathered and go out in one write(2) instead of one per publish. Writes outside a
//     batch (heartbeats, the command channel) go straight through; one made during a
//     batch waits at most for the batch's end, which the publisher reaches without
//     blocking on anything but this socket.
//
// Once a write failed the error sticks: the connection's byte stream is broken, so every
// later write fails at once and the session is replaced.
type sockConn struct {
	net.Conn
	stall   time.Duration
	blocked *atomic.Bool // set while RabbitMQ blocks publishers

	expired atomic.Bool // expire was called: no write may extend the deadline again

	mu       sync.Mutex
	batching bool
	buf      []byte
	err      error
}

func newSockConn(c net.Conn, stall time.Duration, blocked *atomic.Bool) *sockConn {
	return &sockConn{Conn: c, stall: stall, blocked: blocked}
}

// errStalled says the peer took no bytes for the stall period.
var errStalled = errors.New("rabbitmq stopped reading: the connection is presumed frozen")

func (c *sockConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.batching {
		if err := c.writeLocked(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= coalesceLimit {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// beginBatch gathers the following writes until endBatch.
func (c *sockConn) beginBatch() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

// endBatch writes what the batch gathered and returns the connection's write error, if
// any (amqp091 never saw the gathered bytes fail).
func (c *sockConn) endBatch() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching = false
	if c.err != nil {
		return c.err
	}
	return c.flushLocked()
}

// expire makes every pending and future read or write fail at once.
func (c *sockConn) expire() {
	c.expired.Store(true)
	_ = c.SetDeadline(time.Unix(1, 0))
}

// failed returns the sticky write error, nil while the connection works.
func (c *sockConn) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *sockConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	err := c.writeLocked(c.buf)
	if cap(c.buf) > 4*coalesceLimit {
		c.buf = nil // one huge dispatch does not pin its size for the connection's life
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// writeLocked writes all of p, failing after stall without progress.
func (c *sockConn) writeLocked(p []byte) error {
	for len(p) > 0 {
		if c.expired.Load() {
			c.err = fmt.Errorf("write to rabbitmq: %w", net.ErrClosed)
			return c.err
		}
		if err := c.SetWriteDeadline(time.Now().Add(c.stall)); err != nil {
			c.err = fmt.Errorf("write to rabbitmq: %w", err)
			return c.err
		}
		n, err := c.Conn.Write(p)
		p = p[n:]
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !c.expired.Load() && (n > 0 || c.blocked.Load()) {
			continue // slow, or blocked on purpose: not frozen
		}
		if errors.As(err, &ne) && ne.Timeout() {
			err = fmt.Errorf("%w (no byte written for %v)", errStalled, c.stall)
		}
		c.err = fmt.Errorf("write to rabbitmq: %w", err)
		return c.err
	}
	return nil
}
