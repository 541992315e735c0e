package broker

import (
	"bytes"
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/cordis-gateway/cordis/src/broker/amqppub"
)

// A 1.5 KB body: the size of a typical MESSAGE_CREATE.
var benchBody = bytes.Repeat([]byte{'m'}, 1500)

// BenchmarkPublish measures Publish end to end against the real broker: every dispatch is
// confirmed before the timer stops.
func BenchmarkPublish(b *testing.B) {
	raw := testAMQPURL(b)
	br, err := Connect(context.Background(), Options{URL: raw, ContentType: ContentTypeJSON})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close(context.Background())
	key := []byte(randomKey(b)) // no queue bound: RabbitMQ confirms and drops
	ctx := context.Background()
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := br.Publish(ctx, i&1023, 0, key, benchBody); err != nil {
			b.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := br.out.waitEmpty(wctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPublishCall measures what a shard pays per dispatch, without a broker: the
// copy into a pooled buffer, interning and queueing (a stand-in publisher confirms).
func BenchmarkPublishCall(b *testing.B) {
	o := newOutbox(64 << 20)
	key := []byte("MESSAGE_CREATE")
	ctx := context.Background()
	var tag uint64
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := o.add(ctx, i&1023, 0, key, benchBody); err != nil {
			b.Fatal(err)
		}
		tag = sendAll(o, tag)
		o.confirm(tag, true, true, nil)
	}
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPublishAgainstTheFloor compares, in CPU time per dispatch, Publish (with the
// publisher goroutine, confirms and OnConfirm) with the floor: a bare, pipelined amqp091
// publish-with-confirms loop, the least any Go program pays for one confirmed publish.
// Run the two interleaved (-count) on a quiet machine; cpu-us/op is what to compare.
func BenchmarkPublishAgainstTheFloor(b *testing.B) {
	raw := testAMQPURL(b)
	key := randomKey(b) // no queue bound: RabbitMQ confirms and drops
	b.Run("broker", func(b *testing.B) {
		confirmed := make(chan struct{}, 1)
		var n atomic.Int64
		var want atomic.Int64
		want.Store(-1)
		br, err := Connect(context.Background(), Options{URL: raw, ContentType: ContentTypeJSON,
			OnConfirm: func(int, string, int64, time.Duration) {
				if n.Add(1) == want.Load() {
					confirmed <- struct{}{}
				}
			}})
		if err != nil {
			b.Fatal(err)
		}
		defer br.Close(context.Background())
		ctx := context.Background()
		n.Store(0)
		want.Store(int64(b.N))
		cpu0 := cpuTime(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := br.Publish(ctx, i&3, int64(i), []byte(key), benchBody); err != nil {
				b.Fatal(err)
			}
		}
		<-confirmed
		b.StopTimer()
		b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-us/op")
	})
	b.Run("floor", func(b *testing.B) { amqp091PublishLoop(b, raw, key, time.Now()) })
}

// BenchmarkPublishWire compares the two AMQP clients alone on the gateway's publish path:
// a pipelined publish-with-confirms loop (window maxInflight, a 1.5 KB body, the
// gateway's properties) through amqp091-go and through amqppub, our own publishing
// connection. ns/op, allocs/op and cpu-us/op are per confirmed publish.
func BenchmarkPublishWire(b *testing.B) {
	raw := testAMQPURL(b)
	key := randomKey(b) // no queue bound: RabbitMQ confirms and drops
	ts := time.Now()
	b.Run("amqp091", func(b *testing.B) { amqp091PublishLoop(b, raw, key, ts) })
	b.Run("amqppub", func(b *testing.B) {
		c, err := amqppub.Dial(context.Background(), amqppub.Config{URL: raw})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(time.Now().Add(time.Second))
		headers := amqppub.AppendTableInt32(nil, HeaderShardID, 1)
		var confirms []amqppub.Confirm
		var acked, tag uint64
		take := func() {
			select {
			case <-c.Confirmed():
			case <-c.Done():
				b.Fatal(c.Err())
			}
			confirms = c.TakeConfirms(confirms[:0])
			for _, r := range confirms {
				acked = max(acked, r.Tag) // every frame here is a multiple ack or in order
			}
		}
		b.ReportAllocs()
		cpu0 := cpuTime(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for tag-acked >= maxInflight {
				if err := c.Flush(); err != nil {
					b.Fatal(err)
				}
				take()
			}
			p := amqppub.Properties{ContentType: ContentTypeJSON, Headers: headers, DeliveryMode: deliveryTransient, Timestamp: ts.Unix()}
			if tag, err = c.Publish(ExchangeGateway, key, &p, benchBody); err != nil {
				b.Fatal(err)
			}
			if i%32 == 31 { // the broker's batches are as large as what is pending
				if err := c.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := c.Flush(); err != nil {
			b.Fatal(err)
		}
		for acked < tag {
			take()
		}
		b.StopTimer()
		b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-us/op")
	})
}

// amqp091PublishLoop is the floor: a pipelined amqp091-go publish-with-confirms loop
// (window maxInflight, benchBody, the gateway's properties), per confirmed publish.
func amqp091PublishLoop(b *testing.B, raw, key string, ts time.Time) {
	conn, err := amqp.Dial(raw)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, maxInflight))
	headers := amqp.Table{HeaderShardID: int32(1)}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	inflight := 0
	for i := 0; i < b.N; i++ {
		for inflight >= maxInflight {
			<-confirms
			inflight--
		}
		if err := ch.Publish(ExchangeGateway, key, false, false, amqp.Publishing{
			Headers: headers, ContentType: ContentTypeJSON, DeliveryMode: amqp.Transient, Timestamp: ts, Body: benchBody,
		}); err != nil {
			b.Fatal(err)
		}
		inflight++
	}
	for ; inflight > 0; inflight-- {
		<-confirms
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-us/op")
}
