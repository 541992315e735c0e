package shard

import (
	"context"
	"log/slog"
	"time"
	"unicode/utf8"
)

// Reasons a dispatch is refused rather than published (metric label).
const (
	// RefusedNoEvent: the dispatch has no t (absent, null or empty).
	// Discord always sends one; without it there is no routing key a
	// worker could bind, and an empty one would reach only queues bound to
	// "" by accident.
	RefusedNoEvent = "no_event_name"
	// RefusedLongEvent: t is longer than an AMQP routing key may be (255
	// bytes); RabbitMQ would refuse it on every attempt.
	RefusedLongEvent = "event_name_too_long"
	// RefusedTooLarge: RabbitMQ refused the body as larger than its
	// max_message_size (reported by the broker, see broker.Options.OnDrop).
	RefusedTooLarge = "message_too_large"
)

// maxRoutingKey is the longest routing key AMQP can carry (a short string,
// amqppub.MaxShortStr; the shard does not import the broker).
const maxRoutingKey = 255

// refusedWarnEvery spaces the warnings about refused dispatches; the
// metric counts every one.
const refusedWarnEvery = 10 * time.Second

// refusal returns why a dispatch named t can never be published, or "".
func refusal(t []byte) string {
	switch {
	case len(t) == 0:
		return RefusedNoEvent
	case len(t) > maxRoutingKey:
		return RefusedLongEvent
	}
	return ""
}

// guardedPublisher refuses, once and loudly, a dispatch that no retry could
// ever publish, instead of handing it to the publisher: its error would
// end the connection, the resume would replay the same dispatch, and after
// the resumes ran out the shard would identify and lose every event behind
// it. A refused dispatch is settled at once, so the stored seq moves past
// it and the events after it are published as usual.
type guardedPublisher struct {
	s    *Shard
	next Publisher
}

func (g *guardedPublisher) Publish(ctx context.Context, shardID int, ref int64, routingKey, body []byte) error {
	reason := refusal(routingKey)
	if reason == "" {
		return g.next.Publish(ctx, shardID, ref, routingKey, body)
	}
	g.s.refused(ref, reason, routingKey, len(body))
	return nil
}

// refused counts, logs (throttled) and settles a dispatch that will never
// be published. ref is the dispatch's confirm reference (-1 if untracked).
func (s *Shard) refused(ref int64, reason string, event []byte, size int) {
	s.cfg.Observer.DispatchRefused(s.cfg.ID, reason)
	s.Confirmed(ref)
	ok, suppressed := s.refusedWarn.Allow()
	if !ok {
		return
	}
	attrs := []slog.Attr{slog.String("reason", reason), slog.String("event", shortEvent(event)),
		slog.Int("event_bytes", len(event)), slog.Int("bytes", size), slog.Int("suppressed_since_last", suppressed)}
	if seq, tracked := refSeq(ref); tracked {
		attrs = append(attrs, slog.Int64("seq", seq))
	}
	s.log.LogAttrs(context.Background(), slog.LevelWarn,
		"refused a dispatch that can never be published; it is dropped and the events after it are published", attrs...)
}

// shortEvent keeps a log line short whatever Discord sent as t.
func shortEvent(t []byte) string {
	const keep = 48
	if len(t) <= keep {
		return string(t)
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(t[cut]) {
		cut--
	}
	return string(t[:cut]) + "..."
}
