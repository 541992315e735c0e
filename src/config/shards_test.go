package config

import (
	"testing"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		count, starting, total int
		recommended            int
		want                   Shards
		wantErr                string
	}{
		{"all defaults take the recommendation", 0, 0, 0, 4, Shards{0, 4, 4}, ""},
		{"total set wins over the recommendation", 0, 0, 16, 4, Shards{0, 16, 16}, ""},
		{"count defaults to total minus starting", 0, 6, 16, 4, Shards{6, 10, 16}, ""},
		{"count with recommended total", 2, 2, 0, 4, Shards{2, 2, 4}, ""},
		{"exact fit", 1, 15, 16, 1, Shards{15, 1, 16}, ""},
		{"starting beyond recommendation", 0, 4, 0, 4, Shards{},
			`CORDIS_STARTING_SHARD="4": accepted: an integer from 0 to 3 (below the total, Discord's recommended total of 4 (CORDIS_TOTAL_SHARD_COUNT is not set))`},
		{"count beyond recommendation", 3, 2, 0, 4, Shards{},
			`CORDIS_SHARD_COUNT="3": accepted: an integer from 1 to 2 (CORDIS_STARTING_SHARD=2 plus CORDIS_SHARD_COUNT must not exceed the total, Discord's recommended total of 4 (CORDIS_TOTAL_SHARD_COUNT is not set))`},
		{"starting beyond configured total", 0, 16, 16, 100, Shards{},
			`CORDIS_STARTING_SHARD="16": accepted: an integer from 0 to 15 (below the total, CORDIS_TOTAL_SHARD_COUNT=16)`},
		{"no usable recommendation", 0, 0, 0, 0, Shards{},
			`CORDIS_TOTAL_SHARD_COUNT is not set and Discord recommended 0 shards: set CORDIS_TOTAL_SHARD_COUNT`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{ShardCount: tc.count, StartingShard: tc.starting, TotalShardCount: tc.total}
			got, err := c.Resolve(tc.recommended)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("got  %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
