package shard

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/codec"
)

// writeTimeout bounds one websocket write; a peer that does not read for
// this long is as good as gone.
const writeTimeout = 10 * time.Second

// writeLoop is the only goroutine writing data frames: heartbeats (first
// after interval*rand, then every interval), IDENTIFY/RESUME, heartbeats
// Discord asks for (op 1, coalesced), and commands once the session is
// established, all within the send limit (see sendLimiter).
func (c *connection) writeLoop(interval time.Duration) {
	s := c.s
	clk := s.cfg.Clock
	lim := newSendLimiter(interval, clk.Now())
	hb := clk.NewTimer(time.Duration(s.cfg.Rand() * float64(interval)))
	defer hb.Stop()
	var (
		beatSent bool
		beatOwed bool // op 1 asked for a heartbeat not sent yet
		cmdWait  clock.Timer
		waitC    <-chan time.Time
		beatWait clock.Timer
		beatC    <-chan time.Time
		est      = c.established // nil once seen: a closed channel is always ready
	)
	defer func() {
		for _, t := range []clock.Timer{cmdWait, beatWait} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	for {
		var cmds <-chan struct{}
		if s.pending.body == nil && c.isEst.Load() {
			cmds = s.cmds.ready
		}
		select {
		case <-c.ctx.Done():
			return
		case <-hb.C():
			// A reader held up by back-pressure has not read the ACK yet:
			// that is no zombie, and closing would only lose the session.
			if beatSent && !c.acked.Load() && !c.stalledSince(clk.Now().Add(-interval)) {
				c.fail(errZombie)
				return
			}
			c.acked.Store(false)
			if !c.heartbeat(lim, false) {
				return
			}
			beatSent = true
			beatOwed = false // this beat answers any op 1 still waiting
			hb.Reset(interval)
		case <-c.beatNow:
			beatOwed = true
		case p := <-c.priority:
			if !c.write(p, lim) {
				return
			}
		case <-cmds:
			if q, ok := s.cmds.pop(); ok {
				s.pending = q
			}
		case <-est:
			est = nil // commands may flow now
		case <-waitC:
			cmdWait, waitC = nil, nil
		case <-beatC:
			beatWait, beatC = nil, nil
		}
		if beatOwed && beatC == nil {
			if w := lim.waitBeat(clk.Now()); w > 0 {
				beatWait = clk.NewTimer(w)
				beatC = beatWait.C()
				s.log.Debug("requested heartbeat delayed by the send limit", slog.Duration("wait", w))
			} else {
				if !c.heartbeat(lim, true) {
					return
				}
				beatOwed = false
			}
		}
		if s.pending.body != nil && waitC == nil && c.isEst.Load() {
			now := clk.Now()
			if age := now.Sub(s.pending.at); age > maxCommandAge {
				s.commandDropped(dropExpired, age)
				s.pending = queuedCommand{}
				continue
			}
			if w := lim.wait(now); w > 0 {
				cmdWait = clk.NewTimer(w)
				waitC = cmdWait.C()
				s.log.Debug("command delayed by the send limit", slog.Duration("wait", w))
				continue
			}
			if !c.write(s.pending.body, lim) {
				return
			}
			s.pending = queuedCommand{}
		}
	}
}

// heartbeat sends op 1 with the last seq; requested marks one Discord
// asked for (op 1), which counts against its own share of the limit.
func (c *connection) heartbeat(lim *sendLimiter, requested bool) bool {
	s := c.s
	p := s.cfg.Codec.AppendHeartbeat(c.hbBuf[:0], s.seq.Load(), s.hasSeq.Load())
	c.hbBuf = p
	now := s.cfg.Clock.Now()
	c.beatSentAt.Store(now.UnixNano())
	if requested {
		lim.recordBeat(now)
		return c.send(p)
	}
	return c.write(p, lim)
}

// write sends one payload and records it against the send limit. A failed
// write ends the connection.
func (c *connection) write(p []byte, lim *sendLimiter) bool {
	lim.record(c.s.cfg.Clock.Now())
	return c.send(p)
}

// send writes one data frame; the caller has recorded it.
func (c *connection) send(p []byte) bool {
	mt := websocket.TextMessage
	if c.s.cfg.Codec.Binary() {
		mt = websocket.BinaryMessage
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.ws.WriteMessage(mt, p); err != nil {
		c.fail(fmt.Errorf("write: %w", err))
		return false
	}
	return true
}

// handshake identifies (after the identify limiter allows it) or resumes,
// then enforces the READY / RESUMED timeout, then the guild timeout.
func (c *connection) handshake(resume bool) {
	s := c.s
	var (
		payload []byte
		timeout time.Duration
		expired error
	)
	if resume {
		s.setState(Resuming)
		sess := s.currentSession()
		payload = s.cfg.Codec.AppendResume(nil, codec.Resume{Token: s.cfg.Token.Reveal(), SessionID: sess.ID, Seq: sess.Seq})
		timeout, expired = s.cfg.Timeouts.Reconnect, errResumeTimeout
	} else {
		s.setState(Identifying)
		if err := s.cfg.Identify.Acquire(c.ctx, s.cfg.ID); err != nil {
			return // the connection ended while waiting
		}
		payload = s.cfg.Codec.AppendIdentify(nil, codec.Identify{
			Token:          s.cfg.Token.Reveal(),
			OS:             runtime.GOOS,
			Browser:        "cordis",
			Device:         "cordis",
			LargeThreshold: s.cfg.LargeThreshold,
			ShardID:        s.cfg.ID,
			ShardTotal:     s.cfg.Total,
			Intents:        s.cfg.Intents,
		})
		timeout, expired = s.cfg.Timeouts.Ready, errReadyTimeout
		s.cfg.Observer.Identified(s.cfg.ID)
	}
	select {
	case c.priority <- payload:
	case <-c.ctx.Done():
		return
	}
	s.log.Debug("handshake sent", slog.Bool("resume", resume))
	if !c.within(timeout, c.established) {
		if c.ctx.Err() == nil {
			c.fail(expired)
		}
		return
	}
	if !c.within(s.cfg.Timeouts.Guild, c.guildsDone) && c.ctx.Err() == nil {
		s.log.Info("guilds still loading after CORDIS_WS_GUILD_TIMEOUT; counting shard as ready")
		c.guildsLoaded()
	}
}

// within waits for done for at most d; false if d passed or the connection
// ended. Time the reader spends held up by back-pressure does not count:
// READY or RESUMED may be waiting behind dispatches it cannot hand over yet.
func (c *connection) within(d time.Duration, done <-chan struct{}) bool {
	clk := c.s.cfg.Clock
	t := clk.NewTimer(d)
	defer t.Stop()
	for {
		start := clk.Now()
		select {
		case <-done:
			return true
		case <-t.C():
			if !c.stalledSince(start) {
				return false
			}
			t.Reset(d)
		case <-c.ctx.Done():
			return false
		}
	}
}
