package integration

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Issue 8 point 9: what RabbitMQ never confirmed is lost unless a restart can
// get Discord to replay it, so SIGTERM during a broker outage must not exit 0
// when nothing can: without Redis no session survives, and with Redis a
// session the shard gave up before (op 9 not resumable) is resumed by no
// restart. The exit status and the last log line say how many were lost.
func TestFault_SIGTERMDuringABrokerOutageExitsNonZeroWhenNothingCanReplay(t *testing.T) {
	tests := []struct {
		name   string
		redis  bool
		giveUp bool     // op 9 (not resumable) after the outage began
		says   []string // in the error of the last log line
	}{
		{"without Redis", false, false, []string{"CORDIS_REDIS_URL"}},
		{"with Redis, session given up", true, true, []string{"given up", "no restart resumes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigtermDuringOutage(t, tt.redis, tt.giveUp, tt.says)
		})
	}
}

func sigtermDuringOutage(t *testing.T, withRedis, giveUp bool, says []string) {
	bot := newTestBot()
	rURL := ""
	if withRedis {
		redisClient(t, bot) // deletes the bot's keys afterwards
		rURL = redisURL(t, "")
	}
	env := botEnv(bot, rURL, nil)
	s := newBotDiscord(t, bot, fakediscord.Options{})
	ev := eventName("ISSUE8_LOST_ON_SIGTERM")
	c := s.consumer(ev)
	proxy := newFaultProxy(t, amqpHost(t))
	addr := freeAddr(t)
	env["CORDIS_AMQP_HOST"] = amqpVia(t, proxy.addr())
	env["CORDIS_METRICS_ADDR"] = addr
	g := s.start(env)
	s.waitSessions(0)
	c.expectBodies(20*time.Second, [][]byte{s.dispatch(0, ev, fakediscord.SampleMessageCreate())})
	// A consumer can see a dispatch before its confirm reaches the gateway:
	// block only once the gateway has every confirm, so that exactly the
	// dispatches sent during the outage are unconfirmed.
	published := `cordis_gateway_dispatches_published_total{event="` + ev + `",shard_id="0"}`
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := httpGet(t, "http://"+addr+"/metrics")
		if v, ok := metricValue(body, published); ok && v == 1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "RabbitMQ never confirmed the first dispatch to the gateway")
		time.Sleep(50 * time.Millisecond)
	}

	proxy.block()
	g.waitLog(15*time.Second, "that the RabbitMQ connection was lost", msgContains("rabbitmq connection lost"))
	const stuck = 200
	for range stuck {
		s.dispatchNow(0, ev, fakediscord.SampleMessageCreate())
	}
	// Every one of them is in the gateway's buffer before the signal.
	received := `cordis_gateway_dispatches_received_total{event="` + ev + `",shard_id="0"}`
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, body := httpGet(t, "http://"+addr+"/metrics")
		if v, ok := metricValue(body, received); ok && v == stuck+1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the gateway never received the %d dispatches", stuck)
		time.Sleep(50 * time.Millisecond)
	}
	if giveUp {
		old := s.currentConn(0)
		require.NoError(t, s.discord.InvalidSession(0, false))
		s.waitIdentify(0, old.ID, 20*time.Second) // the unconfirmed ones are of the old session
	}

	g.signal(syscall.SIGTERM)
	code, err := g.wait(12 * time.Second)
	require.NoError(t, err, "SIGTERM must end the process within 10 s")
	assert.Equal(t, 3, code, "dispatches were lost: the exit status must say so")
	rec := g.waitLog(time.Second, "why it exited non-zero", msgContains("gateway stopped"))
	assert.Equal(t, "ERROR", rec["level"])
	msg, _ := rec["error"].(string)
	assert.Contains(t, msg, "shutdown lost "+itoa(stuck)+" dispatches")
	for _, want := range says {
		assert.Contains(t, msg, want)
	}
}
