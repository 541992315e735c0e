package cluster

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/broker"
	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/codec"
	"github.com/cordis-gateway/cordis/src/config"
	"github.com/cordis-gateway/cordis/src/logging/logtest"
	"github.com/cordis-gateway/cordis/src/shard"
)

type counts struct {
	forwarded, refused int
	reasons            []string
}

func (c *counts) CommandForwarded(n int) { c.forwarded += n }
func (c *counts) CommandRefused(reason string) {
	c.refused++
	c.reasons = append(c.reasons, reason)
}

func newTestCluster(enc codec.Codec, obs Observer) *Cluster {
	return New(config.Shards{First: 4, Count: 3, Total: 8}, shard.Config{Codec: enc, Logger: slog.New(slog.DiscardHandler)}, obs)
}

func TestForwardRules(t *testing.T) {
	presence := []byte(`{"op":3,"d":{"status":"online","afk":false,"since":null,"activities":[]}}`)
	big := append([]byte(`{"op":3,"d":"`), make([]byte, 4100)...)
	for i := 13; i < len(big); i++ {
		big[i] = 'a'
	}
	big = append(big, `"}`...)
	tests := []struct {
		name    string
		cmd     broker.Command
		want    int
		refused bool
	}{
		{"a valid command goes to every shard", broker.Command{Body: presence}, 3, false},
		{"the shard_id header targets one shard", broker.Command{Body: presence, ShardID: 5, Targeted: true}, 1, false},
		{"a shard of another cluster is ignored", broker.Command{Body: presence, ShardID: 1, Targeted: true}, 0, false},
		{"heartbeat is refused", broker.Command{Body: []byte(`{"op":1,"d":null}`)}, 0, true},
		{"identify is refused", broker.Command{Body: []byte(`{"op":2,"d":{}}`)}, 0, true},
		{"resume is refused", broker.Command{Body: []byte(`{"op":6,"d":{}}`)}, 0, true},
		{"garbage is refused", broker.Command{Body: []byte(`not json`)}, 0, true},
		{"op must be an integer", broker.Command{Body: []byte(`{"op":"3","d":{}}`)}, 0, true},
		{"a command over 4096 bytes is refused", broker.Command{Body: big}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &counts{}
			c := newTestCluster(codec.JSON{}, obs)
			assert.Equal(t, tt.want, c.Forward(tt.cmd))
			assert.Equal(t, tt.want, obs.forwarded)
			assert.Equal(t, tt.refused, obs.refused == 1)
			if tt.cmd.Targeted && tt.want == 1 {
				assert.True(t, c.Shards()[tt.cmd.ShardID-4].Send(nil), "other shards' queues untouched")
			}
		})
	}
}

func TestForwardChecksTheConfiguredEncoding(t *testing.T) {
	c := newTestCluster(codec.ETF{}, nil)
	assert.Zero(t, c.Forward(broker.Command{Body: []byte(`{"op":3,"d":{}}`)}), "JSON is not ETF")
	// {<<"op">> => 3, <<"d">> => nil} as term_to_binary writes it.
	etf := []byte{131, 116, 0, 0, 0, 2, 109, 0, 0, 0, 2, 'o', 'p', 97, 3, 109, 0, 0, 0, 1, 'd', 119, 3, 'n', 'i', 'l'}
	assert.Equal(t, 3, c.Forward(broker.Command{Body: etf}))
}

func TestShardsAreCreatedForTheRange(t *testing.T) {
	c := newTestCluster(codec.JSON{}, nil)
	var ids []int
	for _, s := range c.Shards() {
		ids = append(ids, s.ID())
	}
	assert.Equal(t, []int{4, 5, 6}, ids)
}

func TestDroppedCommandWarningsAreRateLimited(t *testing.T) {
	var logs strings.Builder
	c := New(config.Shards{First: 0, Count: 1, Total: 1},
		shard.Config{Codec: codec.JSON{}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, nil)
	for range 100 {
		c.Forward(broker.Command{Body: []byte("garbage")})
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "dropped a command"), "one warning, not one per command")
}

// Issue 8 point 7: every refusal reaches no shard and is counted by reason;
// a shard_id header that is not an integer is refused, not broadcast.
func TestForwardRefusesWithAReasonAndReachesNoShard(t *testing.T) {
	presence := []byte(`{"op":3,"d":{}}`)
	notInt := errors.New("header shard_id: string is not an integer")
	tests := []struct {
		name   string
		cmd    broker.Command
		reason string
	}{
		{"shard_id header is a string", broker.Command{Body: presence, BadShardID: notInt}, RefusedBadShardID},
		{"shard_id header is a float", broker.Command{Body: presence, BadShardID: errors.New("float64")}, RefusedBadShardID},
		{"shard_id header is a bool", broker.Command{Body: presence, BadShardID: errors.New("bool")}, RefusedBadShardID},
		{"duplicate op", broker.Command{Body: []byte(`{"op":3,"d":{},"op":2}`)}, codec.RefusedDuplicateOp},
		{"gateway op", broker.Command{Body: []byte(`{"op":2,"d":{}}`)}, codec.RefusedGatewayOp},
		{"undecodable", broker.Command{Body: []byte(`nope`)}, codec.RefusedUndecodable},
		{"too large", broker.Command{Body: []byte(`{"op":3,"d":"` + strings.Repeat("x", codec.MaxCommandSize) + `"}`)}, codec.RefusedTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &counts{}
			c := newTestCluster(codec.JSON{}, obs)
			assert.Zero(t, c.Forward(tt.cmd))
			assert.Zero(t, obs.forwarded)
			assert.Equal(t, []string{tt.reason}, obs.reasons)
			for _, s := range c.Shards() {
				for range shard.CommandQueueSize {
					require.True(t, s.Send(nil), "shard %d's queue holds a refused command", s.ID())
				}
			}
		})
	}
}

// The refusal warning is throttled, and what it held back is logged when
// the window ends, even when no refusal follows.
func TestRefusalWarningsLogHowManyWereSuppressed(t *testing.T) {
	var logs logtest.Buffer
	clk := clock.NewFake(time.Unix(0, 0))
	c := New(config.Shards{First: 0, Count: 1, Total: 1},
		shard.Config{Codec: codec.JSON{}, Clock: clk, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, nil)
	for range 1000 {
		c.Forward(broker.Command{Body: []byte("garbage")})
	}
	assert.Equal(t, 1, logs.Count("dropped a command"), "one warning, not one per command")
	assert.Zero(t, logs.Count("not logged one by one"))
	clk.BlockUntil(1)
	clk.Advance(warnEvery)
	require.Eventually(t, func() bool { return logs.Count(`"suppressed":999`) == 1 }, 5*time.Second, time.Millisecond,
		"the window's end says how many were held back: %s", logs.String())

	// The next window starts from the summary; a later refusal logs again.
	clk.Advance(warnEvery)
	c.Forward(broker.Command{Body: []byte(`{"op":1}`)})
	assert.Equal(t, 2, logs.Count("dropped a command"))
	assert.Equal(t, 1, logs.Count(`"reason":"gateway_op","suppressed_since_last":0`))
}
