package service

import "github.com/cordis-gateway/cordis/src/shard"

// readyToServe is the /readyz rule (DESIGN.md §8): RabbitMQ is up and EVERY
// shard of this process is ready. One shard still identifying, resuming or
// waiting to reconnect keeps the process unready: its guilds get no events.
func readyToServe(brokerUp bool, states []shard.State) bool {
	if !brokerUp || len(states) == 0 {
		return false
	}
	for _, st := range states {
		if st != shard.Ready {
			return false
		}
	}
	return true
}

func shardStates(shards []*shard.Shard) []shard.State {
	states := make([]shard.State, len(shards))
	for i, s := range shards {
		states[i] = s.State()
	}
	return states
}
