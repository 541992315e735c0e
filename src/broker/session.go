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

	"github.com/cordis-gateway/cordis/src/broker/amqppub"
)

const (
	// maxInflight bounds the dispatches published but not yet confirmed on one channel:
	// ~100,000 dispatches/s at 10 ms of confirm latency, and what a lost connection
	// sends again.
	maxInflight = 1024

	dialTimeout      = 10 * time.Second
	handshakeTimeout = 30 * time.Second // TCP connected -> TLS + AMQP open (+ confirm mode)
	heartbeat        = 10 * time.Second // a silent peer is declared dead after ~2 beats
	closeTimeout     = 2 * time.Second  // polite connection.close before cutting the socket

	// stallTimeout is how long RabbitMQ may take no byte we write, or confirm nothing while
	// dispatches are in flight, before the connection is presumed frozen and replaced
	// (unless it blocks publishers for a resource alarm). Heartbeats alone take ~30 s to
	// notice, and never notice a peer that stopped reading while we keep writing.
	stallTimeout = 5 * time.Second
)

// session is RabbitMQ as one publisher sees it: the publishing connection (amqppub, our
// own wire code: DESIGN.md §3) and an amqp091 connection that declared the topology and,
// while consuming, carries the command consumer. A lost session (either connection, or
// a channel of either) is never repaired: it is shut down and replaced.
type session struct {
	pub *amqppub.Conn

	raw  rawConn // the amqp091 connection's socket
	conn *amqp.Connection
	con  *amqp.Channel // nil when not consuming

	connClosed chan *amqp.Error
	conClosed  chan *amqp.Error // nil (never ready) when not consuming
	deliveries <-chan amqp.Delivery
	queue      string // server-named commands queue

	pubBlocked atomic.Bool           // RabbitMQ blocks publishers (resource alarm)
	frozenErr  atomic.Pointer[error] // set when watchConfirms cut the connection
}

// rawConn is the amqp091 connection's socket, kept so that a stuck handshake or a
// frozen connection can be cut: amqp091 offers neither.
type rawConn struct {
	mu sync.Mutex
	c  *sockConn
}

func (r *rawConn) set(c *sockConn) {
	r.mu.Lock()
	r.c = c
	r.mu.Unlock()
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

func connectionName() string {
	name := "cordis-gateway"
	if host, err := os.Hostname(); err == nil {
		name += "@" + host
	}
	return name
}

func connectionProperties() amqp.Table {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(connectionName() + " (commands)") // shown in the management UI
	return props
}

// dialSock dials RabbitMQ and wraps the socket in a sockConn (write-stall deadline, cut).
func dialSock(ctx context.Context, network, addr string, opts *Options, blocked *atomic.Bool) (*sockConn, error) {
	d := net.Dialer{Timeout: opts.dialTimeout, KeepAlive: 30 * time.Second}
	tc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return newSockConn(tc, opts.stall, blocked), nil
}

// openSession dials both connections, declares the topology and, if consume is set,
// declares and binds the commands queue and starts consuming; the publishing connection
// comes last, in confirm mode. ctx bounds all of it.
func openSession(ctx context.Context, opts *Options, consume bool, consumerTag string, log *slog.Logger) (s *session, err error) {
	s = &session{}
	var idle atomic.Bool // the command connection never publishes: never blocked
	cfg := commandConfig(opts, func(network, addr string) (net.Conn, error) {
		c, err := dialSock(ctx, network, addr, opts, &idle)
		if err != nil {
			return nil, err
		}
		if err := c.SetDeadline(time.Now().Add(opts.handshakeTimeout)); err != nil {
			c.Close()
			return nil, err
		}
		s.raw.set(c)
		return c, nil
	})
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

	decl, err := s.conn.Channel()
	if err != nil {
		return s, fmt.Errorf("open declare channel: %w", err)
	}
	if err = declareExchanges(decl); err != nil {
		return s, err
	}
	if err = decl.Close(); err != nil {
		return s, fmt.Errorf("close declare channel: %w", err)
	}

	if consume {
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
	}

	s.pub, err = amqppub.Dial(ctx, publishConfig(opts,
		func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialSock(ctx, network, addr, opts, &s.pubBlocked)
		},
		// Tracked apart from the publisher, which may be the one waiting on the socket
		// that RabbitMQ stopped reading: its write must then wait, not fail.
		func(active bool, reason string) {
			s.pubBlocked.Store(active)
			if active {
				log.Warn("rabbitmq is blocking publishes (resource alarm)", "reason", reason)
			} else {
				log.Info("rabbitmq unblocked publishes")
			}
		}))
	if err != nil {
		return s, fmt.Errorf("open publishing connection to %s: %w", redactURL(opts.URL), redactErr(opts.URL, err))
	}
	return s, nil
}

// commandConfig is the amqp091 connection's configuration. amqp091 reads heartbeat,
// channel_max and auth_mechanism from the URL itself; frame_max (which it does not read)
// and the TLS configuration come from opts, so that both connections agree.
func commandConfig(opts *Options, dial func(network, addr string) (net.Conn, error)) amqp.Config {
	cfg := amqp.Config{
		Heartbeat:       heartbeat, // the URL's heartbeat wins inside DialConfig
		Properties:      connectionProperties(),
		TLSClientConfig: opts.tls,
		Dial:            dial,
	}
	if opts.url.FrameMaxSet {
		cfg.FrameSize = int(opts.url.FrameMax)
		if opts.url.FrameMax == 0 {
			cfg.FrameSize = amqp.FrameSizeUnlimited // amqp091's 0 means its default
		}
	}
	return cfg
}

// publishConfig is the publishing connection's configuration: amqppub reads every
// URL setting itself, and takes the same TLS configuration as the amqp091 connection.
func publishConfig(opts *Options, dial func(ctx context.Context, network, addr string) (net.Conn, error), onBlocked func(active bool, reason string)) amqppub.Config {
	return amqppub.Config{
		URL:              opts.URL,
		Dial:             dial,
		TLS:              opts.tls,
		Heartbeat:        heartbeat, // the URL's heartbeat wins inside Dial
		HandshakeTimeout: opts.handshakeTimeout,
		ConnectionName:   connectionName() + " (publish)",
		OnBlocked:        onBlocked,
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

// shutdown closes both connections politely if they still work and deadline allows,
// and their sockets in any case, by deadline at the latest: amqp091's CloseDeadline
// alone can wait longer (its heartbeater moves the socket's read deadline).
func (s *session) shutdown(deadline time.Time) {
	if s.pub != nil {
		s.pub.Close(deadline)
	}
	if s.conn != nil && !s.conn.IsClosed() && time.Now().Before(deadline) {
		cut := time.AfterFunc(time.Until(deadline), s.raw.close)
		_ = s.conn.CloseDeadline(deadline)
		cut.Stop()
	}
	s.raw.close()
}

// cut closes both sockets at once, without a word to RabbitMQ.
func (s *session) cut() {
	if s.pub != nil {
		s.pub.Cut()
	}
	s.raw.expire()
	s.raw.close()
}

func channelErr(what string, e *amqp.Error) error {
	if e == nil {
		return fmt.Errorf("%s closed", what)
	}
	return fmt.Errorf("%s closed: %w", what, e)
}
