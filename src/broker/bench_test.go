package broker

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// A 1.5 KB body: the size of a typical MESSAGE_CREATE.
var benchBody = bytes.Repeat([]byte{'m'}, 1500)

// BenchmarkPublish measures Publish end to end against the real broker: every dispatch is
// confirmed before the timer stops. allocs/op includes amqp091's own per-publish
// allocations (frames, its deferred-confirmation bookkeeping), which Publish cannot avoid.
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
		o.confirm(tag, true)
	}
}
