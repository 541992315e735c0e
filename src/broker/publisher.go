package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cordis-gateway/cordis/src/broker/amqppub"
)

// batchBytes is how many body bytes the publisher takes from the outbox in one go: about
// one socket write (amqppub also writes once this much is buffered).
const batchBytes = 64 << 10

// deliveryTransient is AMQP's delivery mode 1: `gateway` is not durable anyway.
const deliveryTransient = 1

// publisherState is what only the publisher goroutine touches: scratch slices reused
// from batch to batch, so that publishing and confirming allocate nothing.
type publisherState struct {
	headers  shardHeaders
	batch    []entry
	confirms []amqppub.Confirm
	settled  []settled
}

// serve is the publisher: the one goroutine that owns the session's publishing
// connection. It writes pending dispatches in order and matches confirmations to them,
// until the session is lost (returns why) or the broker stops (returns nil). One
// goroutine, so that delivery tags and outbox order cannot disagree.
func (b *Broker) serve(ctx context.Context, s *session) (err error) {
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	go b.watchConfirms(s, stopWatch)
	defer func() {
		// However the loss showed (a failed write, a closed socket), a connection the
		// watchdog cut was lost for being frozen.
		if ferr := s.frozenErr.Load(); ferr != nil && err != nil {
			err = fmt.Errorf("%w (%w)", *ferr, err)
		}
	}()
	for {
		if err := b.flush(s); err != nil {
			if errors.Is(err, errStalled) {
				return fmt.Errorf("%w: %w", errFrozen, err)
			}
			if perr := s.pub.Err(); perr != nil && !errors.Is(err, perr) {
				// RabbitMQ's reason (a channel.close) says more than the write error.
				return fmt.Errorf("publishing connection: %w (%w)", perr, err)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-b.out.wake:
		case <-s.pub.Confirmed():
			b.takeConfirms(s)
		case <-s.pub.Done():
			b.takeConfirms(s) // what was confirmed before the loss is not sent again
			return fmt.Errorf("publishing connection: %w", s.pub.Err())
		case e := <-s.connClosed:
			return channelErr("command connection", e)
		case e := <-s.conClosed:
			return channelErr("command channel", e)
		}
	}
}

// takeConfirms applies every confirm the reader gathered: one wakeup, and one outbox
// lock and one clock read per ack frame, however many dispatches it covers.
func (b *Broker) takeConfirms(s *session) {
	p := &b.pubState
	p.confirms = s.pub.TakeConfirms(p.confirms[:0])
	for _, c := range p.confirms {
		var r confirmResult
		r, p.settled = b.out.confirm(c.Tag, c.Multiple, c.Ack, p.settled[:0])
		if len(p.settled) > 0 && b.opts.OnConfirm != nil {
			now := time.Now()
			for i := range p.settled {
				d := &p.settled[i]
				b.opts.OnConfirm(d.shard, d.key, d.ref, now.Sub(d.at))
			}
		}
		clear(p.settled) // keep no keys alive
		switch {
		case r.stale:
			b.log.Debug("ignoring confirmation of unknown or confirmed delivery tags", "tag", c.Tag, "multiple", c.Multiple)
		case !c.Ack:
			b.log.Warn("rabbitmq nacked dispatches; publishing them again", "count", r.requeued, "tag", c.Tag, "multiple", c.Multiple)
		}
	}
}

// watchConfirms cuts the session's publishing socket when RabbitMQ confirms nothing for
// the stall period while dispatches are in flight (and it is not blocking publishers on
// purpose): the connection is frozen even if the socket still takes a trickle of bytes,
// which the write deadline alone would let through. It runs beside the publisher, which
// may be the one stuck in that trickle, until stop is closed.
func (b *Broker) watchConfirms(s *session, stop <-chan struct{}) {
	tick := time.NewTicker(b.opts.stall / stallTicks)
	defer tick.Stop()
	watch := stallWatch{limit: stallTicks + 1}
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		inflight := b.out.inflightLen()
		// Confirms the reader received, applied by the publisher or not yet.
		if watch.stalled(inflight > 0 && !s.pubBlocked.Load(), s.pub.ConfirmFrames()) {
			err := fmt.Errorf("%w: no confirm for %v with %d dispatches in flight", errFrozen, b.opts.stall, inflight)
			s.frozenErr.Store(&err)
			s.cut()
			return
		}
	}
}

// errFrozen marks a session lost because RabbitMQ stopped answering on a connection that
// is still open: it is cut at once, not closed politely (that would wait on it too).
var errFrozen = errors.New("rabbitmq connection frozen")

// stallTicks is how many checks per stall period watchConfirms makes.
const stallTicks = 5

// stallWatch tells a connection that stopped confirming from a busy one, by ticks (no
// clock read per dispatch): stalled once limit consecutive ticks saw dispatches waiting
// and no new confirm.
type stallWatch struct {
	limit     int
	idle      int
	confirmed uint64
}

// stalled records one tick: waiting says dispatches are in flight with nothing left to
// read and no reason to wait (a resource alarm), confirmed is the confirms so far.
func (w *stallWatch) stalled(waiting bool, confirmed uint64) bool {
	if !waiting || confirmed != w.confirmed {
		w.idle, w.confirmed = 0, confirmed
		return false
	}
	w.idle++
	return w.idle >= w.limit
}

// flush publishes pending dispatches while the in-flight window has room: each batch is
// taken from the outbox under one lock, encoded straight into the connection's write
// buffer and written in one write(2). A dispatch whose write fails stays pending or goes
// back with the rest of inflight when the session ends: it is sent again either way.
func (b *Broker) flush(s *session) error {
	p := &b.pubState
	for {
		p.batch = b.out.peek(maxInflight, batchBytes, p.batch[:0])
		if len(p.batch) == 0 {
			return nil
		}
		var first uint64
		for i := range p.batch {
			e := &p.batch[i]
			props := amqppub.Properties{
				ContentType:  b.opts.ContentType,
				Headers:      p.headers.get(e.shard),
				DeliveryMode: deliveryTransient,
				Timestamp:    e.at.Unix(),
			}
			tag, err := s.pub.Publish(ExchangeGateway, e.key, &props, e.body)
			if i == 0 {
				first = tag
			}
			if err != nil {
				clear(p.batch)
				return fmt.Errorf("publish %s: %w", e.key, err)
			}
		}
		// In flight from here: if the write fails they are requeued when the session ends.
		b.out.markSent(len(p.batch), first)
		clear(p.batch) // keep no buffers alive
		if err := s.pub.Flush(); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
}
