package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Item 2: only op 0 leaves the gateway. HELLO, heartbeat ACKs, op 1, op 7
// and op 9 happen on the connection, but nothing but the dispatches
// fakediscord sent ever appears in RabbitMQ.
func TestItem2_OnlyDispatchesArePublished(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{HeartbeatInterval: 500 * time.Millisecond})
	// Keys a leaked non-dispatch could carry: null t, or stringified ops.
	leaks := newConsumer(t, "", "null", "nil", "undefined", "HELLO", "HEARTBEAT", "HEARTBEAT_ACK",
		"RECONNECT", "INVALID_SESSION", "0", "1", "7", "9", "10", "11")
	events := s.consumer("READY", "RESUMED", "MESSAGE_CREATE")
	s.start(nil)
	s.waitSessions(0)

	// Heartbeats and their ACKs for a few intervals, then op 1, op 7, op 9.
	s.waitFor("three heartbeats", 10*time.Second, func(sn *fakediscord.Snapshot) bool {
		return len(sn.ReceivedOp(0, 1)) >= 3
	})
	require.NoError(t, s.discord.RequestHeartbeat(0))
	require.NoError(t, s.discord.Reconnect(0))
	s.waitFor("resume after op 7", 20*time.Second, func(sn *fakediscord.Snapshot) bool { return countAccepted(sn.Resumes) >= 1 })
	require.NoError(t, s.discord.InvalidSession(0, true))
	s.waitFor("resume after op 9", 20*time.Second, func(sn *fakediscord.Snapshot) bool { return countAccepted(sn.Resumes) >= 2 })
	s.dispatch(0, "MESSAGE_CREATE", map[string]any{"content": "last"})

	got := events.drain(2 * time.Second)
	leaks.none(500 * time.Millisecond)

	var sent [][]byte
	for _, d := range s.discord.Snapshot().DispatchesTo(0) {
		if !d.Replay {
			sent = append(sent, d.Raw)
		}
	}
	require.Len(t, got, len(sent), "exactly the dispatches fakediscord sent were published")
	for i := range got {
		assert.Equal(t, string(sent[i]), string(got[i].Body))
	}
}

func countAccepted(rs []fakediscord.Resume) int {
	n := 0
	for _, r := range rs {
		if r.Accepted {
			n++
		}
	}
	return n
}

// Item 3: the routing key is the packet's t, for known and unknown event
// names, READY and RESUMED included.
func TestItem3_RoutingKeyIsTheEventName(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{})
	names := []string{"READY", "RESUMED", "MESSAGE_CREATE", "GUILD_ROLE_UPDATE", "SOME_FUTURE_EVENT_2031"}
	c := s.consumer(names...)
	s.start(nil)
	s.waitSessions(0)
	assert.Equal(t, "READY", c.next(10*time.Second).RoutingKey)
	for _, name := range names[2:] {
		s.dispatch(0, name, map[string]any{"x": name})
		m := c.next(10 * time.Second)
		assert.Equal(t, name, m.RoutingKey)
		assert.Contains(t, string(m.Body), name)
	}
	require.NoError(t, s.discord.Reconnect(0))
	assert.Equal(t, "RESUMED", c.next(20*time.Second).RoutingKey)
}
