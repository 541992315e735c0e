package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Items 3 and 4: a dispatch travels from Discord to a queue bound on its t,
// byte for byte, with the documented properties; READY is published too.
func TestItem4_DispatchArrivesByteForByteOnItsRoutingKey(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{})
	c := newConsumer(t, "READY", "MESSAGE_CREATE")
	s.start(nil)
	s.waitSessions(0)

	ready := c.next(20 * time.Second)
	assert.Equal(t, "READY", ready.RoutingKey)
	assert.Equal(t, s.discord.Snapshot().DispatchesTo(0)[0].Raw, ready.Body)

	raw := s.dispatch(0, "MESSAGE_CREATE", fakediscord.SampleMessageCreate())
	got := c.next(10 * time.Second)
	assert.Equal(t, "MESSAGE_CREATE", got.RoutingKey)
	require.Equal(t, string(raw), string(got.Body), "published body must be the exact bytes Discord sent")
	assert.Equal(t, "application/json", got.ContentType)
	assert.WithinDuration(t, time.Now(), got.Timestamp, time.Minute)
	assert.EqualValues(t, 0, got.Headers["shard_id"])
}
