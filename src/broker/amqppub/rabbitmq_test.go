package amqppub

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// rabbitURL is the test broker (CORDIS_TEST_AMQP_URL); the test skips without one.
func rabbitURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("CORDIS_TEST_AMQP_URL")
	if u == "" {
		t.Skip("CORDIS_TEST_AMQP_URL not set")
	}
	return u
}

func TestAgainstRabbitMQEveryPublishIsConfirmedAndConsumersSeeWhatAmqp091Publishes(t *testing.T) {
	url := rabbitURL(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	key := "amqppub-test-" + hex.EncodeToString(rnd[:])

	// The consumer side, as workers see it: amqp091, an exclusive queue on amq.direct.
	oc, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	och, err := oc.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := och.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := och.QueueBind(q.Name, key, "amq.direct", false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := och.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{URL: url, ConnectionName: "amqppub test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(time.Now().Add(2 * time.Second))

	const n = 2000
	ts := time.Unix(1_700_000_000, 0)
	headers := AppendTableInt32(nil, "shard_id", 12)
	body := func(i int) []byte {
		if i == 7 { // larger than frame_max: split into body frames
			return bytes.Repeat([]byte{'L'}, 3*c.FrameMax()+17)
		}
		return []byte(key + "-" + string(rune('a'+i%26)) + hex.EncodeToString([]byte{byte(i), byte(i >> 8)}))
	}
	for i := range n {
		p := Properties{ContentType: "application/json", Headers: headers, DeliveryMode: 1, Timestamp: ts.Unix()}
		tag, err := c.Publish("amq.direct", key, &p, body(i))
		if err != nil || tag != uint64(i+1) {
			t.Fatalf("publish %d: tag %d, %v", i, tag, err)
		}
		if i%100 == 99 {
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	var confirms []Confirm
	confirmed := make([]bool, n+2)
	acked := uint64(0) // every tag up to it is confirmed
	for acked < n {
		select {
		case <-c.Confirmed():
			confirms = c.TakeConfirms(confirms[:0])
			for _, r := range confirms {
				if !r.Ack || r.Tag > n || (!r.Multiple && confirmed[r.Tag]) {
					t.Fatalf("confirm %+v with every tag up to %d confirmed", r, acked)
				}
				if r.Multiple {
					for i := acked + 1; i <= r.Tag; i++ {
						confirmed[i] = true
					}
				}
				confirmed[r.Tag] = true
				for acked < n && confirmed[acked+1] {
					acked++
				}
			}
		case <-c.Done():
			t.Fatalf("connection lost: %v", c.Err())
		case <-ctx.Done():
			t.Fatalf("only %d of %d confirmed", acked, n)
		}
	}
	for i := range n {
		var d amqp.Delivery
		select {
		case d = <-deliveries:
		case <-ctx.Done():
			t.Fatalf("received %d of %d", i, n)
		}
		if !bytes.Equal(d.Body, body(i)) {
			t.Fatalf("delivery %d: body %.40q", i, d.Body)
		}
		if d.Exchange != "amq.direct" || d.RoutingKey != key || d.ContentType != "application/json" ||
			d.DeliveryMode != amqp.Transient || !d.Timestamp.Equal(ts) || len(d.Headers) != 1 || d.Headers["shard_id"] != int32(12) {
			t.Fatalf("delivery %d: exchange %q key %q type %q mode %d ts %v headers %#v",
				i, d.Exchange, d.RoutingKey, d.ContentType, d.DeliveryMode, d.Timestamp, d.Headers)
		}
	}
}

func TestAgainstRabbitMQBadCredentialsAndUnknownVhostAreClearErrors(t *testing.T) {
	raw := rabbitURL(t)
	u, err := amqp.ParseURI(raw)
	if err != nil {
		t.Fatal(err)
	}
	badPass, badVhost := u, u
	badPass.Password = "not-the-password"
	badVhost.Vhost = "cordis-no-such-vhost"
	tests := []struct {
		name string
		url  string
		code uint16
		want string
	}{
		{"wrong password", badPass.String(), 403, "log in as"},
		{"unknown vhost", badVhost.String(), 530, `open vhost "cordis-no-such-vhost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, Config{URL: tt.url})
			if err == nil {
				c.Close(time.Now())
				t.Fatal("dial succeeded")
			}
			var aerr *Error
			if !errors.As(err, &aerr) || aerr.Code != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v: want code %d and %q", err, tt.code, tt.want)
			}
			if strings.Contains(err.Error(), "not-the-password") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

// RabbitMQ accepts each password mechanism as we encode it, and negotiates the URL's
// tuning settings as the fake server's tests expect.
func TestAgainstRabbitMQEachPasswordMechanismLogsInAndURLTuningApplies(t *testing.T) {
	raw := rabbitURL(t)
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	for _, q := range []string{"auth_mechanism=plain", "auth_mechanism=amqplain", "auth_mechanism=external&auth_mechanism=amqplain"} {
		t.Run(q, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, Config{URL: raw + sep + q + "&heartbeat=9&frame_max=16384", ConnectionName: "amqppub test"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(time.Now().Add(time.Second))
			if c.Heartbeat() != 9*time.Second || c.FrameMax() != 16384 {
				t.Fatalf("heartbeat %v, frame_max %d", c.Heartbeat(), c.FrameMax())
			}
			if _, err := c.Publish("amq.direct", "amqppub-nobody", &Properties{}, bytes.Repeat([]byte{'x'}, 40000)); err != nil {
				t.Fatal(err)
			}
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-c.Confirmed():
			case <-c.Done():
				t.Fatalf("connection ended: %v", c.Err())
			case <-ctx.Done():
				t.Fatal("no confirm")
			}
		})
	}
}
