package integration

import (
	"strings"
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
	c := s.consumer("READY", "MESSAGE_CREATE")
	s.start(nil)
	s.waitSessions(0)

	ready := c.next(20 * time.Second)
	assert.Equal(t, "READY", ready.RoutingKey)
	assert.Equal(t, string(s.readyBytes(0)), string(ready.Body))

	raw := s.dispatch(0, "MESSAGE_CREATE", fakediscord.SampleMessageCreate())
	got := c.next(10 * time.Second)
	assert.Equal(t, "MESSAGE_CREATE", got.RoutingKey)
	require.Equal(t, string(raw), string(got.Body), "published body must be the exact bytes Discord sent")
	assert.Equal(t, "application/json", got.ContentType)
	assert.WithinDuration(t, time.Now(), got.Timestamp, time.Minute)
	assert.EqualValues(t, 0, got.Headers["shard_id"])
}

// Item 4: no mutation, in every encoding and transport compression: large,
// unicode and 64-bit snowflake payloads arrive exactly as fakediscord wrote
// them (before compression).
func TestItem4_NoMutationInEveryEncodingAndCompression(t *testing.T) {
	big := fakediscord.SampleGuildCreate(fakediscord.NewSnowflake(), 400)
	unicode := map[string]any{
		"content": "héllo wörld ✓ 你好 🎉 \u0000 \"quoted\" \\ \n tab\t",
		"id":      fakediscord.Snowflake(1234567890123456789),
	}
	snowflakes := map[string]any{
		"max_u64":  fakediscord.Snowflake(18446744073709551615),
		"big":      fakediscord.Snowflake(1 << 63),
		"negative": int64(-9007199254740993),
		"float":    3.141592653589793,
		"nested":   []any{nil, true, false, []any{}, map[string]any{}},
	}
	for _, enc := range []string{"json", "etf"} {
		for _, comp := range []string{"false", "zlib-stream", "zstd-stream"} {
			t.Run(enc+"/"+comp, func(t *testing.T) {
				s := newDiscord(t, fakediscord.Options{})
				c := s.consumer("READY", "GUILD_CREATE", "MESSAGE_CREATE", "SNOWFLAKES")
				s.start(map[string]string{"CORDIS_WS_ENCODING": enc, "CORDIS_WS_COMPRESS": comp})
				snap := s.waitSessions(0)
				conn, _ := snap.Conn(snap.Shards[0].ConnID)
				assert.Equal(t, enc, conn.Encoding)
				if comp != "false" {
					assert.Equal(t, comp, string(conn.Compress))
				}
				ready := c.next(20 * time.Second)
				assert.Equal(t, string(s.readyBytes(0)), string(ready.Body))

				want := [][]byte{
					s.dispatch(0, "GUILD_CREATE", big),
					s.dispatch(0, "MESSAGE_CREATE", unicode),
					s.dispatch(0, "SNOWFLAKES", snowflakes),
				}
				require.Greater(t, len(want[0]), 100<<10, "the large payload must exceed 100 KB")
				for _, w := range want {
					got := c.next(20 * time.Second)
					require.Equal(t, len(w), len(got.Body))
					require.True(t, string(w) == string(got.Body), "bytes differ for %s", got.RoutingKey)
				}
				wantType := "application/json"
				if enc == "etf" {
					wantType = "application/x-erlang-binary"
				}
				assert.Equal(t, wantType, ready.ContentType)
				if enc == "etf" {
					assert.Equal(t, byte(131), ready.Body[0])
				} else {
					assert.True(t, strings.HasPrefix(string(ready.Body), "{"))
				}
			})
		}
	}
}
