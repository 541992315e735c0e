package broker

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// serve is the publisher: the one goroutine that owns the session's publish channel. It
// writes pending dispatches in order and matches confirmations to them, until the session
// is lost (returns why) or the broker stops (returns nil). amqp091 would let several
// goroutines publish, but then delivery tags and outbox order could disagree.
func (b *Broker) serve(ctx context.Context, s *session) error {
	for {
		if err := b.flush(ctx, s); err != nil {
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
		case e := <-s.connClosed:
			return channelErr("connection", e)
		case e := <-s.pubClosed:
			return channelErr("publish channel", e)
		case e := <-s.conClosed:
			return channelErr("command channel", e)
		case bl := <-s.blocked:
			if bl.Active {
				b.log.Warn("rabbitmq is blocking publishes (resource alarm)", "reason", bl.Reason)
			} else {
				b.log.Info("rabbitmq unblocked publishes")
			}
		}
	}
}

// flush publishes pending dispatches while the in-flight window has room.
func (b *Broker) flush(ctx context.Context, s *session) error {
	for {
		e, ok := b.out.next(maxInflight)
		if !ok {
			return nil
		}
		err := s.pub.PublishWithContext(ctx, ExchangeGateway, e.key, false, false, amqp.Publishing{
			Headers:      b.headers.get(e.shard),
			ContentType:  b.opts.ContentType,
			DeliveryMode: amqp.Transient,
			Timestamp:    e.at,
			Body:         e.body,
		})
		if err != nil {
			if ctx.Err() != nil {
				//nolint:nilerr // stopping is not a session loss; the entry stays pending and Close counts it as unconfirmed
				return nil
			}
			// The entry stays first in pending: it goes out again on the next channel.
			return fmt.Errorf("publish %s: %w", e.key, err)
		}
		s.nextTag++
		b.out.markSent(s.nextTag)
	}
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
