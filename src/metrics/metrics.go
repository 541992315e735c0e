// Package metrics exposes the gateway's Prometheus metrics and its health
// endpoints (DESIGN.md §8) when CORDIS_METRICS_ADDR is set.
package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cordis-gateway/cordis/src/shard"
)

// Metrics holds every collector. Its methods are safe for concurrent use and
// cheap enough for the dispatch path: counters per (shard, event) are looked
// up once and then cached.
type Metrics struct {
	Registry *prometheus.Registry

	received          *prometheus.CounterVec
	published         *prometheus.CounterVec
	confirmLatency    prometheus.Histogram
	commandsForwarded prometheus.Counter
	commandsRefused   *prometheus.CounterVec
	dispatchesRefused *prometheus.CounterVec
	shardState        *prometheus.GaugeVec
	heartbeatLatency  *prometheus.GaugeVec
	reconnects        *prometheus.CounterVec
	identifies        *prometheus.CounterVec
	drops             dropCounters

	mu   sync.RWMutex
	recv map[int]map[string]prometheus.Counter // shard -> event -> counter
	pub  map[int]map[string]prometheus.Counter
}

// New registers the gateway's collectors (and Go/process collectors) in a
// fresh registry. buffered reports the broker's buffered bytes.
func New(buffered func() float64) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cordis_gateway_dispatches_received_total", Help: "Dispatch (op 0) payloads received from Discord.",
		}, []string{"shard_id", "event"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cordis_gateway_dispatches_published_total", Help: "Dispatches confirmed by RabbitMQ.",
		}, []string{"shard_id", "event"}),
		confirmLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cordis_gateway_publish_confirm_seconds", Help: "Time from hand-over to the publisher until RabbitMQ's confirm.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		commandsForwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cordis_gateway_commands_forwarded_total", Help: "Commands from gateway_commands queued on shards (one per shard).",
		}),
		commandsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cordis_gateway_commands_refused_total", Help: "Commands refused (reaching no shard) by reason.",
		}, []string{"reason"}),
		dispatchesRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cordis_gateway_dispatches_refused_total", Help: "Dispatches that can never be published, dropped by reason.",
		}, []string{"shard_id", "reason"}),
		shardState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cordis_gateway_shard_state", Help: "1 for the state each shard is in.",
		}, []string{"shard_id", "state"}),
		heartbeatLatency: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cordis_gateway_heartbeat_latency_seconds", Help: "Last heartbeat round trip per shard.",
		}, []string{"shard_id"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cordis_gateway_reconnects_total", Help: "Reconnects by shard and kind (resume, identify).",
		}, []string{"shard_id", "kind"}),
		identifies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cordis_gateway_identifies_total", Help: "IDENTIFY payloads sent.",
		}, []string{"shard_id"}),
		recv: make(map[int]map[string]prometheus.Counter),
		pub:  make(map[int]map[string]prometheus.Counter),
	}
	m.Registry.MustRegister(m.received, m.published, m.confirmLatency, m.commandsForwarded, m.commandsRefused,
		m.dispatchesRefused, m.shardState, m.heartbeatLatency, m.reconnects, m.identifies,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cordis_gateway_buffered_bytes", Help: "Bytes of dispatches queued or awaiting a RabbitMQ confirm.",
		}, buffered),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registerDrops()
	return m
}

// cached finds the (shard, event) counter. Indexing the inner map with
// string(event) does not allocate, so a seen event costs two map lookups.
func (m *Metrics) cached(cache map[int]map[string]prometheus.Counter, shardID int, event []byte) (prometheus.Counter, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := cache[shardID][string(event)]
	return c, ok
}

func (m *Metrics) create(cache map[int]map[string]prometheus.Counter, vec *prometheus.CounterVec, shardID int, event string) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	byEvent := cache[shardID]
	if byEvent == nil {
		byEvent = make(map[string]prometheus.Counter)
		cache[shardID] = byEvent
	}
	c, ok := byEvent[event]
	if !ok {
		c = vec.WithLabelValues(strconv.Itoa(shardID), event)
		byEvent[event] = c
	}
	return c
}

// DispatchReceived counts one dispatch read from Discord.
func (m *Metrics) DispatchReceived(shardID int, event []byte) {
	c, ok := m.cached(m.recv, shardID, event)
	if !ok {
		c = m.create(m.recv, m.received, shardID, string(event))
	}
	c.Inc()
}

// DispatchPublished counts one dispatch confirmed by RabbitMQ.
// event is the broker's interned name (see broker.Options.OnConfirm).
func (m *Metrics) DispatchPublished(shardID int, event string, latency time.Duration) {
	m.mu.RLock()
	c, ok := m.pub[shardID][event]
	m.mu.RUnlock()
	if !ok {
		c = m.create(m.pub, m.published, shardID, event)
	}
	c.Inc()
	m.confirmLatency.Observe(latency.Seconds())
}

// CommandForwarded counts commands from workers queued on shards.
func (m *Metrics) CommandForwarded(shards int) { m.commandsForwarded.Add(float64(shards)) }

// CommandRefused counts a command that reaches no shard, by reason.
func (m *Metrics) CommandRefused(reason string) { m.commandsRefused.WithLabelValues(reason).Inc() }

// DispatchRefused implements shard.Observer: a dispatch that can never be
// published (rare: not on the hot path).
func (m *Metrics) DispatchRefused(shardID int, reason string) {
	m.dispatchesRefused.WithLabelValues(strconv.Itoa(shardID), reason).Inc()
}

// StateChanged implements shard.Observer.
func (m *Metrics) StateChanged(shardID int, s shard.State) {
	id := strconv.Itoa(shardID)
	for st := shard.Disconnected; st <= shard.Stopped; st++ {
		v := 0.0
		if st == s {
			v = 1
		}
		m.shardState.WithLabelValues(id, st.String()).Set(v)
	}
}

// HeartbeatAcked implements shard.Observer.
func (m *Metrics) HeartbeatAcked(shardID int, latency time.Duration) {
	m.heartbeatLatency.WithLabelValues(strconv.Itoa(shardID)).Set(latency.Seconds())
}

// Reconnecting implements shard.Observer.
func (m *Metrics) Reconnecting(shardID int, a shard.Action) {
	m.reconnects.WithLabelValues(strconv.Itoa(shardID), a.String()).Inc()
}

// Identified implements shard.Observer.
func (m *Metrics) Identified(shardID int) {
	m.identifies.WithLabelValues(strconv.Itoa(shardID)).Inc()
}
