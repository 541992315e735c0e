package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// httpClient bounds every request of these tests: a gateway that accepts
// and never answers fails the test instead of hanging it.
var httpClient = &http.Client{Timeout: 10 * time.Second}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// DESIGN §8: with CORDIS_METRICS_ADDR the gateway serves /healthz, /readyz
// (RabbitMQ up and every shard ready) and Prometheus metrics.
func TestMetricsAndHealthEndpoints(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{Shards: 2, MaxConcurrency: 16, Guilds: 2})
	addr := freeAddr(t)
	s.start(map[string]string{"CORDIS_METRICS_ADDR": addr})
	base := "http://" + addr
	s.waitSessions(0, 1)

	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := httpGet(t, base+"/readyz")
		if code == http.StatusOK {
			break
		}
		require.True(t, time.Now().Before(deadline), "/readyz never became ready (last status %d)", code)
		time.Sleep(50 * time.Millisecond)
	}
	code, _ := httpGet(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code)

	s.dispatch(0, "MESSAGE_CREATE", fakediscord.SampleMessageCreate())
	var body string
	for time.Now().Before(deadline) {
		_, body = httpGet(t, base+"/metrics")
		if strings.Contains(body, `cordis_gateway_dispatches_published_total{event="MESSAGE_CREATE",shard_id="0"} 1`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		`cordis_gateway_dispatches_received_total{event="MESSAGE_CREATE",shard_id="0"} 1`,
		`cordis_gateway_dispatches_published_total{event="MESSAGE_CREATE",shard_id="0"} 1`,
		`cordis_gateway_dispatches_received_total{event="GUILD_CREATE",shard_id="1"} 2`,
		`cordis_gateway_shard_state{shard_id="1",state="ready"} 1`,
		`cordis_gateway_identifies_total{shard_id="0"} 1`,
		`cordis_gateway_publish_confirm_seconds_count`,
		`cordis_gateway_buffered_bytes`,
	} {
		assert.Contains(t, body, want)
	}
}

// DESIGN §8: /readyz answers 200 only when EVERY shard is ready. With
// max_concurrency 1 the shards identify 5 s apart, so the first one is
// ready long before the last even identifies: /readyz must say 503
// meanwhile.
func TestReadyzWaitsForEveryShard(t *testing.T) {
	const shards = 3
	s := newDiscord(t, fakediscord.Options{Shards: shards, MaxConcurrency: 1})
	addr := freeAddr(t)
	s.start(map[string]string{"CORDIS_METRICS_ADDR": addr})
	base := "http://" + addr

	deadline := time.Now().Add(30 * time.Second)
	for {
		_, metrics := httpGet(t, base+"/metrics")
		if strings.Contains(metrics, `,state="ready"} 1`) {
			break
		}
		require.True(t, time.Now().Before(deadline), "no shard ever became ready")
		time.Sleep(20 * time.Millisecond)
	}
	code, body := httpGet(t, base+"/readyz")
	identified := len(s.discord.Snapshot().AcceptedIdentifies())
	require.Less(t, identified, shards,
		"every shard identified already: the test cannot tell 'any shard' from 'every shard'")
	assert.Equal(t, http.StatusServiceUnavailable, code,
		"/readyz with a shard ready and %d of %d identified: %s", identified, shards, body)

	s.waitSessions(0, 1, 2)
	for {
		code, _ = httpGet(t, base+"/readyz")
		if code == http.StatusOK {
			break
		}
		require.True(t, time.Now().Before(deadline.Add(30*time.Second)), "/readyz never became ready with every shard up (last status %d)", code)
		time.Sleep(50 * time.Millisecond)
	}
}
