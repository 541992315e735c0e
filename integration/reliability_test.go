package integration

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Item 10: reliability. A broker outage loses no dispatch, a Redis outage
// does not stop dispatching, SIGTERM shuts down cleanly and in time.

func msgContains(s string) func(map[string]any) bool {
	return func(rec map[string]any) bool {
		msg, _ := rec["msg"].(string)
		return strings.Contains(strings.ToLower(msg), s)
	}
}

// Item 10: the gateway reaches RabbitMQ through a proxy that is cut and
// held down for 3 s in the middle of a stream of dispatches; every dispatch
// still reaches a consumer connected directly to the broker, and the shard
// never leaves Discord.
func TestItem10_BrokerOutageLosesNoDispatch(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{})
	ev := eventName("ITEM10_OUTAGE")
	c := newConsumer(t, ev)
	proxy := newFaultProxy(t, amqpHost(t))
	g := s.start(map[string]string{"CORDIS_AMQP_HOST": amqpVia(t, proxy.addr())})
	s.waitSessions(0)

	var sent [][]byte
	send := func(n int, every time.Duration) {
		for range n {
			sent = append(sent, s.dispatch(0, ev, fakediscord.SampleMessageCreate()))
			time.Sleep(every)
		}
	}
	send(20, 10*time.Millisecond)
	proxy.block()
	outage := time.Now()
	send(30, 100*time.Millisecond) // the outage: about 3 s
	if left := 3*time.Second - time.Since(outage); left > 0 {
		time.Sleep(left) // hold the outage open
	}
	proxy.unblock()
	send(10, 10*time.Millisecond)

	if r := requireNoLoss(s, c, ev, 60*time.Second); r.sent != len(sent) {
		t.Fatalf("fakediscord recorded %d dispatches, the test sent %d", r.sent, len(sent))
	}
	// The outage was real: the gateway lost RabbitMQ and got it back.
	g.waitLog(10*time.Second, "that the RabbitMQ connection was lost", msgContains("rabbitmq connection lost"))
	g.waitLog(10*time.Second, "that the RabbitMQ connection recovered", msgContains("rabbitmq connection recovered"))
	g.requireRunning()
	assert.Len(t, s.discord.Snapshot().Connections, 1, "a broker outage must not disturb the shard's Discord connection")
}

// Item 10 and issue 5: Redis going away (its proxy cut and held down) does
// not stop dispatching, nor a shard's new IDENTIFY (the limits fall back to
// the process); when Redis is back the session is written again.
func TestItem10_RedisOutageDoesNotStopDispatching(t *testing.T) {
	bot := newTestBot()
	rdb := redisClient(t, bot)
	proxy := newFaultProxy(t, redisHost(t))
	s := newBotDiscord(t, bot, fakediscord.Options{})
	ev := eventName("ITEM10_REDIS")
	c := newConsumer(t, ev)
	g := s.start(botEnv(bot, redisURL(t, proxy.addr()), nil))
	s.waitSessions(0)
	c.expectBodies(20*time.Second, [][]byte{s.dispatch(0, ev, fakediscord.SampleMessageCreate())})

	proxy.block()
	var sent [][]byte
	for range 20 {
		sent = append(sent, s.dispatch(0, ev, fakediscord.SampleMessageCreate()))
		time.Sleep(100 * time.Millisecond) // spans two seq flushes
	}
	c.expectBodies(20*time.Second, sent)
	g.waitLog(10*time.Second, "a warning about Redis", func(rec map[string]any) bool {
		return rec["level"] == "WARN" && msgContains("redis")(rec)
	})

	// A new session while Redis is down: the identify is not blocked.
	old := s.currentConn(0)
	require.NoError(t, s.discord.CloseShard(0, 4007, "Invalid seq."))
	_, conn := s.waitIdentify(0, old.ID, 20*time.Second)
	c.expectBodies(20*time.Second, [][]byte{s.dispatch(0, ev, fakediscord.SampleMessageCreate())})
	// The new session stays on its connection while Redis is still down:
	// storing it must not stall the shard into missing heartbeat ACKs.
	time.Sleep(3 * time.Second) // hold the outage open for a few heartbeats
	c.expectBodies(20*time.Second, [][]byte{s.dispatch(0, ev, fakediscord.SampleMessageCreate())})
	assert.Equal(t, conn.ID, s.currentConn(0).ID,
		"the shard left its connection while Redis was down (reconnects: %d)", len(s.discord.Snapshot().Connections)-2)
	g.requireRunning()

	proxy.unblock()
	c.expectBodies(20*time.Second, [][]byte{s.dispatch(0, ev, fakediscord.SampleMessageCreate())})
	want := s.discord.Snapshot().Shards[0]
	key := "cordis:" + bot.id + ":session:0"
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := rdb.HGetAll(context.Background(), key).Result()
		if err == nil && got["session_id"] == want.SessionID && got["seq"] == itoa(int(want.Seq)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Redis came back, %s is %v (err %v); want session %s seq %d", key, got, err, want.SessionID, want.Seq)
		}
		time.Sleep(200 * time.Millisecond)
	}
	g.checkNoCrash()
}

// Item 10: SIGTERM closes every shard with a code that keeps its session
// (not 1000/1001), exits 0 within 10 s and logs no error.
func TestItem10_SIGTERMShutsDownCleanlyWithin10s(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{Shards: 2, MaxConcurrency: 16})
	ev := eventName("ITEM10_SIGTERM")
	c := newConsumer(t, ev)
	g := s.start(nil)
	s.waitSessions(0, 1)
	c.expectBodies(20*time.Second, [][]byte{
		s.dispatch(0, ev, fakediscord.SampleMessageCreate()),
		s.dispatch(1, ev, fakediscord.SampleMessageCreate()),
	})
	conns := []fakediscord.ConnInfo{s.currentConn(0), s.currentConn(1)}

	g.signal(syscall.SIGTERM)
	start := time.Now()
	code, err := g.wait(10 * time.Second)
	require.NoError(t, err, "SIGTERM must end the process within 10 s")
	t.Logf("shutdown took %v", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, 0, code)

	for _, conn := range conns {
		closed := s.waitClosed(conn.ID, 5*time.Second)
		assert.Equal(t, "client", closed.ClosedBy, "shard %d: the gateway closes the connection itself", conn.Shard)
		assert.NotContains(t, []int{0, 1000, 1001}, closed.CloseCode,
			"shard %d: close with a code that keeps the session resumable", conn.Shard)
	}
	assert.Empty(t, g.logsAt("ERROR"), "a clean shutdown logs no error")
	g.checkNoCrash()
}
