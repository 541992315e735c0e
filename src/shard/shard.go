// Package shard runs one Discord gateway shard: it keeps a websocket
// session alive (HELLO, heartbeats, IDENTIFY/RESUME, reconnects), hands
// every dispatch to the publisher byte for byte (refusing, once and loudly,
// one no routing key can carry), and sends the commands workers give it
// within Discord's send limit.
package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/cordis-gateway/cordis/src/backoff"
	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/codec"
	"github.com/cordis-gateway/cordis/src/config"
	"github.com/cordis-gateway/cordis/src/state"
	"github.com/cordis-gateway/cordis/src/throttle"
)

// Publisher takes dispatches off the shard. Publish may block: that is the
// back-pressure that stops the shard reading when the broker cannot keep up.
// It must copy body, which is reused once Publish returns. Once the
// dispatch is safely stored, ref must come back to Shard.Confirmed.
type Publisher interface {
	Publish(ctx context.Context, shardID int, ref int64, routingKey, body []byte) error
}

// Timeouts of one connection (DESIGN.md §2).
type Timeouts struct {
	Open      time.Duration // dial + websocket handshake
	Hello     time.Duration // open -> HELLO
	Ready     time.Duration // IDENTIFY sent -> READY
	Guild     time.Duration // READY -> initial GUILD_CREATEs (readiness only)
	Reconnect time.Duration // RESUME sent -> RESUMED
}

// Config is everything one shard needs. All fields are required except
// Dialer, Rand, Observer and Throttles.
type Config struct {
	ID, Total      int
	Token          config.Secret
	Codec          codec.Codec
	Compress       string // inflate mode: "", "zlib-stream", "zstd-stream"
	GatewayURL     string // the url from GET /gateway/bot
	Intents        int64
	LargeThreshold int
	Timeouts       Timeouts

	Identify  state.IdentifyLimiter
	Sessions  state.SessionStore
	Publisher Publisher
	Clock     clock.Clock
	Logger    *slog.Logger

	Dialer   *websocket.Dialer
	Rand     func() float64 // [0,1), for jitter; math/rand/v2 by default
	Observer Observer       // metrics hooks; may be nil
	// Throttles must be one value shared by all the shards of a process
	// (see Throttles); nil gives this shard throttles of its own.
	Throttles *Throttles
}

// Observer receives what metrics are made of. Methods are called from the
// shard's goroutines and must not block.
type Observer interface {
	// DispatchReceived counts a dispatch handed to the publisher; one
	// refused is counted by DispatchRefused only, so no name a peer
	// invents past the routing key bound becomes a label.
	DispatchReceived(shardID int, event []byte)
	StateChanged(shardID int, s State)
	HeartbeatAcked(shardID int, latency time.Duration)
	Reconnecting(shardID int, a Action)
	Identified(shardID int)
	// DispatchRefused counts a dispatch that can never be published
	// (reason: one of the Refused* constants).
	DispatchRefused(shardID int, reason string)
}

// CommandQueueSize bounds the commands waiting for a shard (while it is
// reconnecting or rate limited): one send window's worth. Beyond it, or
// older than maxCommandAge, commands are dropped, counted and logged.
const CommandQueueSize = sendLimit

// maxBackoff caps the wait between failed connection attempts.
const maxBackoff = 60 * time.Second

// stableAfter is how long a session must have lasted for its end to count
// as normal: one that ends sooner (a dispatch that can never be published,
// Discord closing again and again) backs off like a failed attempt instead
// of reconnecting in a tight loop.
const stableAfter = 30 * time.Second

// maxResumeAttempts is how many resume attempts in a row may fail (dial
// errors, closes before RESUMED) before the session is given up and the
// shard identifies on the main url: a resume url that stays unreachable
// must not keep a shard offline.
const maxResumeAttempts = 3

// Shard is one gateway shard. Create with New, drive with Run.
type Shard struct {
	cfg  Config
	log  *slog.Logger
	cmds *commandQueue
	// payloadDrops throttles the warnings about payloads dropped on this
	// shard, by reason (command drops: cfg.Throttles).
	payloadDrops map[string]*throttle.Limiter
	state        atomic.Int32

	// session is what RESUME needs. Written by the Run goroutine only;
	// seq (the last dispatch handed to the publisher) is also read by the
	// writer for heartbeats. Only the seq confirms settled is stored, so a
	// restart never resumes past an event RabbitMQ did not take.
	mu       sync.Mutex
	session  state.Session
	seq      atomic.Int64
	hasSeq   atomic.Bool
	confirms confirmWindow
	storeSeq func(seq int64) // hands a settled seq to the session store (UpdateSeq: no I/O)

	refusedWarn *throttle.Limiter // spaces the warnings about refused dispatches

	// pending is a command taken from cmds but not yet sent; it survives
	// reconnects. Only the current connection's writer touches it.
	pending queuedCommand
}

// New returns a shard ready to Run.
func New(cfg Config) *Shard {
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Throttles == nil {
		cfg.Throttles = NewThrottles(cfg.Clock, cfg.Logger)
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &websocket.Dialer{
			HandshakeTimeout: cfg.Timeouts.Open,
			ReadBufferSize:   readBufferSize,
			WriteBufferSize:  writeBufferSize,
			WriteBufferPool:  &writeBuffers,
		}
	}
	s := &Shard{
		cfg:  cfg,
		log:  cfg.Logger.With(slog.Int("shard_id", cfg.ID)),
		cmds: newCommandQueue(),
	}
	s.payloadDrops = newPayloadDropThrottles(cfg.Clock, s.log)
	s.storeSeq = func(seq int64) { cfg.Sessions.UpdateSeq(cfg.ID, seq) }
	s.refusedWarn = throttle.New(cfg.Clock, refusedWarnEvery)
	// Dispatches that can never be published are refused before the
	// publisher sees them (refused.go).
	s.cfg.Publisher = &guardedPublisher{s: s, next: cfg.Publisher}
	s.setState(Disconnected)
	return s
}

// ID is the shard id.
func (s *Shard) ID() int { return s.cfg.ID }

// State is the shard's current state.
func (s *Shard) State() State { return State(s.state.Load()) }

func (s *Shard) setState(st State) {
	if State(s.state.Swap(int32(st))) != st {
		s.cfg.Observer.StateChanged(s.cfg.ID, st)
	}
}

// Send queues a validated command for Discord. It never blocks: when the
// queue is full the command is dropped (counted, logged) and false returned.
func (s *Shard) Send(payload []byte) bool { return s.enqueue(payload) }

// Run keeps the shard connected until ctx ends (returning nil) or Discord
// closes it with a fatal code (returning *FatalError).
func (s *Shard) Run(ctx context.Context) error {
	s.restoreSession(ctx)

	failures, resumeFailures := 0, 0
	for {
		resume := s.resumable()
		s.setState(Connecting)
		began := s.cfg.Clock.Now()
		res := s.connect(ctx, resume)
		if ctx.Err() != nil {
			return s.stop(ctx)
		}
		if res.fatal != nil {
			s.setState(Stopped)
			return res.fatal
		}
		if res.established && s.cfg.Clock.Now().Sub(began) >= stableAfter {
			failures = 0
		} else {
			failures++
		}
		if resume && !res.established {
			resumeFailures++
		} else {
			resumeFailures = 0
		}
		if res.action == Resume && resumeFailures >= maxResumeAttempts {
			s.log.Warn("resume keeps failing; identifying on the main url", slog.Int("attempts", resumeFailures))
			res.action = Reidentify
			resumeFailures = 0
		}
		if res.action == Reidentify {
			s.dropSession(ctx)
		}
		s.cfg.Observer.Reconnecting(s.cfg.ID, res.action)
		wait := res.wait
		if failures > 0 {
			wait = max(wait, s.backoff(failures))
		}
		s.log.Info("connection ended", slog.String("reason", errString(res.err)),
			slog.String("next", res.action.String()), slog.Duration("wait", wait))
		s.setState(Disconnected)
		if err := clock.Sleep(ctx, s.cfg.Clock, wait); err != nil {
			return s.stop(ctx)
		}
	}
}

// stop ends Run on shutdown, keeping the session for the next start.
func (s *Shard) stop(ctx context.Context) error {
	s.saveSession(context.WithoutCancel(ctx))
	s.setState(Disconnected)
	return nil
}

// backoff is jittered exponential: 1-2 s, 2-4 s, 4-8 s ... capped at maxBackoff.
func (s *Shard) backoff(failures int) time.Duration {
	return backoff.Delay(time.Second, maxBackoff, failures-1, s.cfg.Rand())
}

func (s *Shard) restoreSession(ctx context.Context) {
	sess, ok, err := s.cfg.Sessions.Load(ctx, s.cfg.ID)
	if err != nil {
		s.log.Warn("could not load stored session; identifying", slog.Any("error", err))
		return
	}
	if !ok {
		return
	}
	if sess.ShardTotal != s.cfg.Total || sess.ID == "" || sess.ResumeURL == "" {
		s.log.Info("stored session is for another shard layout; identifying",
			slog.Int("stored_shard_total", sess.ShardTotal), slog.Int("shard_total", s.cfg.Total))
		return
	}
	s.mu.Lock()
	s.session = sess
	s.mu.Unlock()
	s.seq.Store(sess.Seq)
	s.hasSeq.Store(true)
	s.confirms.start(sess.Seq)
	s.log.Info("restored session; will resume", slog.Int64("seq", sess.Seq))
}

func (s *Shard) resumable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.session.ID != ""
}

func (s *Shard) currentSession() state.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.session
	sess.Seq = s.seq.Load()
	return sess
}

// established records a new session (READY) or confirms the current one
// (RESUMED) and stores it.
func (s *Shard) established(ctx context.Context, r *codec.Ready) {
	s.mu.Lock()
	if r != nil {
		s.session = state.Session{ID: r.SessionID, ResumeURL: r.ResumeURL, ShardTotal: s.cfg.Total}
		s.seq.Store(0) // READY's own s is recorded once it is handed over
		s.hasSeq.Store(false)
		s.newGeneration()
	}
	s.mu.Unlock()
	s.saveSession(ctx)
}

func (s *Shard) saveSession(ctx context.Context) {
	sess := s.currentSession()
	sess.Seq = s.confirms.settled()
	if sess.ID == "" {
		return
	}
	if err := s.cfg.Sessions.Save(ctx, s.cfg.ID, sess); err != nil {
		s.log.Warn("could not store session", slog.Any("error", err))
	}
}

func (s *Shard) dropSession(ctx context.Context) {
	s.mu.Lock()
	s.session = state.Session{}
	s.newGeneration()
	s.mu.Unlock()
	s.seq.Store(0)
	s.hasSeq.Store(false)
	if err := s.cfg.Sessions.Delete(ctx, s.cfg.ID); err != nil {
		s.log.Warn("could not delete stored session", slog.Any("error", err))
	}
}

// newGeneration starts a session generation: confirms of dispatches
// published before no longer count.
func (s *Shard) newGeneration() { s.confirms.start(0) }

// Confirmed records that the dispatch published with ref is settled:
// RabbitMQ confirmed it, or it was dropped for good. The sequence the
// session store keeps for a restart advances only here, and only past
// dispatches that are all settled. Safe for concurrent use.
func (s *Shard) Confirmed(ref int64) {
	s.confirms.settle(ref, s.storeSeq)
}

// Replayable reports whether a restart can get the dispatch published with ref back
// from Discord, were it lost: it belongs to the session this shard keeps (and stores
// with its confirmed seq, from which a resume replays), not to one given up before
// (op 9, a failed resume). A ref of -1 (untracked: a replayed repeat) counts as
// replayable, since its first copy is tracked. Safe for concurrent use.
func (s *Shard) Replayable(ref int64) bool {
	if ref < 0 {
		return true
	}
	s.mu.Lock()
	kept := s.session.ID != ""
	s.mu.Unlock()
	return kept && s.confirms.current(ref)
}

// gatewayURL builds the connection URL, keeping v, encoding and compress on
// resume_gateway_url too (DESIGN.md §4).
func (s *Shard) gatewayURL(resume bool) (string, error) {
	base := s.cfg.GatewayURL
	if resume {
		base = s.currentSession().ResumeURL
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parse gateway url: %w", err)
	}
	// In Discord's documented order (url.Values would sort the keys).
	q := "v=10&encoding=" + url.QueryEscape(s.cfg.Codec.Name())
	if s.cfg.Compress != "" {
		q += "&compress=" + url.QueryEscape(s.cfg.Compress)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawQuery = q
	return u.String(), nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("closed by Discord with %d %q", ce.Code, ce.Text)
	}
	return err.Error()
}

type nopObserver struct{}

func (nopObserver) DispatchReceived(int, []byte)      {}
func (nopObserver) StateChanged(int, State)           {}
func (nopObserver) HeartbeatAcked(int, time.Duration) {}
func (nopObserver) Reconnecting(int, Action)          {}
func (nopObserver) Identified(int)                    {}
func (nopObserver) DispatchRefused(int, string)       {}
