package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const (
	// maxInflight bounds the dispatches published but not yet confirmed on one channel.
	// The confirmation channel is buffered to the same size, so amqp091's reader goroutine
	// never waits on us (if it did for 5 s it would drop the confirmation), even while the
	// publisher is busy writing a batch. It is small because amqp091 walks every
	// unconfirmed publish of the channel on each multiple-ack (ConfirmMultiple): with
	// 8,192 that walk was a sixth of the gateway's CPU under load. 1,024 still carries
	// ~100,000 dispatches/s at 10 ms of confirm latency.
	maxInflight = 1024

	dialTimeout      = 10 * time.Second
	handshakeTimeout = 30 * time.Second // TCP connected -> TLS + AMQP open; amqp091 clears it once open
	heartbeat        = 10 * time.Second // a silent peer is declared dead after ~2 beats
	closeTimeout     = 2 * time.Second  // polite connection.close before cutting the socket

	// stallTimeout is how long RabbitMQ may take no byte we write, or confirm nothing while
	// dispatches are in flight, before the connection is presumed frozen and replaced
	// (unless it blocks publishers for a resource alarm). Heartbeats alone take ~30 s to
	// notice, and never notice a peer that stopped reading while we keep writing.
	stallTimeout = 5 * time.Second
)

// session is one AMQP connection with its publish channel and, while consuming, its
// command consumer. A lost session is never repaired: it is shut down and replaced.
type session struct {
	raw  rawConn
	conn *amqp.Connection
	pub  *amqp.Channel
	con  *amqp.Channel // nil when not consuming

	confirms   chan amqp.Confirmation
	connClosed chan *amqp.Error
	pubClosed  chan *amqp.Error
	conClosed  chan *amqp.Error // nil (never ready) when not consuming
	blocked    chan amqp.Blocking
	deliveries <-chan amqp.Delivery
	queue      string // server-named commands queue

	nextTag uint64 // delivery tag of the last publish on pub; tags start at 1 per channel

	pubBlocked atomic.Bool           // RabbitMQ blocks publishers (resource alarm)
	confirmed  atomic.Uint64         // confirmations the publisher received
	frozenErr  atomic.Pointer[error] // set when watchConfirms cut the connection
}

// rawConn is the session's socket, kept so that a stuck handshake can be cut and a
// publisher batch coalesced: amqp091 offers neither.
type rawConn struct {
	mu sync.Mutex
	c  *sockConn
}

func (r *rawConn) set(c *sockConn) {
	r.mu.Lock()
	r.c = c
	r.mu.Unlock()
}

func (r *rawConn) get() *sockConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c
}

// expire makes every pending and future read or write on the socket fail at once.
func (r *rawConn) expire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		r.c.expire()
	}
}

func (r *rawConn) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		_ = r.c.Close()
	}
}

func connectionProperties() amqp.Table {
	props := amqp.NewConnectionProperties()
	name := "cordis-gateway"
	if host, err := os.Hostname(); err == nil {
		name += "@" + host
	}
	props.SetClientConnectionName(name) // shown in the management UI
	return props
}

// openSession dials, enables confirms, declares the topology and, if consume is set,
// declares and binds the commands queue and starts consuming. ctx bounds all of it.
func openSession(ctx context.Context, opts *Options, consume bool, consumerTag string, log *slog.Logger) (s *session, err error) {
	s = &session{}
	cfg := amqp.Config{
		Heartbeat:  heartbeat,
		Properties: connectionProperties(),
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
			tc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			c := newSockConn(tc, opts.stall, &s.pubBlocked)
			if err := c.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
				c.Close()
				return nil, err
			}
			s.raw.set(c)
			return c, nil
		},
	}
	// amqp091 is not context-aware: when ctx ends mid-handshake or mid-declare, fail the
	// socket so the blocked call returns.
	stop := context.AfterFunc(ctx, s.raw.expire)
	defer func() {
		if !stop() && err == nil {
			err = ctx.Err()
		}
		if err != nil {
			s.shutdown(time.Now().Add(closeTimeout))
			s = nil
		}
	}()

	if s.conn, err = amqp.DialConfig(opts.URL, cfg); err != nil {
		return s, fmt.Errorf("dial %s: %w", redactURL(opts.URL), redactErr(opts.URL, err))
	}
	s.connClosed = s.conn.NotifyClose(make(chan *amqp.Error, 1))
	s.blocked = s.conn.NotifyBlocked(make(chan amqp.Blocking, 4))

	if s.pub, err = s.conn.Channel(); err != nil {
		return s, fmt.Errorf("open publish channel: %w", err)
	}
	s.pubClosed = s.pub.NotifyClose(make(chan *amqp.Error, 1))
	if err = s.pub.Confirm(false); err != nil {
		return s, fmt.Errorf("enable publisher confirms: %w", err)
	}
	s.confirms = s.pub.NotifyPublish(make(chan amqp.Confirmation, maxInflight))
	if err = declareExchanges(s.pub); err != nil {
		return s, err
	}
	if !consume {
		go s.watchBlocked(log)
		return s, nil
	}

	if s.con, err = s.conn.Channel(); err != nil {
		return s, fmt.Errorf("open command channel: %w", err)
	}
	s.conClosed = s.con.NotifyClose(make(chan *amqp.Error, 1))
	q, err := s.con.QueueDeclare("", false, true, true, false, nil) // server-named, auto-delete, exclusive
	if err != nil {
		return s, fmt.Errorf("declare command queue: %w", err)
	}
	s.queue = q.Name
	if err = s.con.QueueBind(q.Name, "", ExchangeCommands, false, nil); err != nil {
		return s, fmt.Errorf("bind queue %s to %s: %w", q.Name, ExchangeCommands, err)
	}
	// autoAck: commands are fire-and-forget. The queue is exclusive and dies with the
	// connection, so an unacked command could never be redelivered elsewhere anyway, and
	// per-message acks would only cost round trips. Volume is small: Discord allows each
	// shard 120 sends a minute.
	if s.deliveries, err = s.con.Consume(q.Name, consumerTag, true, true, false, false, nil); err != nil {
		return s, fmt.Errorf("consume %s: %w", q.Name, err)
	}
	go s.watchBlocked(log)
	return s, nil
}

// watchBlocked tracks RabbitMQ's connection.blocked and .unblocked until the connection
// closes. It runs apart from the publisher, which may be the one waiting on the socket
// that RabbitMQ stopped reading: its write must then wait, not fail.
func (s *session) watchBlocked(log *slog.Logger) {
	for bl := range s.blocked {
		s.pubBlocked.Store(bl.Active)
		if bl.Active {
			log.Warn("rabbitmq is blocking publishes (resource alarm)", "reason", bl.Reason)
		} else {
			log.Info("rabbitmq unblocked publishes")
		}
	}
}

// declareExchanges declares both exchanges exactly as the reference implementation does,
// so that consumers declaring them too never clash (a mismatch closes the channel with
// PRECONDITION_FAILED).
func declareExchanges(ch *amqp.Channel) error {
	// gateway: direct, durable=false, autoDelete=false, internal=false, no arguments.
	if err := ch.ExchangeDeclare(ExchangeGateway, amqp.ExchangeDirect, false, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", ExchangeGateway, err)
	}
	// gateway_commands: fanout, durable=true, autoDelete=false, internal=false, no arguments.
	if err := ch.ExchangeDeclare(ExchangeCommands, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", ExchangeCommands, err)
	}
	return nil
}

// shutdown closes the connection politely if it still works and deadline allows, and the
// socket in any case, by deadline at the latest: amqp091's CloseDeadline alone can wait
// longer (its heartbeater moves the socket's read deadline).
func (s *session) shutdown(deadline time.Time) {
	if s.conn != nil && !s.conn.IsClosed() && time.Now().Before(deadline) {
		cut := time.AfterFunc(time.Until(deadline), s.raw.close)
		_ = s.conn.CloseDeadline(deadline)
		cut.Stop()
	}
	s.raw.close()
}

// lossReason waits briefly for the close notification explaining why the session ended
// (amqp091 closes the confirmation channel and sends the error in no fixed order).
func (s *session) lossReason() error {
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case e := <-s.pubClosed:
		return channelErr("publish channel", e)
	case e := <-s.connClosed:
		return channelErr("connection", e)
	case <-t.C:
		return fmt.Errorf("publish channel closed")
	}
}

func channelErr(what string, e *amqp.Error) error {
	if e == nil {
		return fmt.Errorf("%s closed", what)
	}
	return fmt.Errorf("%s closed: %w", what, e)
}
