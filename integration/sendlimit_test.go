package integration

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Issue 8, point 8: with a 4 s heartbeat interval, 300 op 1 requests and
// 300 commands at once do not make the gateway send more than Discord's 120
// per 60 s (fakediscord closes with 4008 when it does): op 1 requests are
// coalesced, the heartbeat reserve follows the interval, and the commands
// wait for the window. The old code answered every op 1 and kept a fixed
// reserve of 10, so it was closed with 4008.
func TestFault_FloodOfOp1AndCommandsStaysWithinTheSendLimit(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{HeartbeatInterval: 4 * time.Second})
	g := s.start(nil)
	s.waitSessions(0)
	conn := s.currentConn(0)

	ch := dialAMQP(t, env.amqpURL)
	for range 300 {
		require.NoError(t, s.discord.RequestHeartbeat(0))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := presence("online")
	for range 300 {
		require.NoError(t, ch.PublishWithContext(ctx, "gateway_commands", "", false, false, amqp.Publishing{Body: cmd}))
	}
	flood := time.Now()

	// Past one whole window: the regular heartbeats add up over it.
	for time.Since(flood) < 65*time.Second {
		if v := s.discord.Snapshot().ViolationsOf(fakediscord.ViolationSendLimit); len(v) > 0 {
			t.Fatalf("closed for the send limit after %v: %s", time.Since(flood).Round(time.Second), v[0].Detail)
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.noViolations(fakediscord.ViolationSendLimit)
	assert.Equal(t, conn.ID, s.currentConn(0).ID, "the connection must survive the flood")
	g.requireRunning()

	snap := s.discord.Snapshot()
	beats, cmds := 0, 0
	for _, m := range snap.ReceivedBy(0) {
		if m.Time.Before(flood.Add(2 * time.Second)) {
			if m.Op == 1 {
				beats++
			}
		}
		if m.Op == 3 {
			cmds++
		}
	}
	t.Logf("heartbeats within 2 s of 300 op 1: %d; commands delivered in 65 s: %d of 300", beats, cmds)
	assert.LessOrEqual(t, beats, 5, "op 1 requests are coalesced, not answered one by one")
	assert.Greater(t, cmds, 100, "commands keep flowing, window after window")
}
