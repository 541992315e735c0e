package integration

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// gatewayBotVia answers GET /gateway/bot with the websocket url at addr (a
// fault proxy in front of fakediscord), so the gateway dials Discord
// through the proxy.
func gatewayBotVia(t *testing.T, addr string, shards int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"url":    "ws://" + addr,
			"shards": shards,
			"session_start_limit": map[string]any{
				"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 16,
			},
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v10"
}

// Issue 8, point 5: a shard whose websocket handshake stalls (Discord
// reached through a proxy that accepts and never answers) does not hold
// shutdown: SIGTERM exits 0 well within 10 s, and the other shard's session
// is saved in Redis. The old dial waited out its 30 s deadline, so the
// 10 s hard stop exited 1 before sessions were saved.
func TestFault_SIGTERMDuringAStalledHandshakeExits0AndSavesSessions(t *testing.T) {
	bot := newTestBot()
	rdb := redisClient(t, bot)
	s := newBotDiscord(t, bot, fakediscord.Options{Shards: 2, MaxConcurrency: 16})
	proxy := newFaultProxy(t, s.discord.Addr())
	ev := eventName("ISSUE8_STALLED")
	c := newConsumer(t, ev)
	g := s.start(botEnv(bot, redisURL(t, ""), map[string]string{
		"CORDIS_DISCORD_API": gatewayBotVia(t, proxy.addr(), 2),
	}))
	s.waitSessions(0, 1)
	c.expectBodies(20*time.Second, [][]byte{s.dispatch(0, ev, fakediscord.SampleMessageCreate())})

	// Shard 1 must identify again on the main url: the proxy, now a blackhole.
	proxy.blackhole(true)
	accepted := proxy.connections()
	require.NoError(t, s.discord.InvalidSession(1, false))
	deadline := time.Now().Add(20 * time.Second)
	for proxy.connections() == accepted {
		require.True(t, time.Now().Before(deadline), "shard 1 never dialled the blackholed gateway url")
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the handshake is stalled now
	want := s.discord.Snapshot().Shards[0]

	g.signal(syscall.SIGTERM)
	start := time.Now()
	code, err := g.wait(10 * time.Second)
	require.NoError(t, err, "SIGTERM must end the process within 10 s")
	took := time.Since(start)
	t.Logf("shutdown took %v", took.Round(time.Millisecond))
	assert.Equal(t, 0, code, "a clean shutdown exits 0")
	assert.Less(t, took, 5*time.Second, "a stalled dial must end at once, not near the hard stop")

	ctx := testContext(t)
	fields, err := rdb.HGetAll(ctx, "cordis:"+bot.id+":session:0").Result()
	require.NoError(t, err)
	assert.Equal(t, want.SessionID, fields["session_id"], "shard 0's session is saved")
	assert.Equal(t, strconv.FormatInt(want.Seq, 10), fields["seq"], "with its last seq")
	g.checkNoCrash()
}
