package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Item 1: nothing reaches Discord (not even GET /gateway/bot) before
// RabbitMQ is up; the gateway keeps retrying and then starts.
func TestItem1_NothingReachesDiscordBeforeRabbitMQIsUp(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{})
	proxy := newFaultProxy(t, amqpHost(t))
	proxy.block()
	g := s.start(map[string]string{"CORDIS_AMQP_HOST": amqpVia(t, proxy.addr())})

	// Two refused attempts prove it is waiting, not crashed.
	failures := 0
	g.waitLog(15*time.Second, "two failed RabbitMQ attempts", func(rec map[string]any) bool {
		if rec["level"] == "WARN" || rec["level"] == "ERROR" {
			failures++
		}
		return failures == 2
	})
	snap := s.discord.Snapshot()
	assert.Empty(t, snap.Requests, "no HTTP request before RabbitMQ is up")
	assert.Empty(t, snap.Connections, "no gateway connection before RabbitMQ is up")
	assert.False(t, g.exited(), "the gateway keeps retrying")

	released := time.Now()
	proxy.unblock()
	snap = s.waitSessions(0)
	require.NotEmpty(t, snap.Requests)
	assert.True(t, snap.Requests[0].Time.After(released), "the first request came after RabbitMQ was reachable")
}
