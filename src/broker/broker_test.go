package broker

import (
	"bytes"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func connectTest(t *testing.T, opts Options) *Broker {
	t.Helper()
	if opts.ContentType == "" {
		opts.ContentType = ContentTypeJSON
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	b, err := Connect(testContext(t, 20*time.Second), opts)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = b.Close(testContext(t, 10*time.Second)) })
	return b
}

func TestPublishReachesQueueBoundOnRoutingKeyByteForByte(t *testing.T) {
	raw := testAMQPURL(t)
	b := connectTest(t, Options{URL: raw, ContentType: ContentTypeETF})
	if !b.Up() {
		t.Fatal("Up() = false after Connect")
	}
	key := randomKey(t)
	obs := newObserver(t, raw)
	d := obs.bind(t, key)

	body := []byte{131, 116, 0, 0, 0, 4, 0, 255, 1, 2, 'x'} // arbitrary bytes, even invalid UTF-8
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	buf := append([]byte(nil), body...)
	if err := b.Publish(testContext(t, 5*time.Second), 7, []byte(key), buf); err != nil {
		t.Fatal(err)
	}
	clear(buf) // the caller reuses its buffer at once
	m := receive(t, d, 5*time.Second)
	if !bytes.Equal(m.Body, body) {
		t.Fatalf("body = %v, want %v", m.Body, body)
	}
	if m.RoutingKey != key || m.Exchange != ExchangeGateway {
		t.Fatalf("exchange/key = %s/%s", m.Exchange, m.RoutingKey)
	}
	if m.ContentType != ContentTypeETF {
		t.Fatalf("content type = %q", m.ContentType)
	}
	if m.Timestamp.Before(before) || m.Timestamp.After(time.Now().Add(time.Second)) {
		t.Fatalf("timestamp %v not now", m.Timestamp)
	}
	if v, ok := m.Headers[HeaderShardID].(int32); !ok || v != 7 {
		t.Fatalf("shard_id header = %#v (%T), want int32 7", m.Headers[HeaderShardID], m.Headers[HeaderShardID])
	}
	if m.DeliveryMode != amqp.Transient {
		t.Fatalf("delivery mode = %d, want transient", m.DeliveryMode)
	}
}

// waitCommand reads Commands until the one with body arrives: other gateways' tests may
// publish to the same fanout exchange at the same time.
func waitCommand(t *testing.T, b *Broker, body []byte, timeout time.Duration) Command {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case c, ok := <-b.Commands():
			if !ok {
				t.Fatal("Commands() closed")
			}
			if bytes.Equal(c.Body, body) {
				return c
			}
		case <-deadline:
			t.Fatalf("command %q not received", body)
		}
	}
}

func publishCommand(t *testing.T, obs *observer, body []byte, headers amqp.Table) {
	t.Helper()
	err := obs.ch.PublishWithContext(testContext(t, 5*time.Second), ExchangeCommands, "", false, false,
		amqp.Publishing{Body: body, Headers: headers})
	if err != nil {
		t.Fatalf("publish command: %v", err)
	}
}

func TestCommandsArriveWithAndWithoutShardIDHeader(t *testing.T) {
	raw := testAMQPURL(t)
	b := connectTest(t, Options{URL: raw})
	obs := newObserver(t, raw)

	plain := []byte(`{"op":3,"d":{"` + randomKey(t) + `":1}}`)
	publishCommand(t, obs, plain, nil)
	if c := waitCommand(t, b, plain, 5*time.Second); c.Targeted {
		t.Fatalf("command without header: Targeted = true (%d)", c.ShardID)
	}

	for _, v := range []any{int8(3), int16(3), int32(3), int64(3), uint8(3), uint16(3), uint32(3)} {
		body := []byte(`{"op":3,"d":{"` + randomKey(t) + `":1}}`)
		publishCommand(t, obs, body, amqp.Table{HeaderShardID: v})
		c := waitCommand(t, b, body, 5*time.Second)
		if !c.Targeted || c.ShardID != 3 {
			t.Fatalf("header %T(3): got Targeted=%v ShardID=%d", v, c.Targeted, c.ShardID)
		}
	}

	odd := []byte(`{"op":3,"d":{"` + randomKey(t) + `":1}}`)
	publishCommand(t, obs, odd, amqp.Table{HeaderShardID: "3"})
	if c := waitCommand(t, b, odd, 5*time.Second); c.Targeted {
		t.Fatal("string shard_id header must be ignored")
	}
}
