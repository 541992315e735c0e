package integration

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// consumer is a test's own exclusive queue bound to the gateway exchange.
type consumer struct {
	t      *testing.T
	ch     *amqp.Channel
	q      string
	in     <-chan amqp.Delivery
	accept func([]byte) bool // nil: everything; else drop what it rejects
}

// receive returns the next accepted delivery. Rejected ones come from other
// gateways sharing the broker (another test run, a demo) and are skipped.
func (c *consumer) receive(timeout <-chan time.Time) (amqp.Delivery, bool) {
	for {
		select {
		case d := <-c.in:
			if c.accept == nil || c.accept(d.Body) {
				return d, true
			}
		case <-timeout:
			return amqp.Delivery{}, false
		}
	}
}

// declareGatewayExchanges declares both exchanges exactly as DESIGN.md §3
// (and the reference implementation) do, so binding works before the
// gateway started, and a mismatching declaration by the gateway fails loudly.
func declareGatewayExchanges(ch *amqp.Channel) error {
	if err := ch.ExchangeDeclare("gateway", "direct", false, false, false, false, nil); err != nil {
		return err
	}
	return ch.ExchangeDeclare("gateway_commands", "fanout", true, false, false, false, nil)
}

// dialAMQP connects to url and closes the connection when the test ends.
func dialAMQP(t *testing.T, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("dial RabbitMQ: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	if err := declareGatewayExchanges(ch); err != nil {
		t.Fatalf("declare exchanges: %v", err)
	}
	return ch
}

// newConsumer binds a fresh exclusive queue to gateway on every key.
func newConsumer(t *testing.T, keys ...string) *consumer {
	t.Helper()
	ch := dialAMQP(t, env.amqpURL)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatalf("declare queue: %v", err)
	}
	for _, k := range keys {
		if err := ch.QueueBind(q.Name, k, "gateway", false, nil); err != nil {
			t.Fatalf("bind %q: %v", k, err)
		}
	}
	in, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	return &consumer{t: t, ch: ch, q: q.Name, in: in}
}

// next returns the next delivery or fails after timeout.
func (c *consumer) next(timeout time.Duration) amqp.Delivery {
	c.t.Helper()
	d, ok := c.receive(time.After(timeout))
	if !ok {
		c.t.Fatalf("nothing arrived on the test queue within %v", timeout)
	}
	return d
}

// none asserts nothing arrives for d.
func (c *consumer) none(d time.Duration) {
	c.t.Helper()
	select {
	case m := <-c.in:
		c.t.Fatalf("unexpected message on %q: %q", m.RoutingKey, m.Body)
	case <-time.After(d):
	}
}

// drain returns everything that arrives until quiet passes with nothing new.
func (c *consumer) drain(quiet time.Duration) []amqp.Delivery {
	var out []amqp.Delivery
	for {
		d, ok := c.receive(time.After(quiet))
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// publishCommand publishes body on gateway_commands, optionally with a
// shard_id header.
func publishCommand(t *testing.T, body []byte, headers amqp.Table) {
	t.Helper()
	ch := dialAMQP(t, env.amqpURL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ch.PublishWithContext(ctx, "gateway_commands", "", false, false, amqp.Publishing{Body: body, Headers: headers}); err != nil {
		t.Fatalf("publish command: %v", err)
	}
}
