package shard

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/state"
)

// amqpLikePublisher refuses what RabbitMQ can never take, as the broker does.
type amqpLikePublisher struct{ next Publisher }

func (p amqpLikePublisher) Publish(ctx context.Context, shardID int, ref int64, key, body []byte) error {
	if len(key) > 255 {
		return errors.New("routing key longer than 255 bytes")
	}
	return p.next.Publish(ctx, shardID, ref, key, body)
}

type refusals struct {
	nopObserver
	mu      sync.Mutex
	reasons []string
}

func (r *refusals) DispatchRefused(_ int, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reasons = append(r.reasons, reason)
}

func (r *refusals) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reasons...)
}

// Issue 8 point 6: a dispatch that can never be published is refused once,
// counted and settled; the connection stays up, the stored seq moves past
// it and every dispatch after it is published.
func TestADispatchThatCanNeverBePublishedIsRefusedOnceAndTheRestFlows(t *testing.T) {
	long := strings.Repeat("X", 300)
	tests := []struct {
		name    string
		payload string
		reason  string
	}{
		{"event name of 300 bytes", `{"op":0,"s":2,"t":"` + long + `","d":{}}`, RefusedLongEvent},
		{"no t", `{"op":0,"s":2,"d":{}}`, RefusedNoEvent},
		{"t null", `{"op":0,"s":2,"t":null,"d":{}}`, RefusedNoEvent},
		{"t empty", `{"op":0,"s":2,"t":"","d":{}}`, RefusedNoEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stub := newDiscordStub(t)
			fake := clock.NewFake(time.Unix(0, 0))
			sessions := state.NewMemorySessions()
			obs := &refusals{}
			s, pub, _ := startShard(t, stub, fake, func(c *Config) {
				c.Sessions = sessions
				c.Observer = obs
				c.Publisher = amqpLikePublisher{c.Publisher}
			})
			c := established(t, stub, pub, "sess-r")
			c.sendRaw([]byte(tt.payload))
			c.sendRaw([]byte(`{"op":0,"s":3,"t":"MESSAGE_CREATE","d":{"n":3}}`))

			next := pub.next(t)
			assert.Equal(t, "MESSAGE_CREATE", next.key, "the dispatch after the refused one is published")
			assert.Equal(t, `{"op":0,"s":3,"t":"MESSAGE_CREATE","d":{"n":3}}`, next.body)
			waitUntil(t, func() bool { return s.confirms.settled() == 3 })
			sess, ok, err := sessions.Load(context.Background(), 1)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, int64(3), sess.Seq, "the stored seq moves past the refused dispatch")
			assert.Equal(t, []string{tt.reason}, obs.got())
			select {
			case r := <-stub.conns:
				t.Fatalf("the shard reconnected (%s) over a dispatch no retry can publish", r.url)
			case <-c.closed:
				t.Fatal("the shard closed the connection")
			default:
			}
		})
	}
}

func TestShortEventKeepsLogLinesShort(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"MESSAGE_CREATE", "MESSAGE_CREATE"},
		{strings.Repeat("A", 300), strings.Repeat("A", 48) + "..."},
		{strings.Repeat("A", 47) + "é" + "tail", strings.Repeat("A", 47) + "..."}, // never cuts a rune
	} {
		assert.Equal(t, tt.want, shortEvent([]byte(tt.in)))
	}
}

// receivedEvents records the event names counted as received (the metric's
// event label) and the refusals.
type receivedEvents struct {
	refusals
	events map[string]int
}

func (r *receivedEvents) DispatchReceived(_ int, event []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events[string(event)]++
}

func (r *receivedEvents) labels() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.events)
}

// A hostile or broken peer must not create a metric label per event name
// it invents: a refused dispatch is counted by its reason only.
func TestRefusedEventNamesNeverBecomeMetricLabels(t *testing.T) {
	stub := newDiscordStub(t)
	obs := &receivedEvents{events: map[string]int{}}
	_, pub, _ := startShard(t, stub, clock.NewFake(time.Unix(0, 0)), func(c *Config) { c.Observer = obs })
	c := established(t, stub, pub, "sess-l")
	c.sendRaw([]byte(`{"op":0,"s":2,"t":"` + strings.Repeat("X", 300) + `","d":{}}`))
	for i := range 1000 {
		c.sendRaw([]byte(`{"op":0,"s":` + strconv.Itoa(3+i) + `,"t":"` + strings.Repeat("Y", 256) + strconv.Itoa(i) + `","d":{}}`))
	}
	c.sendRaw([]byte(`{"op":0,"s":1003,"t":"MESSAGE_CREATE","d":{}}`))
	require.Equal(t, "MESSAGE_CREATE", pub.next(t).key)
	assert.Equal(t, map[string]int{"READY": 1, "MESSAGE_CREATE": 1}, obs.labels(), "only published event names are labels")
	assert.Len(t, obs.got(), 1001, "every refused dispatch is counted by its reason")
}
