package broker

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// sockConn is a session's socket as the AMQP code sees it (handed over through
// amqp.Config.Dial and amqppub.Config.Dial). Every write to it has a deadline: a peer
// that stops reading (a frozen connection, TCP buffers full) fails the write after stall
// without progress, instead of blocking the publisher, and the teardown behind it, for
// as long as TCP keeps the connection (minutes, or forever). A write that makes progress
// is slow, not stuck, and carries on. While RabbitMQ blocks publishers (resource alarm)
// it stops reading on purpose: the write then waits as long as it takes. (The
// publishing connection gathers a batch itself and writes it at once.)
//
// Once a write failed the error sticks: the connection's byte stream is broken, so every
// later write fails at once and the session is replaced.
type sockConn struct {
	net.Conn
	stall   time.Duration
	blocked *atomic.Bool // set while RabbitMQ blocks publishers

	expired atomic.Bool // expire was called: no write may extend the deadline again

	mu  sync.Mutex
	err error
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
	if err := c.writeLocked(p); err != nil {
		return 0, err
	}
	return len(p), nil
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
