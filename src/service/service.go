// Package service wires the gateway together in the order DESIGN.md
// prescribes: the metrics listener (when configured), RabbitMQ, then Redis,
// then the one request to Discord's REST API, then the shards; and takes it
// apart again on shutdown (§7), whose exit status (ExitLost) says when
// dispatches were lost.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cordis-gateway/cordis/src/broker"
	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/cluster"
	"github.com/cordis-gateway/cordis/src/codec"
	"github.com/cordis-gateway/cordis/src/config"
	"github.com/cordis-gateway/cordis/src/discordapi"
	"github.com/cordis-gateway/cordis/src/metrics"
	"github.com/cordis-gateway/cordis/src/shard"
	"github.com/cordis-gateway/cordis/src/state"
	"github.com/cordis-gateway/cordis/src/state/redisstate"
)

// ExitError carries the process exit status an error calls for.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Shutdown budget (DESIGN.md §7: all within 10 s of the signal), counted
// from when the shards were told to close: confirms may be waited for until
// confirmBy, sessions saved until saveBy; closing RabbitMQ then gets at most
// closeFor, and never past closeBy, leaving a margin before main's hard stop.
const (
	confirmBy = 7 * time.Second
	saveBy    = 9 * time.Second
	closeFor  = time.Second
	closeBy   = 9 * time.Second
)

// Run runs the gateway until ctx ends (nil) or something it cannot recover
// from happens. version goes into the User-Agent of the one REST request.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, version string) error {
	cd, err := codec.ForEncoding(cfg.Encoding)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	clk := clock.Real()

	// Metrics and health come up first: /healthz answers while RabbitMQ is
	// still being waited for, and confirms are counted from the start.
	var parts running
	m, err := startMetrics(ctx, cfg.MetricsAddr, &parts, log)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	opts := broker.Options{URL: cfg.AMQPURL, ContentType: cd.ContentType(), Logger: log,
		// Confirms move the stored session seq (and the published metric).
		OnConfirm: func(shardID int, event string, ref int64, latency time.Duration) {
			if m != nil {
				m.DispatchPublished(shardID, event, latency)
			}
			if cl := parts.cluster.Load(); cl != nil {
				cl.Confirmed(shardID, ref)
			}
		},
		// A dispatch RabbitMQ refused for good is settled too: replaying it
		// after a restart would only be refused again.
		OnDrop: func(shardID int, _ string, ref int64) {
			if m != nil {
				m.DispatchRefused(shardID, shard.RefusedTooLarge)
			}
			if cl := parts.cluster.Load(); cl != nil {
				cl.Confirmed(shardID, ref)
			}
		},
	}
	log.Info("connecting to RabbitMQ")
	b, err := broker.Connect(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("connect to RabbitMQ: %w", err)
	}
	brokerOpen := true
	defer func() {
		if brokerOpen { // an early return: nothing was published that needs waiting for
			_ = closeBroker(b, log, time.Now().Add(time.Second))
		}
	}()
	parts.broker.Store(b)

	var rdb *redis.Client
	if cfg.RedisURL != "" {
		// go-redis prints plain text to stderr unless told otherwise; the
		// library only offers a process-wide setting.
		redis.SetLogger(redisstate.ClientLog{Logger: log})
		rdb, err = redisstate.Connect(ctx, cfg.RedisURL)
		if err != nil {
			if ctx.Err() != nil {
				return nil // signalled while waiting for Redis
			}
			return &ExitError{Code: 2, Err: fmt.Errorf("CORDIS_REDIS_URL is set but Redis does not answer: %w", err)}
		}
		defer func() { _ = rdb.Close() }()
	}

	gb, err := discordapi.GetGatewayBot(ctx, &http.Client{Timeout: 30 * time.Second}, cfg.DiscordAPI, cfg.Token,
		discordapi.WithVersion(version), discordapi.WithLogger(log))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("GET /gateway/bot: %w", err)
	}
	shards, err := cfg.Resolve(gb.Shards)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	log.Info("starting shards", slog.Int("first", shards.First), slog.Int("count", shards.Count),
		slog.Int("total", shards.Total), slog.Int("recommended", gb.Shards),
		slog.Int("max_concurrency", gb.SessionStartLimit.MaxConcurrency),
		slog.Int("identifies_remaining", gb.SessionStartLimit.Remaining))

	stateCtx, stopState := context.WithCancel(context.WithoutCancel(ctx))
	defer stopState()
	limiter, sessions := newState(stateCtx, rdb, cfg.Token, gb.SessionStartLimit, shards, clk, log)

	var (
		observer shard.Observer
		counters cluster.Observer
	)
	if m != nil {
		observer, counters = m, m
	}

	cl := cluster.New(shards, shard.Config{
		Token:          cfg.Token,
		Codec:          cd,
		Compress:       cfg.Compress,
		GatewayURL:     gb.URL,
		Intents:        cfg.Intents,
		LargeThreshold: cfg.LargeThreshold,
		Timeouts: shard.Timeouts{
			Open:      cfg.OpenTimeout,
			Hello:     cfg.HelloTimeout,
			Ready:     cfg.ReadyTimeout,
			Guild:     cfg.GuildTimeout,
			Reconnect: cfg.ReconnectTimeout,
		},
		Identify:  limiter,
		Sessions:  sessions,
		Publisher: b,
		Clock:     clk,
		Logger:    log,
		Observer:  observer,
		Throttles: shard.NewThrottles(clk, log), // one for every shard of the process
	}, counters)

	parts.cluster.Store(cl)

	// DESIGN.md §7, after commands stopped and shards closed: wait for the
	// confirms (they move each shard's stored seq), save the sessions, then
	// close RabbitMQ.
	start, runErr := runShards(ctx, cl, b, log)
	brokerOpen = false
	withDeadline(start.Add(confirmBy), func(ctx context.Context) {
		if err := b.Drain(ctx); err != nil {
			log.Warn("waiting for RabbitMQ confirms", slog.Any("error", err))
		}
	})
	var saveErr error
	withDeadline(start.Add(saveBy), func(ctx context.Context) {
		if saveErr = sessions.Flush(ctx); saveErr != nil {
			log.Warn("could not save sessions", slog.Any("error", saveErr))
		}
	})
	stopState()
	closeErr := closeBroker(b, log, earliest(time.Now().Add(closeFor), start.Add(closeBy)))
	if runErr != nil {
		return runErr
	}
	givenUp := 0
	b.EachUnconfirmed(func(shardID int, ref int64) {
		if !cl.Replayable(shardID, ref) {
			givenUp++
		}
	})
	return lostOnShutdown(closeErr, rdb != nil, saveErr, givenUp)
}

// ExitLost is the exit status of a shutdown that left dispatches
// unconfirmed by RabbitMQ with nothing able to replay them.
const ExitLost = 3

// lostOnShutdown turns a shutdown that left dispatches unconfirmed into an
// exit status, unless a restart can still get them back: with Redis the
// stored seq is the last confirmed one, so the next start resumes from there
// and Discord replays the rest. Without Redis (or when saving the sessions
// failed) they are gone, and a clean exit status would hide it; so are the
// givenUp ones of sessions the shards had given up before (op 9, a failed
// resume), which no restart resumes.
func lostOnShutdown(closeErr error, redisSessions bool, saveErr error, givenUp int) error {
	var unconfirmed *broker.UnconfirmedError
	if !errors.As(closeErr, &unconfirmed) {
		return nil
	}
	var why string
	switch {
	case !redisSessions:
		why = "without CORDIS_REDIS_URL no session survives to replay them"
	case saveErr != nil:
		why = "the sessions that could replay them were not saved to Redis"
	case givenUp > 0:
		return &ExitError{Code: ExitLost, Err: fmt.Errorf("shutdown lost %d dispatches RabbitMQ never confirmed (of %d unconfirmed, %d bytes): "+
			"they belong to sessions given up before the shutdown (invalid session, failed resume), which no restart resumes",
			givenUp, unconfirmed.Messages, unconfirmed.Bytes)}
	default:
		return nil // the restart resumes from the last confirmed seq
	}
	return &ExitError{Code: ExitLost, Err: fmt.Errorf("shutdown lost %d dispatches (%d bytes) RabbitMQ never confirmed: %s",
		unconfirmed.Messages, unconfirmed.Bytes, why)}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// withDeadline runs f with a context that ends at deadline.
func withDeadline(deadline time.Time, f func(ctx context.Context)) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	f(ctx)
}

// startMetrics serves /metrics, /healthz and /readyz on addr (when set)
// before anything else starts, so health answers while RabbitMQ is awaited.
func startMetrics(ctx context.Context, addr string, parts *running, log *slog.Logger) (*metrics.Metrics, error) {
	if addr == "" {
		return nil, nil
	}
	m := metrics.New(parts.buffered)
	srvErr, err := metrics.Serve(ctx, addr, m.Handler(parts.ready))
	if err != nil {
		return nil, err
	}
	go func() {
		if err := <-srvErr; err != nil {
			log.Error("metrics server stopped", slog.Any("error", err))
		}
	}()
	log.Info("serving /metrics, /healthz and /readyz", slog.String("addr", addr))
	return m, nil
}

// newState picks the identify limiter and session store (§6): Redis-backed
// when configured (with its flush loop running until ctx ends), in memory
// otherwise.
func newState(ctx context.Context, rdb *redis.Client, token config.Secret, sl discordapi.SessionStartLimit,
	shards config.Shards, clk clock.Clock, log *slog.Logger) (state.IdentifyLimiter, state.SessionStore) {
	limit := state.StartLimit{
		Total:          sl.Total,
		Remaining:      sl.Remaining,
		ResetAfter:     sl.ResetAfter,
		MaxConcurrency: sl.MaxConcurrency,
	}
	if rdb == nil {
		return state.NewLocalLimiter(clk, limit), state.NewMemorySessions()
	}
	botID := redisstate.BotID(token.Reveal())
	sessions := redisstate.NewSessions(rdb, botID, shards.First, shards.Count, clk, log)
	go sessions.Run(ctx)
	return redisstate.NewLimiter(rdb, botID, limit, clk, log), sessions
}

// runShards runs the cluster until ctx ends or a shard stops fatally. On
// shutdown (§7) it stops consuming commands first, then closes the shards.
// It returns when the shutdown began: the rest of it is timed from there.
func runShards(ctx context.Context, cl *cluster.Cluster, b *broker.Broker, log *slog.Logger) (time.Time, error) {
	shardCtx, stopShards := context.WithCancel(context.WithoutCancel(ctx))
	defer stopShards()
	var stopping atomic.Int64 // unix nanos when the shards were told to close
	go func() {
		select {
		case <-ctx.Done():
			stopping.Store(time.Now().UnixNano())
			log.Info("shutting down: no more commands, closing shards")
			b.StopConsuming()
			stopShards()
		case <-shardCtx.Done():
		}
	}()
	err := cl.Run(shardCtx, b.Commands())
	stopShards()
	if at := stopping.Load(); at != 0 {
		return time.Unix(0, at), err
	}
	return time.Now(), err
}

// running gives the health endpoints a race-free view of the parts that
// exist so far.
type running struct {
	broker  atomic.Pointer[broker.Broker]
	cluster atomic.Pointer[cluster.Cluster]
}

func (r *running) ready() bool {
	b, c := r.broker.Load(), r.cluster.Load()
	return b != nil && c != nil && readyToServe(b.Up(), shardStates(c.Shards()))
}

func (r *running) buffered() float64 {
	if b := r.broker.Load(); b != nil {
		return float64(b.Buffered())
	}
	return 0
}

// closeBroker waits (until deadline) for every dispatch to be confirmed,
// then closes the AMQP connection. The error says what was left unconfirmed.
func closeBroker(b *broker.Broker, log *slog.Logger, deadline time.Time) (err error) {
	withDeadline(deadline, func(ctx context.Context) {
		if err = b.Close(ctx); err != nil {
			log.Warn("closing RabbitMQ", slog.Any("error", err))
		}
	})
	return err
}
