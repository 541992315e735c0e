package integration

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Item 9: the sharding variables pick which shards this process runs, with
// defaults from Discord's recommended count.
func TestItem9_ShardRanges(t *testing.T) {
	tests := []struct {
		name        string
		recommended int
		vars        map[string]string
		wantShards  []int
		wantTotal   int
	}{
		{"defaults run every recommended shard", 3, nil, []int{0, 1, 2}, 3},
		{"an explicit range", 2, map[string]string{"CORDIS_STARTING_SHARD": "1", "CORDIS_SHARD_COUNT": "2", "CORDIS_TOTAL_SHARD_COUNT": "4"}, []int{1, 2}, 4},
		{"count defaults to total minus starting", 1, map[string]string{"CORDIS_STARTING_SHARD": "2", "CORDIS_TOTAL_SHARD_COUNT": "4"}, []int{2, 3}, 4},
		{"total defaults to the recommendation", 4, map[string]string{"CORDIS_STARTING_SHARD": "3"}, []int{3}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDiscord(t, fakediscord.Options{Shards: tt.recommended, MaxConcurrency: 16})
			s.start(tt.vars)
			s.waitFor("identifies", 30*time.Second, func(sn *fakediscord.Snapshot) bool {
				return len(sn.AcceptedIdentifies()) >= len(tt.wantShards)
			})
			time.Sleep(500 * time.Millisecond) // room for an identify that should not happen
			snap := s.discord.Snapshot()
			var got []int
			for _, id := range snap.AcceptedIdentifies() {
				got = append(got, id.Shard)
				assert.Equal(t, tt.wantTotal, id.ShardTotal)
			}
			sort.Ints(got)
			assert.Equal(t, tt.wantShards, got)
		})
	}
}

// Item 9: a range that does not fit Discord's recommended total is refused
// (exit 2) once /gateway/bot has answered, before any shard connects.
func TestItem9_RangeBeyondTheRecommendedTotalIsRejected(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{Shards: 2})
	g := s.start(map[string]string{"CORDIS_STARTING_SHARD": "5"})
	code, err := g.wait(20 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 2, code)
	assert.Contains(t, strings.Join(g.stderr(), "\n"), "CORDIS_STARTING_SHARD")
	assert.Empty(t, s.discord.Snapshot().Connections, "no shard connected")
}
