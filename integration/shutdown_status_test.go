package integration

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Issue 8 point 9: without Redis nothing can replay what RabbitMQ never
// confirmed, so SIGTERM during a broker outage must not exit 0: the exit
// status and the last log line say how many dispatches were lost.
func TestFault_SIGTERMDuringABrokerOutageWithoutRedisExitsNonZero(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{})
	ev := eventName("ISSUE8_LOST_ON_SIGTERM")
	c := s.consumer(ev)
	proxy := newFaultProxy(t, amqpHost(t))
	addr := freeAddr(t)
	g := s.start(map[string]string{"CORDIS_AMQP_HOST": amqpVia(t, proxy.addr()), "CORDIS_METRICS_ADDR": addr})
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

	g.signal(syscall.SIGTERM)
	code, err := g.wait(12 * time.Second)
	require.NoError(t, err, "SIGTERM must end the process within 10 s")
	assert.Equal(t, 3, code, "dispatches were lost: the exit status must say so")
	rec := g.waitLog(time.Second, "why it exited non-zero", msgContains("gateway stopped"))
	assert.Equal(t, "ERROR", rec["level"])
	msg, _ := rec["error"].(string)
	assert.Contains(t, msg, "shutdown lost "+itoa(stuck)+" dispatches")
	assert.Contains(t, msg, "CORDIS_REDIS_URL")
}
