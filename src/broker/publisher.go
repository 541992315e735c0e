package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// serve is the publisher: the one goroutine that owns the session's publish channel. It
// writes pending dispatches in order and matches confirmations to them, until the session
// is lost (returns why) or the broker stops (returns nil). amqp091 would let several
// goroutines publish, but then delivery tags and outbox order could disagree.
func (b *Broker) serve(ctx context.Context, s *session) (err error) {
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	go b.watchConfirms(s, stopWatch)
	defer func() {
		// However the loss showed (a failed write, a closed channel), a connection the
		// watchdog cut was lost for being frozen.
		if ferr := s.frozenErr.Load(); ferr != nil && err != nil {
			err = fmt.Errorf("%w (%w)", *ferr, err)
		}
	}()
	for {
		if err := b.flush(ctx, s); err != nil {
			if errors.Is(err, errStalled) {
				return fmt.Errorf("%w: %w", errFrozen, err)
			}
			// The publish error only says "not open"; the close notification says why.
			return fmt.Errorf("%w (%w)", s.lossReason(), err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-b.out.wake:
		case c, ok := <-s.confirms:
			if !ok {
				return s.lossReason()
			}
			b.onConfirm(c)
			s.confirmed.Add(1)
			// Take every confirmation already there before publishing again: one wakeup
			// and one batch of writes for many confirms.
			for more := true; more; {
				select {
				case c, ok := <-s.confirms:
					if !ok {
						return s.lossReason()
					}
					b.onConfirm(c)
					s.confirmed.Add(1)
				default:
					more = false
				}
			}
		case e := <-s.connClosed:
			return channelErr("connection", e)
		case e := <-s.pubClosed:
			return channelErr("publish channel", e)
		case e := <-s.conClosed:
			return channelErr("command channel", e)
		}
	}
}

// watchConfirms cuts the session's socket when RabbitMQ confirms nothing for the stall
// period while dispatches are in flight (and it is not blocking publishers on purpose):
// the connection is frozen even if the socket still takes a trickle of bytes, which the
// write deadline alone would let through. It runs beside the publisher, which may be
// the one stuck in that trickle, until stop is closed.
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
		// Confirms amqp091 handed over, read by the publisher or not yet.
		got := s.confirmed.Load() + uint64(len(s.confirms))
		if watch.stalled(inflight > 0 && !s.pubBlocked.Load(), got) {
			err := fmt.Errorf("%w: no confirm for %v with %d dispatches in flight", errFrozen, b.opts.stall, inflight)
			s.frozenErr.Store(&err)
			// Expiring alone is not enough: amqp091 moves the read deadline
			// after every frame it reads, so RabbitMQ's heartbeats would keep
			// a connection that confirms nothing alive until the next write.
			s.raw.expire()
			s.raw.close()
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

// flush publishes pending dispatches while the in-flight window has room, as one batch
// of socket writes.
func (b *Broker) flush(ctx context.Context, s *session) error {
	e, ok := b.out.next(maxInflight)
	if !ok {
		return nil
	}
	sock := s.raw.get()
	sock.beginBatch()
	for ok {
		err := s.pub.PublishWithContext(ctx, ExchangeGateway, e.key, false, false, amqp.Publishing{
			Headers:      b.headers.get(e.shard),
			ContentType:  b.opts.ContentType,
			DeliveryMode: amqp.Transient,
			Timestamp:    e.at,
			Body:         e.body,
		})
		if err != nil {
			if werr := sock.endBatch(); werr != nil {
				err = werr // the socket's failure is the cause
			}
			if ctx.Err() != nil {
				//nolint:nilerr // stopping is not a session loss; the entry stays pending and Close counts it as unconfirmed
				return nil
			}
			// The entry stays first in pending: it goes out again on the next channel.
			return fmt.Errorf("publish %s: %w", e.key, err)
		}
		s.nextTag++
		b.out.markSent(s.nextTag)
		e, ok = b.out.next(maxInflight)
	}
	// The batch's dispatches are in flight now; if the write fails they are requeued with
	// the rest when the session ends.
	if err := sock.endBatch(); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

func (b *Broker) onConfirm(c amqp.Confirmation) {
	r := b.out.confirm(c.DeliveryTag, c.Ack)
	if r.acked > 0 && b.opts.OnConfirm != nil {
		b.opts.OnConfirm(r.shard, r.key, r.ref, time.Since(r.at))
	}
	switch {
	case r.stale:
		b.log.Debug("ignoring confirmation of unknown delivery tag", "tag", c.DeliveryTag)
	case !c.Ack:
		b.log.Warn("rabbitmq nacked a dispatch; publishing it again", "tag", c.DeliveryTag)
	case r.requeued > 0:
		b.log.Warn("confirmations were skipped; publishing those dispatches again", "count", r.requeued)
	}
}
