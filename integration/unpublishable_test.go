package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Issue 8 point 6: a dispatch RabbitMQ could never take (an event name of
// 300 bytes, longer than any routing key) and one without t, between
// normal events: each is refused once and counted, the shard keeps its
// connection, and not one normal event is lost.
func TestFault_UnpublishableDispatchesAreRefusedAndNothingElseIsLost(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{})
	ev := eventName("ISSUE8_AROUND_REFUSED")
	c := s.consumer(ev)
	addr := freeAddr(t)
	g := s.start(map[string]string{"CORDIS_METRICS_ADDR": addr})
	s.waitSessions(0)
	conns := len(s.discord.Snapshot().Connections)

	long := "LONG_" + strings.Repeat("X", 295)
	normal := func(n int) {
		for range n {
			s.dispatchNow(0, ev, fakediscord.SampleMessageCreate())
		}
	}
	normal(20)
	s.dispatchNow(0, long, map[string]any{"n": 1})
	normal(20)
	s.dispatchNow(0, "", map[string]any{"n": 2}) // t: null
	normal(20)

	s.waitSent(ev, 60, 20*time.Second)
	r := requireNoLoss(s, c, ev, 60*time.Second)
	require.Equal(t, 60, r.sent)

	metrics := "http://" + addr + "/metrics"
	for _, series := range []string{
		`cordis_gateway_dispatches_refused_total{reason="event_name_too_long",shard_id="0"}`,
		`cordis_gateway_dispatches_refused_total{reason="no_event_name",shard_id="0"}`,
	} {
		_, body := httpGet(t, metrics)
		v, ok := metricValue(body, series)
		assert.True(t, ok && v == 1, "%s = %v, want 1: each is refused exactly once", series, v)
	}
	rec := g.waitLog(10*time.Second, "the refusal warning", msgContains("refused a dispatch"))
	assert.Equal(t, "WARN", rec["level"])
	assert.Less(t, len(rec["event"].(string)), 64, "the warning shortens t")
	assert.NotNil(t, rec["seq"], "the warning names the seq")
	assert.Equal(t, conns, len(s.discord.Snapshot().Connections),
		"a dispatch no retry can publish must not cost the shard its connection")
	g.requireRunning()
}

// waitSent waits until fakediscord has written n first copies of event t.
func (s *stack) waitSent(t string, n int, timeout time.Duration) {
	s.t.Helper()
	s.waitFor(itoa(n)+" "+t+" written", timeout, func(sn *fakediscord.Snapshot) bool {
		got := 0
		for _, d := range sn.Dispatches {
			if d.T == t && !d.Replay {
				got++
			}
		}
		return got >= n
	})
}
