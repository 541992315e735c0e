package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// DESIGN §2 and §4, end to end: the IDENTIFY Discord receives carries the
// configured large_threshold, intents and shard, compress false and the
// properties; left unset, the documented defaults apply (etf, zlib-stream,
// large_threshold 250, nonPrivileged intents).
func TestIdentifyCarriesTheConfigurationAndItsDefaults(t *testing.T) {
	const nonPrivileged = fakediscord.AllIntents &^ fakediscord.PrivilegedIntents
	for _, tc := range []struct {
		name           string
		set            map[string]string
		unset          []string
		largeThreshold int
		intents        int64
		encoding       string
		compress       string
	}{
		{"configured", map[string]string{"CORDIS_WS_LARGE_THRESHOLD": "50", "CORDIS_WS_INTENTS": "guilds,guildMessages"}, nil,
			50, 1<<0 | 1<<9, "json", ""},
		{"defaults", nil, []string{"CORDIS_WS_LARGE_THRESHOLD", "CORDIS_WS_INTENTS", "CORDIS_WS_ENCODING", "CORDIS_WS_COMPRESS"},
			250, nonPrivileged, "etf", "zlib-stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newDiscord(t, fakediscord.Options{})
			vars := s.gatewayEnv(tc.set)
			for _, k := range tc.unset {
				delete(vars, k)
			}
			startGateway(t, vars)
			snap := s.waitSessions(0)
			ids := identifiesOf(snap, 0)
			require.NotEmpty(t, ids)
			id := ids[0]
			assert.Equal(t, tc.intents, id.Intents, "intents")
			assert.Equal(t, 1, id.ShardTotal)
			d, _ := id.Payload["d"].(map[string]any)
			require.NotNil(t, d, "IDENTIFY d")
			assert.Equal(t, fmt.Sprint(tc.largeThreshold), fmt.Sprint(d["large_threshold"]), "large_threshold")
			assert.Equal(t, "false", fmt.Sprint(d["compress"]), "IDENTIFY compress (payload compression) is always false")
			props, _ := d["properties"].(map[string]any)
			for _, k := range []string{"os", "browser", "device"} {
				assert.NotEmpty(t, props[k], "properties.%s", k)
			}
			conn, _ := snap.Conn(id.ConnID)
			assert.Equal(t, tc.encoding, conn.Encoding, "encoding")
			assert.Equal(t, tc.compress, string(conn.Compress), "transport compression")
		})
	}
}

// DESIGN §2 and §8: debug records are written only with CORDIS_DEBUG set;
// by default the gateway logs at info.
func TestDebugRecordsOnlyWithCORDISDEBUG(t *testing.T) {
	for _, tc := range []struct {
		debug string // "" = unset
		want  bool
	}{
		{"", false},
		{"false", false},
		{"true", true},
	} {
		t.Run("CORDIS_DEBUG="+tc.debug, func(t *testing.T) {
			s := newDiscord(t, fakediscord.Options{})
			g := s.start(map[string]string{"CORDIS_DEBUG": tc.debug})
			s.waitSessions(0)
			// "ready" (info) is logged after the handshake's debug records.
			g.waitLog(20*time.Second, "the shard's ready record", func(rec map[string]any) bool { return rec["msg"] == "ready" })
			if tc.want {
				assert.NotEmpty(t, g.logsAt("DEBUG"), "no debug record with CORDIS_DEBUG=true")
			} else {
				for _, rec := range g.logsAt("DEBUG") {
					t.Errorf("debug record at the default level: %v", rec["msg"])
				}
			}
		})
	}
}
