package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/shard"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, string(body)
}

func TestHealthAndReadiness(t *testing.T) {
	ready := false
	h := New(func() float64 { return 0 }).Handler(func() bool { return ready })
	code, _ := get(t, h, "/healthz")
	assert.Equal(t, http.StatusOK, code, "healthz answers while the process is up")
	code, _ = get(t, h, "/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code, "not ready until AMQP is up and every shard is ready")
	ready = true
	code, _ = get(t, h, "/readyz")
	assert.Equal(t, http.StatusOK, code)
}

func TestMetricsExposeEveryFamily(t *testing.T) {
	m := New(func() float64 { return 1234 })
	m.DispatchReceived(3, []byte("MESSAGE_CREATE"))
	m.DispatchReceived(3, []byte("MESSAGE_CREATE"))
	m.DispatchPublished(3, "MESSAGE_CREATE", 2*time.Millisecond)
	m.CommandForwarded(4)
	m.CommandRefused("duplicate_op")
	m.CommandRefused("duplicate_op")
	m.CommandRefused("bad_shard_id")
	m.DispatchRefused(3, shard.RefusedLongEvent)
	m.StateChanged(3, shard.Ready)
	m.HeartbeatAcked(3, 40*time.Millisecond)
	m.Reconnecting(3, shard.Resume)
	m.Identified(3)
	m.PayloadDropped(3, "inflated_too_large")
	m.CommandDropped(3, "queue_full")
	m.CommandDropped(3, "queue_full")
	_, body := get(t, m.Handler(func() bool { return true }), "/metrics")
	for _, want := range []string{
		`cordis_gateway_dispatches_received_total{event="MESSAGE_CREATE",shard_id="3"} 2`,
		`cordis_gateway_dispatches_published_total{event="MESSAGE_CREATE",shard_id="3"} 1`,
		`cordis_gateway_publish_confirm_seconds_count 1`,
		`cordis_gateway_buffered_bytes 1234`,
		`cordis_gateway_commands_forwarded_total 4`,
		`cordis_gateway_commands_refused_total{reason="duplicate_op"} 2`,
		`cordis_gateway_commands_refused_total{reason="bad_shard_id"} 1`,
		`cordis_gateway_dispatches_refused_total{reason="event_name_too_long",shard_id="3"} 1`,
		`cordis_gateway_shard_state{shard_id="3",state="ready"} 1`,
		`cordis_gateway_shard_state{shard_id="3",state="connecting"} 0`,
		`cordis_gateway_heartbeat_latency_seconds{shard_id="3"} 0.04`,
		`cordis_gateway_reconnects_total{kind="resume",shard_id="3"} 1`,
		`cordis_gateway_identifies_total{shard_id="3"} 1`,
		`cordis_gateway_payloads_dropped_total{reason="inflated_too_large",shard_id="3"} 1`,
		`cordis_gateway_commands_dropped_total{reason="queue_full",shard_id="3"} 2`,
	} {
		assert.Contains(t, body, want)
	}
}

func TestDispatchCountingDoesNotAllocateOnceSeen(t *testing.T) {
	m := New(func() float64 { return 0 })
	ev := []byte("MESSAGE_CREATE")
	m.DispatchReceived(1, ev)
	assert.Zero(t, testing.AllocsPerRun(100, func() { m.DispatchReceived(1, ev) }))
}
