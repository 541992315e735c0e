package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/cordis-gateway/cordis/src/logging/logtest"
)

func connectTest(t *testing.T, opts Options) *Broker {
	t.Helper()
	if why := brokenBroker.Load(); why != nil {
		t.Fatalf("not connecting: %s", *why)
	}
	if opts.ContentType == "" {
		opts.ContentType = ContentTypeJSON
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	attempts := &lastAttempt{inner: opts.Logger.Handler(), mu: &sync.Mutex{}, last: new(string)}
	opts.Logger = slog.New(attempts)
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	b, err := Connect(testContext(t, connectLimit), opts)
	if err != nil {
		why := fmt.Sprintf("Connect did not come up within %v (dial, open a channel, declare the exchanges): %v; last attempt: %s",
			connectLimit, err, attempts.err())
		if opts.URL == testAMQPURL(t) {
			// The real broker, no fault in between: every later test would
			// wait as long for the same failure.
			msg := t.Name() + ": " + why
			brokenBroker.CompareAndSwap(nil, &msg)
		}
		t.Fatal(why)
	}
	t.Cleanup(func() { _ = b.Close(testContext(t, 10*time.Second)) })
	return b
}

// connectLimit bounds connectTest; the first failure against the real
// broker makes every later connectTest fail at once (brokenBroker).
const connectLimit = 20 * time.Second

var brokenBroker atomic.Pointer[string]

// lastAttempt passes records on and keeps the error of the latest one
// that has an "error" attribute (a failed connection attempt).
type lastAttempt struct {
	inner slog.Handler
	mu    *sync.Mutex
	last  *string
}

func (h *lastAttempt) Enabled(context.Context, slog.Level) bool { return true }

func (h *lastAttempt) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			h.mu.Lock()
			*h.last = r.Message + ": " + a.Value.String()
			h.mu.Unlock()
		}
		return true
	})
	if !h.inner.Enabled(ctx, r.Level) {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h *lastAttempt) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &lastAttempt{inner: h.inner.WithAttrs(attrs), mu: h.mu, last: h.last}
}

func (h *lastAttempt) WithGroup(name string) slog.Handler {
	return &lastAttempt{inner: h.inner.WithGroup(name), mu: h.mu, last: h.last}
}

func (h *lastAttempt) err() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if *h.last == "" {
		return "none logged"
	}
	return *h.last
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
	if err := b.Publish(testContext(t, 5*time.Second), 7, 0, []byte(key), buf); err != nil {
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
	if m.ContentType != ContentTypeETF || m.DeliveryMode != amqp.Transient {
		t.Fatalf("content type = %q, delivery mode %d", m.ContentType, m.DeliveryMode)
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

func TestExchangesAreDeclaredExactlyLikeTheReferenceImplementation(t *testing.T) {
	raw := testAMQPURL(t)
	connectTest(t, Options{URL: raw})
	obs := newObserver(t, raw)
	// A re-declaration with different settings would close the channel with
	// PRECONDITION_FAILED; these are the reference implementation's declarations, as a
	// bot's worker makes them, so they must succeed.
	if err := obs.ch.ExchangeDeclarePassive(ExchangeGateway, "direct", false, false, false, false, nil); err != nil {
		t.Fatalf("passive declare %s: %v", ExchangeGateway, err)
	}
	if err := obs.ch.ExchangeDeclare(ExchangeGateway, "direct", false, false, false, false, nil); err != nil {
		t.Fatalf("declare %s (direct, not durable, not auto-delete, no args): %v", ExchangeGateway, err)
	}
	if err := obs.ch.ExchangeDeclare(ExchangeCommands, "fanout", true, false, false, false, nil); err != nil {
		t.Fatalf("declare %s (fanout, durable, not auto-delete, no args): %v", ExchangeCommands, err)
	}
}

func TestCommandQueueIsServerNamedExclusiveAndAutoDeleted(t *testing.T) {
	raw := testAMQPURL(t)
	b := connectTest(t, Options{URL: raw})
	b.mu.Lock()
	queue := b.sess.queue
	b.mu.Unlock()
	if !strings.HasPrefix(queue, "amq.gen-") {
		t.Fatalf("queue %q is not server-named", queue)
	}

	// Exclusive: another connection may not even look at it.
	obs := newObserver(t, raw)
	_, err := obs.ch.QueueDeclarePassive(queue, false, true, true, false, nil)
	var aerr *amqp.Error
	if !errors.As(err, &aerr) || aerr.Code != amqp.ResourceLocked {
		t.Fatalf("passive declare of the commands queue from another connection: %v, want RESOURCE_LOCKED", err)
	}

	// Auto-delete: cancelling the consumer (StopConsuming) deletes it.
	b.StopConsuming()
	if _, ok := <-b.Commands(); ok {
		t.Fatal("Commands() not closed after StopConsuming")
	}
	waitFor(t, func() bool {
		b.mu.Lock()
		s := b.sess
		b.mu.Unlock()
		ch, err := s.conn.Channel() // the owner may still look at an exclusive queue
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		_, err = ch.QueueDeclarePassive(queue, false, true, true, false, nil)
		return errors.As(err, &aerr) && aerr.Code == amqp.NotFound
	})
}

func TestReconnectAfterConnectionCutLosesNothingAndKeepsOrder(t *testing.T) {
	raw := testAMQPURL(t)
	u, _ := url.Parse(raw)
	p := newProxy(t, u.Host)
	b := connectTest(t, Options{URL: p.urlThrough(t, raw)})
	commands := b.Commands()
	key := randomKey(t)
	obs := newObserver(t, raw)
	d := obs.bind(t, key)
	ctx := testContext(t, 30*time.Second)

	const before, during = 200, 300
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			if err := b.Publish(ctx, i%4, 0, []byte(key), []byte(strconv.Itoa(i))); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
	}
	publish(0, before)
	p.cut(true) // some of these are surely not confirmed yet
	waitFor(t, func() bool { return !b.Up() })
	publish(before, before+during)
	if got := b.Buffered(); got == 0 {
		t.Fatal("nothing buffered during the outage")
	}
	waitFor(t, func() bool { return p.refusedCount() >= 3 }) // it keeps retrying, with backoff
	p.resume()
	waitFor(t, b.Up)

	// At-least-once: duplicates are allowed, losses are not; first sightings are in order.
	seen := map[int]bool{}
	last := -1
	for len(seen) < before+during {
		m := receive(t, d, 10*time.Second)
		i, err := strconv.Atoi(string(m.Body))
		if err != nil {
			t.Fatalf("unexpected body %q", m.Body)
		}
		if seen[i] {
			continue
		}
		if i < last {
			t.Fatalf("dispatch %d first seen after %d", i, last)
		}
		seen[i], last = true, i
	}
	if err := b.out.waitEmpty(ctx); err != nil {
		t.Fatalf("not everything confirmed after recovery: %v", err)
	}

	// The Commands channel is the same one, and works again.
	if b.Commands() != commands {
		t.Fatal("Commands() changed across reconnect")
	}
	body := []byte(randomKey(t))
	waitFor(t, func() bool { // the new queue is bound by the time Up() is true; publish until seen
		publishCommand(t, obs, body, nil)
		select {
		case c := <-commands:
			return bytes.Equal(c.Body, body)
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
}

func TestPublishBlocksWhileBufferFullAndResumesAfterRecovery(t *testing.T) {
	raw := testAMQPURL(t)
	u, _ := url.Parse(raw)
	p := newProxy(t, u.Host)
	room := 10 * held(strings.Repeat("x", 100)) // ten 100-byte dispatches
	b := connectTest(t, Options{URL: p.urlThrough(t, raw), MaxBufferBytes: room})
	key := randomKey(t)
	obs := newObserver(t, raw)
	d := obs.bind(t, key)

	p.cut(true)
	waitFor(t, func() bool { return !b.Up() })
	body := bytes.Repeat([]byte{'x'}, 100)
	for i := range 10 {
		body[0] = byte('0' + i)
		if err := b.Publish(testContext(t, time.Second), 0, 0, []byte(key), body); err != nil {
			t.Fatalf("publish %d into a buffer with room: %v", i, err)
		}
	}
	if got := b.Buffered(); got != room {
		t.Fatalf("Buffered() = %d, want %d", got, room)
	}
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := b.Publish(short, 0, 0, []byte(key), body); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish into a full buffer: %v, want it to block until ctx ends", err)
	}

	waitFor(t, func() bool { return p.refusedCount() >= 2 })
	unblocked := make(chan error, 1)
	go func() {
		body := bytes.Repeat([]byte{'y'}, 100)
		unblocked <- b.Publish(testContext(t, 30*time.Second), 0, 0, []byte(key), body)
	}()
	p.resume()
	if err := <-unblocked; err != nil {
		t.Fatalf("blocked publish after recovery: %v", err)
	}
	got := map[byte]bool{}
	for len(got) < 11 {
		got[receive(t, d, 10*time.Second).Body[0]] = true
	}
}

func TestCloseAndDrainWaitForEveryConfirm(t *testing.T) {
	for _, drainFirst := range []bool{false, true} {
		name := map[bool]string{false: "Close", true: "Drain then Close"}[drainFirst]
		t.Run(name, func(t *testing.T) {
			raw := testAMQPURL(t)
			b := connectTest(t, Options{URL: raw})
			key := randomKey(t)
			obs := newObserver(t, raw)
			d := obs.bind(t, key)
			const n = 3000
			body := bytes.Repeat([]byte{'z'}, 512)
			for i := range n {
				if err := b.Publish(testContext(t, 10*time.Second), 0, 0, []byte(key), body); err != nil {
					t.Fatalf("publish %d: %v", i, err)
				}
			}
			closed := func(after string) {
				t.Helper()
				if err := b.Publish(context.Background(), 0, 0, []byte(key), body); !errors.Is(err, ErrClosed) {
					t.Fatalf("Publish after %s: %v, want ErrClosed", after, err)
				}
				if _, ok := <-b.Commands(); ok {
					t.Fatalf("Commands() open after %s", after)
				}
			}
			if drainFirst {
				if err := b.Drain(testContext(t, 20*time.Second)); err != nil {
					t.Fatalf("Drain: %v", err)
				}
				if got := b.Buffered(); got != 0 {
					t.Fatalf("Buffered() after Drain = %d", got)
				}
				if !b.Up() {
					t.Fatal("Drain closed the connection; only Close may")
				}
				closed("Drain")
			}
			if err := b.Close(testContext(t, 20*time.Second)); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := b.Buffered(); got != 0 {
				t.Fatalf("Buffered() after Close = %d", got)
			}
			for range n {
				receive(t, d, 10*time.Second)
			}
			closed("Close")
			if b.Up() {
				t.Fatal("Up() after Close")
			}
		})
	}
}

func TestCloseReportsHowManyWereLeftUnconfirmed(t *testing.T) {
	raw := testAMQPURL(t)
	u, _ := url.Parse(raw)
	p := newProxy(t, u.Host)
	b := connectTest(t, Options{URL: p.urlThrough(t, raw)})
	p.cut(true)
	waitFor(t, func() bool { return !b.Up() })
	for range 5 {
		if err := b.Publish(context.Background(), 0, 0, []byte(randomKey(t)), []byte("abc")); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name string
		f    func(context.Context) error
	}{{"Drain", b.Drain}, {"Close", b.Close}} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := step.f(ctx)
		cancel()
		var uerr *UnconfirmedError
		if !errors.As(err, &uerr) || uerr.Messages != 5 || uerr.Bytes != 15 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s = %v, want 5 dispatches (15 bytes) unconfirmed", step.name, err)
		}
	}
}

func TestChannelLossIsRecoveredLikeConnectionLoss(t *testing.T) {
	raw := testAMQPURL(t)
	b := connectTest(t, Options{URL: raw})
	key := randomKey(t)
	obs := newObserver(t, raw)
	d := obs.bind(t, key)
	ctx := testContext(t, 20*time.Second)

	for _, which := range []string{"publish", "command"} {
		b.mu.Lock()
		s := b.sess
		b.mu.Unlock()
		if which == "command" {
			if err := s.con.Close(); err != nil {
				t.Fatalf("close %s channel: %v", which, err)
			}
		} else {
			s.pub.Cut()
		}
		waitFor(t, func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.sess != nil && b.sess != s
		})
		body := []byte(which + randomKey(t))
		if err := b.Publish(ctx, 1, 0, []byte(key), body); err != nil {
			t.Fatal(err)
		}
		if m := receive(t, d, 10*time.Second); !bytes.Equal(m.Body, body) {
			t.Fatalf("after %s channel loss got %q", which, m.Body)
		}
		cmd := []byte(which + randomKey(t))
		publishCommand(t, obs, cmd, nil)
		waitCommand(t, b, cmd, 10*time.Second)
	}
}

func TestConnectRetriesUntilTheBrokerIsReachable(t *testing.T) {
	raw := testAMQPURL(t)
	u, _ := url.Parse(raw)
	p := newProxy(t, u.Host)
	p.cut(true)
	var logs logtest.Buffer
	type result struct {
		b   *Broker
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := Connect(testContext(t, 30*time.Second), Options{
			URL: p.urlThrough(t, raw), ContentType: ContentTypeJSON,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
			Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		})
		done <- result{b, err}
	}()
	waitFor(t, func() bool { return logs.Count("connection attempt failed") >= 3 })
	p.resume()
	r := <-done
	if r.err != nil {
		t.Fatalf("Connect after the broker came back: %v", r.err)
	}
	defer r.b.Close(context.Background())
	if !r.b.Up() {
		t.Fatal("Up() = false")
	}
}

func TestConnectGivesUpWhenCtxEndsAndNeverLogsThePassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, then hangs up: a broker that is not there
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	const password = "s3cr3t-Pa55"
	baseline := runtime.NumGoroutine()
	var logs logtest.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = Connect(ctx, Options{
		URL: "amqp://cordis:" + password + "@" + ln.Addr().String() + "/", ContentType: ContentTypeJSON,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect = %v, want ctx's error", err)
	}
	out := logs.String() + err.Error()
	if !strings.Contains(logs.String(), "connection attempt failed") {
		t.Fatalf("failures not logged: %s", out)
	}
	if strings.Contains(out, password) {
		t.Fatalf("password leaked: %s", out)
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= baseline+1 }) // +1: our accept loop
}

func TestCloseEndsEveryGoroutine(t *testing.T) {
	raw := testAMQPURL(t)
	u, _ := url.Parse(raw)
	p := newProxy(t, u.Host)
	baseline := runtime.NumGoroutine()
	b, err := Connect(testContext(t, 10*time.Second), Options{URL: p.urlThrough(t, raw), ContentType: ContentTypeJSON,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), 0, 0, []byte(randomKey(t)), []byte("x")); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	first := b.sess
	b.mu.Unlock()
	p.cut(false) // exercise a reconnect too
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.sess != nil && b.sess != first && b.Buffered() == 0
	})
	if err := b.Close(testContext(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	p.close()                                                               // the proxy's own goroutines
	waitFor(t, func() bool { return runtime.NumGoroutine() <= baseline-1 }) // baseline counted the proxy's accept loop
}

func TestOnConfirmReportsEachConfirmedDispatch(t *testing.T) {
	raw := testAMQPURL(t)
	type conf struct {
		shard int
		event string
		ref   int64
	}
	got := make(chan conf, 10)
	b := connectTest(t, Options{URL: raw, OnConfirm: func(shard int, event string, ref int64, latency time.Duration) {
		if latency <= 0 || latency > time.Minute {
			t.Errorf("latency %v", latency)
		}
		got <- conf{shard, event, ref}
	}})
	key := randomKey(t)
	for shard := range 3 {
		if err := b.Publish(testContext(t, 5*time.Second), shard, int64(100+shard), []byte(key), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	for shard := range 3 {
		select {
		case c := <-got:
			if want := (conf{shard, key, int64(100 + shard)}); c != want {
				t.Fatalf("OnConfirm = %+v, want %+v", c, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no confirm reported")
		}
	}
}

func TestManyShardsPublishingThroughRepeatedCutsLoseNothingAndKeepEachShardsOrder(t *testing.T) {
	raw := testAMQPURL(t)
	u, _ := url.Parse(raw)
	p := newProxy(t, u.Host)
	b := connectTest(t, Options{URL: p.urlThrough(t, raw), MaxBufferBytes: 8 << 10})
	key := randomKey(t)
	obs := newObserver(t, raw)
	d := obs.bind(t, key)
	ctx := testContext(t, 60*time.Second)

	const shards, each = 8, 250
	var wg sync.WaitGroup
	for shard := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 64)
			for i := range each {
				buf = fmt.Appendf(buf[:0], "%d:%d:%s", shard, i, bytes.Repeat([]byte{'p'}, 30))
				if err := b.Publish(ctx, shard, 0, []byte(key), buf); err != nil {
					t.Errorf("shard %d publish %d: %v", shard, i, err)
					return
				}
			}
		}()
	}
	cuts := make(chan struct{})
	go func() {
		defer close(cuts)
		for range 3 {
			time.Sleep(50 * time.Millisecond)
			p.cut(false)
		}
	}()

	next := make([]int, shards) // first unseen index per shard
	seen := make([]map[int]bool, shards)
	for i := range seen {
		seen[i] = map[int]bool{}
	}
	for total := 0; total < shards*each; {
		m := receive(t, d, 20*time.Second)
		var shard, i int
		if _, err := fmt.Sscanf(string(m.Body), "%d:%d:", &shard, &i); err != nil {
			t.Fatalf("body %q: %v", m.Body, err)
		}
		if seen[shard][i] {
			continue // a republished duplicate: allowed
		}
		if i != next[shard] {
			t.Fatalf("shard %d: dispatch %d first seen, want %d next", shard, i, next[shard])
		}
		seen[shard][i] = true
		next[shard]++
		total++
	}
	wg.Wait()
	<-cuts
}

func TestClosePolitelyKeepsToItsDeadlineWhenTheBrokerStopsAnswering(t *testing.T) {
	raw := testAMQPURL(t)
	u, _ := url.Parse(raw)
	p := newProxy(t, u.Host)
	b := connectTest(t, Options{URL: p.urlThrough(t, raw)})
	if err := b.Publish(testContext(t, 5*time.Second), 0, 0, []byte(randomKey(t)), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.Drain(testContext(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	p.stalled.Store(true) // everything is confirmed, but connection.close-ok never comes
	defer p.stalled.Store(false)
	const budget = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close = %v, want nil: nothing was left unconfirmed", err)
	}
	// The shutdown budget (DESIGN §7) counts on Close ending near its deadline, not a
	// whole closeTimeout later.
	if took := time.Since(start); took > budget+closeTimeout/2 {
		t.Fatalf("Close took %v with a %v deadline", took, budget)
	}
}

func TestCloseReturnsWhenCtxEndsEvenIfTheBrokerStoppedReading(t *testing.T) {
	raw := testAMQPURL(t)
	u, _ := url.Parse(raw)
	p := newProxy(t, u.Host)
	b := connectTest(t, Options{URL: p.urlThrough(t, raw)})
	key := randomKey(t)
	p.stalled.Store(true) // like a broker under a resource alarm: the publisher's writes block
	body := bytes.Repeat([]byte{'s'}, 256<<10)
	for range 64 { // 16 MiB: far more than the socket buffers hold
		if err := b.Publish(testContext(t, 5*time.Second), 0, 0, []byte(key), body); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.Close(ctx)
	var uerr *UnconfirmedError
	if !errors.As(err, &uerr) || uerr.Messages == 0 {
		t.Fatalf("Close = %v, want dispatches reported unconfirmed", err)
	}
	if took := time.Since(start); took > 300*time.Millisecond+closeTimeout {
		t.Fatalf("Close took %v", took)
	}
	p.stalled.Store(false)
}

func TestConfirmsOutOfOrderPublishNothingTwice(t *testing.T) {
	// RabbitMQ confirms a dispatch no queue takes at once, and one routed to a queue
	// once the queue has it: a mix of both makes single acks overtake each other.
	// Each dispatch must be confirmed once and published once, none republished.
	raw := testAMQPURL(t)
	obs := newObserver(t, raw)
	routed, unroutable := randomKey(t), randomKey(t)
	q, err := obs.ch.QueueDeclare("cordis-test-"+routed, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	if err != nil {
		t.Fatalf("declare a quorum queue (slower confirms than classic): %v", err)
	}
	t.Cleanup(func() { _, _ = obs.ch.QueueDelete(q.Name, false, false, false) })
	if err := obs.ch.QueueBind(q.Name, routed, ExchangeGateway, false, nil); err != nil {
		t.Fatal(err)
	}
	const n = 6000
	var confirmed [n]atomic.Int32
	b := connectTest(t, Options{URL: raw, OnConfirm: func(_ int, _ string, ref int64, _ time.Duration) {
		confirmed[ref].Add(1)
	}})
	ctx := testContext(t, 30*time.Second)
	for i := range n {
		key := unroutable
		if i%3 == 0 {
			key = routed
		}
		if err := b.Publish(ctx, 0, int64(i), []byte(key), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range confirmed {
		if c := confirmed[i].Load(); c != 1 {
			t.Fatalf("dispatch %d confirmed %d times, want once", i, c)
		}
	}
	d, err := obs.ch.Consume(q.Name, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < n/3 {
		m := receive(t, d, 10*time.Second)
		if seen[string(m.Body)] {
			t.Fatalf("dispatch %s published twice", m.Body)
		}
		seen[string(m.Body)] = true
	}
	select {
	case m := <-d:
		t.Fatalf("dispatch %s published twice", m.Body)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestLosingTheCommandConnectionRepublishesNothingThePublishingOneConfirms(t *testing.T) {
	// The session ends when either connection is lost. If the publishing one still
	// works, what it has in flight is confirmed before the session is replaced,
	// instead of the whole window going out a second time.
	raw := testAMQPURL(t)
	b := connectTest(t, Options{URL: raw})
	key := randomKey(t)
	d := newObserver(t, raw).bind(t, key)
	const n = 20000
	ctx := testContext(t, 60*time.Second)
	body := make([]byte, 2000)
	inflight := -1
	for i := range n {
		copy(body, strconv.Itoa(i)+":")
		if err := b.Publish(ctx, 0, int64(i), []byte(key), body); err != nil {
			t.Fatal(err)
		}
		if i == n/2 {
			b.mu.Lock()
			s := b.sess
			b.mu.Unlock()
			if s == nil {
				t.Fatal("no session mid-stream")
			}
			inflight = b.out.inflightLen()
			_ = s.conn.Close()
		}
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool, n)
	for len(seen) < n {
		m := receive(t, d, 10*time.Second)
		id, _, _ := bytes.Cut(m.Body, []byte(":"))
		if seen[string(id)] {
			t.Fatalf("dispatch %s delivered twice (%d in flight when the command connection closed)", id, inflight)
		}
		seen[string(id)] = true
	}
	select {
	case m := <-d:
		id, _, _ := bytes.Cut(m.Body, []byte(":"))
		t.Fatalf("dispatch %s delivered twice (%d in flight when the command connection closed)", id, inflight)
	case <-time.After(300 * time.Millisecond):
	}
	t.Logf("%d in flight when the command connection closed; none delivered twice", inflight)
}
