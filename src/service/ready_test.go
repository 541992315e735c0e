package service

import (
	"testing"

	"github.com/cordis-gateway/cordis/src/shard"
)

func TestReadyOnlyWhenRabbitMQIsUpAndEveryShardIsReady(t *testing.T) {
	r := shard.Ready
	for _, tc := range []struct {
		name     string
		brokerUp bool
		states   []shard.State
		want     bool
	}{
		{"every shard ready", true, []shard.State{r, r, r}, true},
		{"one shard ready", true, []shard.State{r}, true},
		{"none ready", true, []shard.State{shard.Connecting, shard.Identifying}, false},
		{"the last shard still identifying", true, []shard.State{r, r, shard.Identifying}, false},
		{"the first shard still connecting", true, []shard.State{shard.Connecting, r, r}, false},
		{"a shard resuming", true, []shard.State{r, shard.Resuming}, false},
		{"a shard loading its guilds", true, []shard.State{r, shard.Connected}, false},
		{"a shard waiting to reconnect", true, []shard.State{shard.Disconnected, r}, false},
		{"a shard stopped", true, []shard.State{r, shard.Stopped}, false},
		{"RabbitMQ down", false, []shard.State{r, r}, false},
		{"no shards", true, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := readyToServe(tc.brokerUp, tc.states); got != tc.want {
				t.Errorf("readyToServe(%v, %v) = %v, want %v", tc.brokerUp, tc.states, got, tc.want)
			}
		})
	}
}
