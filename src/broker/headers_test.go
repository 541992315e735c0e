package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/cordis-gateway/cordis/src/broker/amqppub"
)

func TestShardIDHeaderAcceptsEveryAMQPIntegerType(t *testing.T) {
	tests := []struct {
		name     string
		headers  amqp.Table
		id       int
		targeted bool
		wantErr  bool
	}{
		{"absent", nil, 0, false, false},
		{"other headers only", amqp.Table{"x": int32(1)}, 0, false, false},
		{"int8", amqp.Table{"shard_id": int8(5)}, 5, true, false},
		{"int16", amqp.Table{"shard_id": int16(300)}, 300, true, false},
		{"int32", amqp.Table{"shard_id": int32(70000)}, 70000, true, false},
		{"int64", amqp.Table{"shard_id": int64(999)}, 999, true, false},
		{"int", amqp.Table{"shard_id": 12}, 12, true, false},
		{"uint8", amqp.Table{"shard_id": uint8(255)}, 255, true, false},
		{"uint16", amqp.Table{"shard_id": uint16(65535)}, 65535, true, false},
		{"uint32", amqp.Table{"shard_id": uint32(4)}, 4, true, false},
		{"uint64", amqp.Table{"shard_id": uint64(8)}, 8, true, false},
		{"zero", amqp.Table{"shard_id": int32(0)}, 0, true, false},
		{"negative targets no shard", amqp.Table{"shard_id": int32(-1)}, -1, true, false},
		{"beyond int32 targets no shard", amqp.Table{"shard_id": int64(math.MaxInt32 + 1)}, -1, true, false},
		{"huge uint64 targets no shard", amqp.Table{"shard_id": uint64(math.MaxUint64)}, -1, true, false},
		{"string is refused", amqp.Table{"shard_id": "3"}, 0, false, true},
		{"float is refused", amqp.Table{"shard_id": float64(3)}, 0, false, true},
		{"bool is refused", amqp.Table{"shard_id": true}, 0, false, true},
		{"byte slice is refused", amqp.Table{"shard_id": []byte{3}}, 0, false, true},
		{"decimal is refused", amqp.Table{"shard_id": amqp.Decimal{Scale: 0, Value: 3}}, 0, false, true},
		{"null is refused", amqp.Table{"shard_id": nil}, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok, err := parseShardID(tt.headers)
			if (err != nil) != tt.wantErr || ok != tt.targeted || (ok && id != tt.id) {
				t.Fatalf("parseShardID = %d, %v, %v; want %d, %v, err %v", id, ok, err, tt.id, tt.targeted, tt.wantErr)
			}
		})
	}
}

func TestACommandWithANonIntegerShardIDIsMarkedForRefusal(t *testing.T) {
	b := &Broker{log: slog.New(slog.DiscardHandler)}
	tests := []struct {
		name     string
		headers  amqp.Table
		targeted bool
		bad      bool
	}{
		{"no header: every shard", nil, false, false},
		{"integer: one shard", amqp.Table{"shard_id": int32(2)}, true, false},
		{"string", amqp.Table{"shard_id": "2"}, false, true},
		{"float", amqp.Table{"shard_id": float64(2)}, false, true},
		{"bool", amqp.Table{"shard_id": true}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := b.command(amqp.Delivery{Headers: tt.headers, Body: []byte("{}")})
			if cmd.Targeted != tt.targeted || (cmd.BadShardID != nil) != tt.bad || string(cmd.Body) != "{}" {
				t.Fatalf("command = %+v", cmd)
			}
		})
	}
}

func TestPublishHeadersAreOnePrebuiltInt32TablePerShard(t *testing.T) {
	h := make(shardHeaders)
	a := h.get(42)
	// shortstr "shard_id", 'I', int32 42 big-endian.
	want := append(append([]byte{8}, HeaderShardID...), 'I', 0, 0, 0, 42)
	if !bytes.Equal(a, want) {
		t.Fatalf("table = %x, want %x", a, want)
	}
	if n := testing.AllocsPerRun(100, func() { _ = h.get(42) }); n != 0 {
		t.Fatalf("get allocates %v per call", n)
	}
}

func TestRoutingKeysAreInternedWithoutAllocating(t *testing.T) {
	var in interner
	key := []byte("MESSAGE_CREATE")
	first := in.intern(key)
	if first != "MESSAGE_CREATE" {
		t.Fatalf("intern = %q", first)
	}
	if n := testing.AllocsPerRun(100, func() { _ = in.intern(key) }); n != 0 {
		t.Fatalf("intern of a known key allocates %v", n)
	}
	for i := range maxInterned + 10 { // a flood of names must not grow the table forever
		in.intern([]byte(strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String()))
	}
	if len(in.keys) > maxInterned {
		t.Fatalf("table grew to %d", len(in.keys))
	}
}

func TestOptionsDefaultsAndValidation(t *testing.T) {
	o, err := Options{URL: "amqp://guest:guest@localhost:5672/", ContentType: ContentTypeETF}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.MaxBufferBytes != 64<<20 || o.MinBackoff != time.Second || o.MaxBackoff != 30*time.Second || o.Logger == nil {
		t.Fatalf("defaults = %+v", o)
	}
	for _, bad := range []Options{
		{URL: "amqp://localhost/", ContentType: "text/plain"},
		{URL: "http://user:hunter2@localhost/", ContentType: ContentTypeJSON},
		{URL: "", ContentType: ContentTypeJSON},
	} {
		_, err := bad.withDefaults()
		if err == nil {
			t.Fatalf("%+v accepted", bad)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("password in error: %v", err)
		}
	}
}

func TestURLAndErrorsNeverShowThePassword(t *testing.T) {
	const raw = "amqps://cordis:p%40ss-w0rd@rabbit.example:5671/vhost"
	if got := redactURL(raw); strings.Contains(got, "w0rd") || !strings.Contains(got, "rabbit.example") {
		t.Fatalf("redactURL = %q", got)
	}
	err := redactErr(raw, errors.New("auth failed for p@ss-w0rd"))
	if strings.Contains(err.Error(), "w0rd") {
		t.Fatalf("redactErr = %v", err)
	}
}

func TestBackoffIsCappedExponentialWithJitter(t *testing.T) {
	b := reconnectBackoff{min: time.Second, max: 30 * time.Second}
	for attempt := range 40 {
		hi := min(time.Second<<min(attempt+1, 31), 30*time.Second)
		lo := max(hi/2, time.Second)
		d := b.next()
		if d < lo || d > hi {
			t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, lo, hi)
		}
	}
}

func TestOnlyAMaxMessageSizeRefusalDropsADispatch(t *testing.T) {
	tests := []struct {
		name string
		loss error
		drop bool
	}{
		{"configured max", fmt.Errorf("publishing connection: %w", &amqppub.Error{Code: amqp.PreconditionFailed, Channel: true,
			Reason: "PRECONDITION_FAILED - message size 5 is larger than configured max size 4"}), true},
		{"default max", &amqppub.Error{Code: amqp.PreconditionFailed, Channel: true,
			Reason: "PRECONDITION_FAILED - message size 5 is larger than max size 4"}, true},
		{"other precondition", &amqppub.Error{Code: amqp.PreconditionFailed, Channel: true,
			Reason: "PRECONDITION_FAILED - inequivalent arg 'durable'"}, false},
		{"access refused", &amqppub.Error{Code: amqp.AccessRefused,
			Reason: "ACCESS_REFUSED - message size 5 is larger than max size 4"}, false},
		{"amqp091 error, not from publishing", &amqp.Error{Code: amqp.PreconditionFailed, Server: true,
			Reason: "PRECONDITION_FAILED - message size 5 is larger than max size 4"}, false},
		{"network", errors.New("connection reset"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type drop struct {
				shard int
				key   string
				ref   int64
			}
			var drops []drop
			b := &Broker{out: newOutbox(1 << 20), log: slog.New(slog.DiscardHandler), opts: Options{
				OnDrop: func(shardID int, event string, ref int64) { drops = append(drops, drop{shardID, event, ref}) },
			}}
			for i, body := range []string{"1234", "12345"} {
				if err := b.out.add(context.Background(), 3, int64(10+i), []byte("K"), []byte(body)); err != nil {
					t.Fatal(err)
				}
			}
			b.dropRefused(tt.loss)
			if msgs, _ := b.out.stats(); (msgs == 1) != tt.drop {
				t.Fatalf("%d dispatches left, drop = %v", msgs, tt.drop)
			}
			// The shard must learn of the drop, or its confirmed seq would wait for it forever.
			if tt.drop && (len(drops) != 1 || drops[0] != drop{3, "K", 11}) {
				t.Fatalf("OnDrop calls = %+v, want one for shard 3, ref 11", drops)
			}
			if !tt.drop && len(drops) != 0 {
				t.Fatalf("OnDrop called without a drop: %+v", drops)
			}
		})
	}
}
