package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Item 11 (frames): a malformed message from Discord ends that connection
// and the shard reconnects; the process never crashes and keeps
// publishing.
func TestItem11_MalformedFramesMakeTheShardReconnect(t *testing.T) {
	cases := []struct {
		name, encoding, compress string
		raw                      bool // bypass the connection's compression
		data                     []byte
	}{
		// A deflate block of the reserved type 3, ended by a sync flush so
		// the gateway inflates it at once.
		{"bad zlib data", "json", "zlib-stream", true, []byte{0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff}},
		{"bad zstd data", "json", "zstd-stream", true, []byte("not a zstd frame at all")},
		// A map of 4 pairs that ends after its first key.
		{"bad ETF", "etf", "false", false, []byte{131, 116, 0, 0, 0, 4, 119, 2, 'o', 'p'}},
		{"bad ETF under zlib", "etf", "zlib-stream", false, []byte{131, 255, 1, 2, 3}},
		{"truncated JSON", "json", "false", false, []byte(`{"op":0,"t":"X","d":{`)},
		// In Discord's key order the gateway stops scanning at d: a cut-off
		// d must still be caught.
		{"truncated JSON in Discord's order", "json", "zlib-stream", false, []byte(`{"t":"MESSAGE_CREATE","s":99,"op":0,"d":{"content":"cut`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newDiscord(t, fakediscord.Options{})
			ev := eventName("ITEM11_FRAME")
			c := newConsumer(t, ev)
			g := s.start(map[string]string{"CORDIS_WS_ENCODING": tc.encoding, "CORDIS_WS_COMPRESS": tc.compress})
			s.waitSessions(0)
			c.expectBodies(20*time.Second, [][]byte{s.dispatch(0, ev, fakediscord.SampleMessageCreate())})
			old := s.currentConn(0)

			if tc.raw {
				require.NoError(t, s.discord.SendRaw(0, tc.data))
			} else {
				require.NoError(t, s.discord.SendPayload(0, tc.data))
			}
			closed := s.waitClosed(old.ID, 10*time.Second)
			assert.Equal(t, "client", closed.ClosedBy, "the gateway must drop the connection that sent garbage")
			assert.NotContains(t, []int{1000, 1001}, closed.CloseCode)
			ended := g.waitLog(10*time.Second, "why the connection ended", func(rec map[string]any) bool {
				return rec["msg"] == "connection ended"
			})
			t.Logf("gateway: connection ended: %v", ended["reason"])
			s.waitFor("the shard on a new connection", 20*time.Second, func(sn *fakediscord.Snapshot) bool {
				st := sn.Shards[0]
				return st.Connected && st.ConnID > old.ID
			})

			c.expectBodies(20*time.Second, [][]byte{s.dispatch(0, ev, fakediscord.SampleMessageCreate())})
			g.requireRunning()
			g.checkNoCrash()
		})
	}
}
