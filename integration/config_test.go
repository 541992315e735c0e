package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Item 11 (and 9): every configuration error exits 2 with one clear line
// naming the variable, before any connection is made.
func TestItem11_ConfigurationErrorsExit2WithAClearLine(t *testing.T) {
	base := map[string]string{
		"CORDIS_AUTH":      testToken,
		"CORDIS_AMQP_HOST": "127.0.0.1:1", // never dialed: config is checked first
	}
	tests := []struct {
		name, variable, value, want string
	}{
		{"missing token", "CORDIS_AUTH", "", "CORDIS_AUTH"},
		{"missing amqp host", "CORDIS_AMQP_HOST", "", "CORDIS_AMQP_HOST"},
		{"bad amqp scheme", "CORDIS_AMQP_HOST", "http://x", "CORDIS_AMQP_HOST"},
		{"bad debug", "CORDIS_DEBUG", "maybe", "CORDIS_DEBUG"},
		{"zero shard count", "CORDIS_SHARD_COUNT", "0", "CORDIS_SHARD_COUNT"},
		{"negative starting shard", "CORDIS_STARTING_SHARD", "-1", "CORDIS_STARTING_SHARD"},
		{"total not a number", "CORDIS_TOTAL_SHARD_COUNT", "many", "CORDIS_TOTAL_SHARD_COUNT"},
		{"redis not a redis url", "CORDIS_REDIS_URL", "http://127.0.0.1", "CORDIS_REDIS_URL"},
		{"unknown compression", "CORDIS_WS_COMPRESS", "gzip", "CORDIS_WS_COMPRESS"},
		{"unknown encoding", "CORDIS_WS_ENCODING", "xml", "CORDIS_WS_ENCODING"},
		{"bad duration", "CORDIS_WS_OPEN_TIMEOUT", "soon", "CORDIS_WS_OPEN_TIMEOUT"},
		{"bad hello timeout", "CORDIS_WS_HELLO_TIMEOUT", "-5s", "CORDIS_WS_HELLO_TIMEOUT"},
		{"large threshold too big", "CORDIS_WS_LARGE_THRESHOLD", "300", "CORDIS_WS_LARGE_THRESHOLD"},
		{"unknown intent", "CORDIS_WS_INTENTS", "guilds,guildKittens", "CORDIS_WS_INTENTS"},
		{"bad api url", "CORDIS_DISCORD_API", "ftp://discord", "CORDIS_DISCORD_API"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range base {
				vars[k] = v
			}
			vars[tt.variable] = tt.value
			g := startGateway(t, vars)
			code, err := g.wait(10 * time.Second)
			require.NoError(t, err)
			assert.Equal(t, 2, code)
			out := strings.Join(g.stderr(), "\n")
			assert.Contains(t, out, tt.want)
			assert.Contains(t, out, "accepted")
			assert.NotContains(t, out, "cordis-integration-secret-token", "the token must never be printed")
		})
	}
}

// Item 9: a shard range that does not fit the total is refused at start.
func TestItem9_InvalidShardRangeIsRejectedBeforeConnecting(t *testing.T) {
	g := startGateway(t, map[string]string{
		"CORDIS_AUTH":              testToken,
		"CORDIS_AMQP_HOST":         "127.0.0.1:1",
		"CORDIS_STARTING_SHARD":    "3",
		"CORDIS_SHARD_COUNT":       "2",
		"CORDIS_TOTAL_SHARD_COUNT": "4",
	})
	code, err := g.wait(10 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 2, code)
	assert.Contains(t, strings.Join(g.stderr(), "\n"), "CORDIS_SHARD_COUNT")
}
