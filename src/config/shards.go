package config

import (
	"fmt"
	"strconv"
)

// Resolve fixes the shard range once Discord's recommended shard count is
// known: the total defaults to the recommendation and the count to every
// shard from StartingShard up to the total.
func (c *Config) Resolve(recommended int) (Shards, error) {
	total, source := c.TotalShardCount, varTotalShardCount+"="+strconv.Itoa(c.TotalShardCount)
	if total == 0 {
		if recommended < 1 {
			return Shards{}, fmt.Errorf("%s is not set and Discord recommended %d shards: set %s", varTotalShardCount, recommended, varTotalShardCount)
		}
		total = recommended
		source = fmt.Sprintf("Discord's recommended total of %d (%s is not set)", total, varTotalShardCount)
	}
	if err := checkRange(c.StartingShard, c.ShardCount, total, source); err != nil {
		return Shards{}, err
	}
	count := c.ShardCount
	if count == 0 {
		count = total - c.StartingShard
	}
	return Shards{First: c.StartingShard, Count: count, Total: total}, nil
}

// checkRange checks starting < total and starting+count <= total (count 0 =
// unset); source says where total came from, for the message.
func checkRange(starting, count, total int, source string) error {
	if starting >= total {
		return &Error{
			Var:      varStartingShard,
			Value:    strconv.Itoa(starting),
			Accepted: fmt.Sprintf("an integer from 0 to %d (below the total, %s)", total-1, source),
		}
	}
	if count > total-starting {
		return &Error{
			Var:   varShardCount,
			Value: strconv.Itoa(count),
			Accepted: fmt.Sprintf("an integer from 1 to %d (%s=%d plus %s must not exceed the total, %s)",
				total-starting, varStartingShard, starting, varShardCount, source),
		}
	}
	return nil
}
