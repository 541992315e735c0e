package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cordis-gateway/cordis/src/shard"
)

// dropCounters count what a shard drops: payloads from Discord over the
// size bounds and commands that will never reach Discord.
type dropCounters struct {
	payloads *prometheus.CounterVec
	commands *prometheus.CounterVec
}

func (m *Metrics) registerDrops() {
	m.drops = dropCounters{
		payloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cordis_gateway_payloads_dropped_total",
			Help: "Payloads from Discord dropped by shard and reason (frame_too_large, inflated_too_large).",
		}, []string{"shard_id", "reason"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cordis_gateway_commands_dropped_total",
			Help: "Valid commands dropped before reaching Discord, by shard and reason (queue_full, expired).",
		}, []string{"shard_id", "reason"}),
	}
	m.Registry.MustRegister(m.drops.payloads, m.drops.commands)
}

var _ shard.DropObserver = (*Metrics)(nil)

// PayloadDropped implements shard.DropObserver.
func (m *Metrics) PayloadDropped(shardID int, reason string) {
	m.drops.payloads.WithLabelValues(strconv.Itoa(shardID), reason).Inc()
}

// CommandDropped implements shard.DropObserver.
func (m *Metrics) CommandDropped(shardID int, reason string) {
	m.drops.commands.WithLabelValues(strconv.Itoa(shardID), reason).Inc()
}
