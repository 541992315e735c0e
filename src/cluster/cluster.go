// Package cluster runs this process's range of shards and fans the commands
// workers publish on gateway_commands out to them.
package cluster

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cordis-gateway/cordis/src/broker"
	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/codec"
	"github.com/cordis-gateway/cordis/src/config"
	"github.com/cordis-gateway/cordis/src/shard"
)

// Cluster is the set of shards of one gateway process.
type Cluster struct {
	shards []*shard.Shard
	first  int
	codec  codec.Codec
	log    *slog.Logger
	obs    Observer
	refuse *refusalLog
}

// warnEvery is the most often a refused-command warning is logged: a worker
// publishing garbage in a loop must not flood the log (the metric counts
// them all).
const warnEvery = 10 * time.Second

// Observer counts commands (metrics); may be nil.
type Observer interface {
	CommandForwarded(shards int)
	CommandRefused(reason string)
}

// New creates shards first..first+count-1 of total from a template config
// (whose ID and Total are filled in per shard).
func New(r config.Shards, template shard.Config, obs Observer) *Cluster {
	if obs == nil {
		obs = nopObserver{}
	}
	clk := template.Clock
	if clk == nil {
		clk = clock.Real()
	}
	c := &Cluster{first: r.First, codec: template.Codec, log: template.Logger, obs: obs,
		refuse: newRefusalLog(template.Logger, clk)}
	if template.Throttles == nil {
		// One for all the shards: their forced GCs and command drop
		// warnings must not multiply with the shard count.
		template.Throttles = shard.NewThrottles(clk, template.Logger)
	}
	for id := r.First; id < r.First+r.Count; id++ {
		cfg := template
		cfg.ID, cfg.Total = id, r.Total
		c.shards = append(c.shards, shard.New(cfg))
	}
	return c
}

// Shards returns the shards, in id order.
func (c *Cluster) Shards() []*shard.Shard { return c.shards }

// Confirmed passes the settling of a dispatch (RabbitMQ confirmed it, or
// it was dropped for good: broker.Options.OnConfirm, OnDrop) to the shard
// that published it; other shard ids are ignored.
func (c *Cluster) Confirmed(shardID int, ref int64) {
	if i := shardID - c.first; i >= 0 && i < len(c.shards) {
		c.shards[i].Confirmed(ref)
	}
}

// Replayable reports whether the dispatch shardID published with ref could be
// replayed by a restart (see shard.Shard.Replayable); false for other shard ids.
func (c *Cluster) Replayable(shardID int, ref int64) bool {
	if i := shardID - c.first; i >= 0 && i < len(c.shards) {
		return c.shards[i].Replayable(ref)
	}
	return false
}

// Run runs every shard and routes commands until ctx ends (nil) or a shard
// stops fatally (its *shard.FatalError, after the others were closed).
func (c *Cluster) Run(ctx context.Context, commands <-chan broker.Command) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		fatal error
	)
	for _, s := range c.shards {
		wg.Go(func() {
			if err := s.Run(ctx); err != nil {
				once.Do(func() { fatal = err })
				cancel()
			}
		})
	}
	wg.Go(func() { c.route(ctx, commands) })
	wg.Wait()
	return fatal
}

func (c *Cluster) route(ctx context.Context, commands <-chan broker.Command) {
	for {
		select {
		case <-ctx.Done():
			return
		case cmd, ok := <-commands:
			if !ok {
				return
			}
			c.Forward(cmd)
		}
	}
}

// Forward validates one command and queues it on every shard, or on the one
// its shard_id header names. Refused commands (DESIGN.md §3) are counted
// by reason, logged (throttled) and dropped: they never reach Discord.
func (c *Cluster) Forward(cmd broker.Command) (sent int) {
	defer func() {
		if sent > 0 {
			c.obs.CommandForwarded(sent)
		}
	}()
	if cmd.BadShardID != nil {
		c.refused(RefusedBadShardID, cmd, cmd.BadShardID)
		return 0
	}
	op, err := codec.ValidateCommand(c.codec, cmd.Body)
	if err != nil {
		c.refused(codec.RefusalReason(err), cmd, err)
		return 0
	}
	if cmd.Targeted {
		i := cmd.ShardID - c.first
		if i < 0 || i >= len(c.shards) {
			c.log.Debug("command for a shard of another cluster", slog.Int("shard_id", cmd.ShardID))
			return 0
		}
		return c.send(c.shards[i], cmd.Body, op)
	}
	for _, s := range c.shards {
		sent += c.send(s, cmd.Body, op)
	}
	return sent
}

// refused counts and logs (throttled) a command that reaches no shard.
func (c *Cluster) refused(reason string, cmd broker.Command, err error) {
	c.obs.CommandRefused(reason)
	c.refuse.refused(reason, slog.Int("bytes", len(cmd.Body)))
	c.log.Debug("why the command was refused", slog.String("reason", reason), slog.Any("error", err))
}

func (c *Cluster) send(s *shard.Shard, body []byte, op int) int {
	if s.Send(body) {
		return 1
	}
	// The shard counted the drop and warned (throttled, with the count held back).
	c.log.Debug("command queue full; command dropped", slog.Int("shard_id", s.ID()), slog.Int("op", op))
	return 0
}

type nopObserver struct{}

func (nopObserver) CommandForwarded(int)  {}
func (nopObserver) CommandRefused(string) {}
