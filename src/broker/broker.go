package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/cordis-gateway/cordis/src/broker/amqppub"
)

// maxRoutingKey is the longest routing key AMQP can carry.
const maxRoutingKey = amqppub.MaxShortStr

// stableSession is how long a session must have lived for its loss to reset the backoff.
const stableSession = 30 * time.Second

// commandBuffer lets the consumer run a little ahead of a busy cluster.
const commandBuffer = 256

// Broker is the gateway's connection to RabbitMQ. All methods are safe for concurrent use.
type Broker struct {
	opts        Options
	log         *slog.Logger
	out         *outbox
	pubState    publisherState // publisher goroutine only
	consumerTag string
	up          atomic.Bool

	runCtx    context.Context // ends when Close stops the connection manager
	cancelRun context.CancelFunc
	done      chan struct{} // closed when the connection manager has returned
	closeBy   atomic.Int64  // unix nanos: Close's deadline, which the last polite close keeps to

	mu             sync.Mutex
	sess           *session // current session, nil while reconnecting
	consumeStopped bool
	fwd            sync.WaitGroup // forward goroutines
	bg             sync.WaitGroup // consumer cancellations

	commands        chan Command
	stopConsume     chan struct{}
	stopConsumeOnce sync.Once

	closeOnce sync.Once
	closeErr  error
}

// Connect dials, enables publisher confirms, declares the topology and starts consuming
// commands. It retries with capped exponential backoff, logging each failure (never the
// password), until it succeeds or ctx ends; then it returns ctx's error. ctx only bounds
// connecting: the broker lives until Close.
func Connect(ctx context.Context, opts Options) (*Broker, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("broker options: %w", err)
	}
	var tag [8]byte
	_, _ = rand.Read(tag[:])
	b := &Broker{
		opts:        opts,
		log:         opts.Logger.With("component", "broker"),
		out:         newOutbox(opts.MaxBufferBytes),
		pubState:    publisherState{headers: make(shardHeaders)},
		consumerTag: "cordis-gateway-" + hex.EncodeToString(tag[:]),
		done:        make(chan struct{}),
		commands:    make(chan Command, commandBuffer),
		stopConsume: make(chan struct{}),
	}
	s, err := b.connect(ctx, &reconnectBackoff{min: opts.MinBackoff, max: opts.MaxBackoff}, false)
	if err != nil {
		return nil, fmt.Errorf("connect to rabbitmq %s: %w", redactURL(opts.URL), err)
	}
	b.log.Info("connected to rabbitmq", "url", redactURL(opts.URL), "commands_queue", s.queue)
	b.runCtx, b.cancelRun = context.WithCancel(context.Background())
	go b.run(s)
	return b, nil
}

// connect opens a session, retrying with backoff until it works or ctx ends, and
// installs it as the current one. With waitFirst it backs off before the first attempt too.
func (b *Broker) connect(ctx context.Context, bo *reconnectBackoff, waitFirst bool) (*session, error) {
	if waitFirst && !sleepCtx(ctx, bo.next()) {
		return nil, ctx.Err()
	}
	for attempt := 1; ; attempt++ {
		b.mu.Lock()
		consume := !b.consumeStopped
		b.mu.Unlock()
		s, err := openSession(ctx, &b.opts, consume, b.consumerTag, b.log)
		if err == nil {
			b.install(s)
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wait := bo.next()
		b.log.Warn("rabbitmq connection attempt failed",
			"url", redactURL(b.opts.URL), "attempt", attempt, "retry_in", wait, "error", err)
		if !sleepCtx(ctx, wait) {
			return nil, ctx.Err()
		}
	}
}

// install makes s the current session and starts forwarding its commands.
func (b *Broker) install(s *session) {
	b.mu.Lock()
	b.sess = s
	cancel := false
	if s.deliveries != nil {
		if b.consumeStopped {
			cancel = true // StopConsuming ran while s was being opened
		} else {
			b.fwd.Add(1)
			go b.forward(s.deliveries)
		}
	}
	b.mu.Unlock()
	if cancel {
		b.cancelConsumer(s)
	}
	b.up.Store(true)
}

// run is the connection manager: it serves the current session and, when it is lost,
// puts the unconfirmed dispatches back in the queue, reconnects and carries on, until
// Close ends runCtx. Shards keep publishing into the outbox meanwhile.
func (b *Broker) run(s *session) {
	defer close(b.done)
	bo := reconnectBackoff{min: b.opts.MinBackoff, max: b.opts.MaxBackoff}
	for {
		started := time.Now()
		err := b.serve(b.runCtx, s)
		b.up.Store(false)
		b.mu.Lock()
		b.sess = nil
		b.mu.Unlock()
		if b.runCtx.Err() == nil && !errors.Is(err, errFrozen) {
			b.settleInflight(s, time.Now().Add(closeTimeout))
		}
		requeued := b.out.requeueInflight()
		if b.runCtx.Err() != nil {
			deadline := time.Now().Add(closeTimeout)
			if by := b.closeBy.Load(); by != 0 && by < deadline.UnixNano() {
				deadline = time.Unix(0, by)
			}
			s.shutdown(deadline)
			return
		}
		b.dropRefused(err)
		msgs, bytes := b.out.stats()
		b.log.Warn("rabbitmq connection lost; reconnecting",
			"error", err, "republishing", requeued, "buffered_dispatches", msgs, "buffered_body_bytes", bytes)
		lost := time.Now()
		if errors.Is(err, errFrozen) {
			s.shutdown(lost) // cut: a polite close would wait on the frozen socket
		} else {
			s.shutdown(lost.Add(closeTimeout))
		}
		// A session that lived a while earns an immediate reconnect. One that died at once
		// (say, publishing is refused) keeps backing off, so a broken setup does not
		// turn into a tight reconnect loop.
		flapping := lost.Sub(started) < stableSession
		if !flapping {
			bo = reconnectBackoff{min: b.opts.MinBackoff, max: b.opts.MaxBackoff}
		}
		if s, err = b.connect(b.runCtx, &bo, flapping); err != nil {
			return // Close
		}
		msgs, bytes = b.out.stats()
		b.log.Info("rabbitmq connection recovered",
			"down_for", time.Since(lost).Round(time.Millisecond), "buffered_dispatches", msgs, "buffered_body_bytes", bytes)
	}
}

// settleInflight takes the confirms of what is in flight while the publishing connection
// still works (the session was lost on its command connection), until deadline: what
// RabbitMQ confirms then is not published a second time.
func (b *Broker) settleInflight(s *session, deadline time.Time) {
	if s.pub == nil || s.pub.Err() != nil {
		return
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for b.out.inflightLen() > 0 {
		select {
		case <-s.pub.Confirmed():
			b.takeConfirms(s)
		case <-s.pub.Done():
			b.takeConfirms(s)
			return
		case <-t.C:
			return
		}
	}
}

// refusedSize matches RabbitMQ's channel error for a body above max_message_size:
// "PRECONDITION_FAILED - message size 134217729 is larger than [configured ]max size 134217728".
var refusedSize = regexp.MustCompile(`message size (\d+) is larger than (?:configured )?max size`)

// dropRefused drops the dispatch the broker refused as too large: republishing it would close
// the channel again, forever, and stop every shard. No other loss (network, broker restart,
// access refused) ever drops anything.
func (b *Broker) dropRefused(loss error) {
	var aerr *amqppub.Error
	if !errors.As(loss, &aerr) || aerr.Code != amqp.PreconditionFailed {
		return
	}
	m := refusedSize.FindStringSubmatch(aerr.Reason)
	if m == nil {
		return
	}
	size, err := strconv.Atoi(m[1])
	if err != nil {
		return
	}
	if d, ok := b.out.dropFirstOfSize(size); ok {
		b.log.Error("dropping a dispatch larger than rabbitmq's max_message_size",
			"shard_id", d.shard, "event", d.key, "bytes", d.size, "error", aerr.Reason)
		if b.opts.OnDrop != nil {
			b.opts.OnDrop(d.shard, d.key, d.ref)
		}
	}
}

// Publish hands one dispatch to the broker. It copies body and returns at once, unless
// the buffer is full: then it blocks until there is room or ctx ends (back-pressure: the
// shard stops reading). routingKey is the event name; ref is the caller's own reference
// for this dispatch (the shard's session sequence), handed back by Options.OnConfirm.
func (b *Broker) Publish(ctx context.Context, shardID int, ref int64, routingKey, body []byte) error {
	if len(routingKey) > maxRoutingKey {
		// It could never be written (an AMQP short string) and would block the queue.
		return fmt.Errorf("publish %.32s...: routing key of %d bytes, the limit is %d", routingKey, len(routingKey), maxRoutingKey)
	}
	if err := b.out.add(ctx, shardID, ref, routingKey, body); err != nil {
		return fmt.Errorf("publish %s: %w", routingKey, err)
	}
	return nil
}

// Commands delivers commands from gateway_commands. It is the same channel across
// reconnects, closed after StopConsuming or Close.
func (b *Broker) Commands() <-chan Command { return b.commands }

// Up reports whether the connection is open and the topology declared (for /readyz).
func (b *Broker) Up() bool { return b.up.Load() }

// Buffered returns the bytes held by the dispatches queued or published but not yet
// confirmed: what counts against MaxBufferBytes, each dispatch's size-class buffer plus a
// fixed per-dispatch overhead (a little more than the bodies alone).
func (b *Broker) Buffered() int { return b.out.buffered() }

// Drain stops consuming, refuses new dispatches and waits until every buffered dispatch
// is confirmed or ctx ends, keeping the connection open: shutdown saves sessions between
// the last confirm and Close (DESIGN.md §7).
func (b *Broker) Drain(ctx context.Context) error {
	if err := b.drain(ctx); err != nil {
		msgs, bytes := b.out.stats()
		return &UnconfirmedError{Messages: msgs, Bytes: bytes, Err: err}
	}
	return nil
}

// drain is Drain, returning ctx's error when it ended first.
func (b *Broker) drain(ctx context.Context) error {
	b.StopConsuming()
	b.out.close()
	return b.out.waitEmpty(ctx)
}

// EachUnconfirmed calls f with the shard and ref of every dispatch not confirmed yet
// (queued or in flight), in no particular order: after Close, what the shutdown left
// behind. f must not call back into the broker.
func (b *Broker) EachUnconfirmed(f func(shard int, ref int64)) {
	b.out.each(func(e *entry) { f(e.shard, e.ref) })
}

// Close drains (see Drain) until ctx ends, then closes the connection. If dispatches
// were still unconfirmed, the error is an *UnconfirmedError saying how many. Later calls
// return the same.
func (b *Broker) Close(ctx context.Context) error {
	b.closeOnce.Do(func() { b.closeErr = b.close(ctx) })
	return b.closeErr
}

func (b *Broker) close(ctx context.Context) error {
	waitErr := b.drain(ctx)
	if dl, ok := ctx.Deadline(); ok {
		b.closeBy.Store(dl.UnixNano())
	}
	b.cancelRun()

	// The manager closes the connections politely unless its publisher is stuck in a
	// write to a dead socket: then cut the sockets.
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-b.done:
	case <-ctx.Done():
	case <-t.C:
	}
	b.mu.Lock()
	if b.sess != nil {
		b.sess.cut()
	}
	b.mu.Unlock()
	<-b.done
	b.fwd.Wait()
	b.bg.Wait()

	if msgs, bytes := b.out.stats(); msgs > 0 {
		err := &UnconfirmedError{Messages: msgs, Bytes: bytes, Err: waitErr}
		b.log.Error("rabbitmq connection closed with dispatches unconfirmed", "dispatches", msgs, "bytes", bytes)
		return err
	}
	b.log.Info("rabbitmq connection closed; every dispatch confirmed")
	return nil
}
