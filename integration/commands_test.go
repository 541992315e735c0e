package integration

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// received reports whether shard sent exactly body to fakediscord.
func received(sn *fakediscord.Snapshot, shard int, body []byte) bool {
	for _, m := range sn.ReceivedBy(shard) {
		if bytes.Equal(m.Raw, body) {
			return true
		}
	}
	return false
}

func presence(status string) []byte {
	return []byte(`{"op":3,"d":{"since":null,"activities":[],"status":"` + status + `","afk":false}}`)
}

// Item 5: a command published to gateway_commands reaches every shard of
// the process byte for byte.
func TestItem5_CommandReachesEveryShardByteForByte(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{Shards: 3, MaxConcurrency: 16})
	s.start(nil)
	s.waitSessions(0, 1, 2)
	cmd := presence("idle")
	publishCommand(t, cmd, nil)
	s.waitFor("the command on all three shards", 10*time.Second, func(sn *fakediscord.Snapshot) bool {
		return received(sn, 0, cmd) && received(sn, 1, cmd) && received(sn, 2, cmd)
	})
}

// Item 5: in ETF too, the command goes out as the worker wrote it.
func TestItem5_ETFCommandIsForwardedUnchanged(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{})
	s.start(map[string]string{"CORDIS_WS_ENCODING": "etf"})
	s.waitSessions(0)
	cmd, err := fakediscord.MarshalETFClient(map[string]any{
		"op": 3, "d": map[string]any{"since": nil, "activities": []any{}, "status": "dnd", "afk": false},
	})
	require.NoError(t, err)
	publishCommand(t, cmd, nil)
	s.waitFor("the ETF command", 10*time.Second, func(sn *fakediscord.Snapshot) bool { return received(sn, 0, cmd) })
}

// Item 5: two gateway processes (clusters) both receive a command.
func TestItem5_EveryClusterReceivesCommands(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{Shards: 2, MaxConcurrency: 16})
	s.start(map[string]string{"CORDIS_STARTING_SHARD": "0", "CORDIS_SHARD_COUNT": "1", "CORDIS_TOTAL_SHARD_COUNT": "2"})
	s.start(map[string]string{"CORDIS_STARTING_SHARD": "1", "CORDIS_SHARD_COUNT": "1", "CORDIS_TOTAL_SHARD_COUNT": "2"})
	s.waitSessions(0, 1)
	cmd := presence("online")
	publishCommand(t, cmd, nil)
	s.waitFor("the command on both clusters' shards", 10*time.Second, func(sn *fakediscord.Snapshot) bool {
		return received(sn, 0, cmd) && received(sn, 1, cmd)
	})
}

// Item 5: refused and garbage commands reach no shard and do not stop the
// ones after them. Issue 8: neither does a command with op twice, nor one
// whose shard_id header is not an integer (it meant one shard: it must not
// reach all of them); each refusal is counted by reason.
func TestItem5_RefusedCommandsReachNoShard(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{Shards: 2, MaxConcurrency: 16})
	addr := freeAddr(t)
	s.start(map[string]string{"CORDIS_METRICS_ADDR": addr})
	s.waitSessions(0, 1)
	badHeaders := []struct {
		body   []byte
		header any
	}{
		{presenceSince(1), "1"},
		{presenceSince(2), float64(1)},
		{presenceSince(3), true},
	}
	for _, h := range badHeaders {
		publishCommand(t, h.body, amqp.Table{"shard_id": h.header})
	}
	duplicateOp := []byte(`{"op":3,"d":{"since":null,"activities":[],"status":"idle","afk":false},"op":2}`)
	publishCommand(t, duplicateOp, nil)
	refused := [][]byte{
		[]byte(`{"op":1,"d":null}`),
		[]byte(`{"op":2,"d":{"token":"x"}}`),
		[]byte(`{"op":6,"d":{"token":"x","session_id":"y","seq":1}}`),
		[]byte(`not json at all`),
		[]byte(`{"op":"3","d":{}}`),
		[]byte(`{"d":{}}`),
		[]byte(`[3]`),
		[]byte(`{"op":3,"d":{"status":"` + strings.Repeat("a", 4100) + `"}}`),
		{131, 116, 0, 0, 0, 1, 100, 0, 2, 'o', 'p', 97, 3}, // ETF on a JSON gateway
	}
	for _, cmd := range refused {
		publishCommand(t, cmd, nil)
	}
	after := presence("invisible")
	publishCommand(t, after, nil)
	snap := s.waitFor("the valid command after the refused ones", 10*time.Second, func(sn *fakediscord.Snapshot) bool {
		return received(sn, 0, after) && received(sn, 1, after)
	})
	for _, cmd := range refused {
		assert.False(t, received(snap, 0, cmd) || received(snap, 1, cmd), "refused command reached Discord: %.40q", cmd)
	}
	for _, h := range badHeaders {
		assert.False(t, received(snap, 0, h.body) || received(snap, 1, h.body),
			"a command with shard_id %#v (not an integer) reached Discord", h.header)
	}
	assert.False(t, received(snap, 0, duplicateOp) || received(snap, 1, duplicateOp), "a command with op twice reached Discord")
	assert.Empty(t, snap.ViolationsOf(""), "Discord saw no bad payload")

	// Other tests share gateway_commands, so counts are lower bounds.
	_, body := httpGet(t, "http://"+addr+"/metrics")
	for reason, least := range map[string]float64{
		"bad_shard_id": 3, "duplicate_op": 1, "gateway_op": 3, "too_large": 1, "undecodable": 5,
	} {
		v, ok := metricValue(body, `cordis_gateway_commands_refused_total{reason="`+reason+`"}`)
		assert.True(t, ok && v >= least, "commands refused as %s: %v (want at least %v)", reason, v, least)
	}
}

// presenceSince is a valid presence update, distinct per n.
func presenceSince(n int) []byte {
	return []byte(`{"op":3,"d":{"since":` + itoa(n) + `,"activities":[],"status":"idle","afk":false}}`)
}

// metricValue finds the sample named series (name and labels as Prometheus
// prints them) in a /metrics body.
func metricValue(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// Item 5: the shard_id header sends a command to that shard only.
func TestItem5_ShardIDHeaderTargetsOneShard(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{Shards: 3, MaxConcurrency: 16})
	s.start(nil)
	s.waitSessions(0, 1, 2)
	targeted := presence("dnd")
	publishCommand(t, targeted, amqp.Table{"shard_id": int32(1)})
	marker := presence("online")
	publishCommand(t, marker, nil)
	snap := s.waitFor("the marker on every shard", 10*time.Second, func(sn *fakediscord.Snapshot) bool {
		return received(sn, 0, marker) && received(sn, 1, marker) && received(sn, 2, marker)
	})
	assert.True(t, received(snap, 1, targeted), "shard 1 got the targeted command")
	assert.False(t, received(snap, 0, targeted), "shard 0 must not get shard 1's command")
	assert.False(t, received(snap, 2, targeted), "shard 2 must not get shard 1's command")
}

// Item 6: the only HTTP request the gateway ever makes is GET /gateway/bot,
// once, with the bot token.
func TestItem6_OnlyHTTPRequestIsGetGatewayBot(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{Shards: 2, MaxConcurrency: 16})
	s.start(nil)
	s.waitSessions(0, 1)
	s.dispatch(0, "MESSAGE_CREATE", fakediscord.SampleMessageCreate())
	require.NoError(t, s.discord.Reconnect(1))
	s.waitFor("a resume", 20*time.Second, func(sn *fakediscord.Snapshot) bool { return countAccepted(sn.Resumes) >= 1 })
	reqs := s.discord.Snapshot().Requests
	require.Len(t, reqs, 1)
	assert.Equal(t, "GET", reqs[0].Method)
	assert.Equal(t, "/api/v10/gateway/bot", reqs[0].Path)
	assert.True(t, reqs[0].Authorized, "Authorization: Bot <token>")
}
