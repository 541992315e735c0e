package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/cordis-gateway/cordis/src/codec"
	"github.com/cordis-gateway/cordis/src/freelist"
	"github.com/cordis-gateway/cordis/src/inflate"
)

// maxFrame bounds the bytes kept of one websocket message: the payload
// bound itself (a compressed message is much smaller than its payload). The
// bytes of a larger message are read and discarded, never buffered; an
// uncompressed one is dropped like a payload over the bound, a compressed
// one ends the connection (its stream cannot be decoded without it).
const maxFrame = inflate.MaxPayload

// maxMessageSize is the websocket library's own limit, a backstop far past
// maxFrame: what lies between is streamed to nothing, so it costs time, not
// memory.
const maxMessageSize = 1 << 30

// retainBuffer is the largest message buffer kept between messages: one
// grown by a rare large message is released before the next read.
const retainBuffer = 32 << 10

// Buffer sizes of a connection. The read buffer is the one the websocket
// library keeps per connection for its whole life: under load one read(2)
// fills it with many compressed messages (a few hundred bytes each), so a
// smaller one would cost read syscalls per event. The write buffer and the
// message buffer are only held while in use: a connection writes a few
// heartbeats a minute, and waits for its next message most of the time, so
// 1,000 shards share a handful of each.
const (
	readBufferSize  = 8 << 10
	writeBufferSize = 4 << 10
	msgBufferSize   = 8 << 10
)

// writeBuffers are the websocket write buffers of all connections
// (websocket.Dialer.WriteBufferPool): a buffer is taken for one message
// and given back when it is written.
var writeBuffers sync.Pool

// msgBuffers are the message buffers (connection.buf) of all connections,
// held from a message's first byte until its payload is handled. Only
// buffers of at most retainBuffer come back, and only as many as a few
// readers at work need (see freelist).
var msgBuffers = freelist.New[[]byte](freelist.PerCPU())

// closeCode is what we close with: anything but 1000/1001 keeps the session
// resumable (DESIGN.md §4, §7).
const closeCode = 4000

// connResult tells Run what happened to one connection and what to do next.
type connResult struct {
	established bool          // READY or RESUMED was received
	action      Action        // what to do next
	wait        time.Duration // minimum wait before the next attempt
	fatal       *FatalError
	err         error // why the connection ended
}

// connection is one websocket connection of a shard. Three goroutines share
// it: the reader (the caller of run), the writer (the only one that writes
// data frames) and the handshake (identify or resume, then its timeouts,
// ending once the guilds arrived); when the connection's context ends, a
// fourth (context.AfterFunc) closes the socket. run returns only after all
// of them have.
type connection struct {
	s     *Shard
	ws    *websocket.Conn
	dec   inflate.Decompressor
	buf   []byte  // websocket message buffer (from msgBuffers while bufp is set)
	bufp  *[]byte // buf's pool handle
	hbBuf []byte  // heartbeat payload buffer (writer only)

	ctx    context.Context
	cancel context.CancelFunc

	priority    chan []byte   // IDENTIFY / RESUME
	beatNow     chan struct{} // op 1 from Discord
	acked       atomic.Bool   // an ACK arrived since the last heartbeat
	beatSentAt  atomic.Int64  // unix nanos of the last heartbeat (latency)
	isEst       atomic.Bool
	established chan struct{} // closed on READY / RESUMED
	guildsDone  chan struct{} // closed when READY's guilds all arrived
	guildsOnce  sync.Once
	guildsLeft  int // reader only

	// Back-pressure accounting: the reader is inside Publish, and when a
	// Publish last took longer than stallThreshold (unix nanos). A long
	// decompression, and a large message still arriving, count the same:
	// the ACK is only queued behind them.
	publishing atomic.Bool
	decoding   atomic.Bool
	stalledAt  atomic.Int64
	progress   func() // noteProgress, made once

	failOnce sync.Once
	reason   error
}

// stallThreshold is how long a Publish may take before the reader counts as
// held up by back-pressure (a free broker buffer answers in microseconds).
const stallThreshold = 20 * time.Millisecond

// stalledSince reports whether the reader was held up in Publish at any time
// after t, so timers do not mistake back-pressure for a dead connection.
func (c *connection) stalledSince(t time.Time) bool {
	return c.publishing.Load() || c.decoding.Load() || c.stalledAt.Load() > t.UnixNano()
}

// noteProgress records that the reader is busy with a large message whose
// bytes are still arriving: the peer is alive, its ACK just waits behind.
func (c *connection) noteProgress() { c.stalledAt.Store(c.s.cfg.Clock.Now().UnixNano()) }

// publish hands a dispatch to the publisher, noting back-pressure.
func (c *connection) publish(f *codec.Frame, payload []byte) error {
	clk := c.s.cfg.Clock
	start := clk.Now()
	ref := c.s.confirms.handOver(f.Seq, f.HasSeq)
	c.publishing.Store(true)
	err := c.s.cfg.Publisher.Publish(c.ctx, c.s.cfg.ID, ref, f.T, payload)
	c.publishing.Store(false)
	if err != nil {
		c.s.confirms.withdraw(ref)
	}
	if end := clk.Now(); end.Sub(start) > stallThreshold {
		c.stalledAt.Store(end.UnixNano())
	}
	return err
}

func (s *Shard) connect(ctx context.Context, resume bool) connResult {
	u, err := s.gatewayURL(resume)
	if err != nil {
		return connResult{action: Reidentify, err: err}
	}
	dialCtx, cancel := context.WithTimeout(ctx, s.cfg.Timeouts.Open)
	ws, err := dial(dialCtx, s.cfg.Dialer, u)
	cancel()
	if err != nil {
		return connResult{action: Resume, err: fmt.Errorf("dial %s: %w", u, err)}
	}
	s.log.Debug("connected", slog.String("url", u), slog.Bool("resume", resume))
	ws.SetReadLimit(maxMessageSize)
	dec, err := inflate.New(s.cfg.Compress)
	if err != nil {
		_ = ws.Close()
		return connResult{action: Fatal, fatal: &FatalError{ShardID: s.cfg.ID, Reason: err.Error()}, err: err}
	}
	defer func() { _ = dec.Close() }()
	c := &connection{
		s:           s,
		ws:          ws,
		dec:         dec,
		priority:    make(chan []byte, 1),
		beatNow:     make(chan struct{}, 1),
		established: make(chan struct{}),
		guildsDone:  make(chan struct{}),
	}
	c.progress = c.noteProgress
	c.acked.Store(true)
	return c.run(ctx, resume)
}

// dial opens the websocket. The library honours ctx while connecting but
// reads the handshake answer under a plain deadline, so a server that
// accepts and never answers would hold shutdown for the whole open timeout:
// here the socket is closed the moment ctx ends, until the dial returns.
func dial(ctx context.Context, base *websocket.Dialer, u string) (*websocket.Conn, error) {
	d := *base // a copy per dial: shards share the configured one
	next := base.NetDialContext
	if next == nil {
		if base.NetDial != nil {
			next = func(_ context.Context, network, addr string) (net.Conn, error) { return base.NetDial(network, addr) }
		} else {
			next = (&net.Dialer{}).DialContext
		}
	}
	var (
		mu       sync.Mutex
		stopWait []func() bool
	)
	d.NetDialContext = func(dctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := next(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		stopWait = append(stopWait, context.AfterFunc(ctx, func() { _ = nc.Close() }))
		mu.Unlock()
		return nc, nil
	}
	ws, resp, err := d.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close() // the handshake response; the websocket is ws
	}
	mu.Lock()
	closed := false
	for _, stop := range stopWait {
		closed = !stop() || closed
	}
	mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, err
	}
	if closed { // ctx ended just as the handshake completed
		_ = ws.Close()
		return nil, ctx.Err()
	}
	return ws, nil
}

func (c *connection) run(parent context.Context, resume bool) connResult {
	c.ctx, c.cancel = context.WithCancel(parent)
	defer c.cancel()
	var wg sync.WaitGroup
	// The closer: no goroutine of its own while the connection lives.
	wg.Add(1)
	context.AfterFunc(c.ctx, func() {
		defer wg.Done()
		c.closeSocket()
	})

	interval, err := c.awaitHello()
	if err != nil {
		c.fail(err)
	} else {
		wg.Go(func() { c.writeLoop(interval) })
		wg.Go(func() { c.handshake(resume) })
		c.fail(c.readLoop())
	}
	c.cancel()
	wg.Wait()
	return c.result(parent)
}

// fail records why the connection ends (the first reason wins) and ends it.
func (c *connection) fail(err error) {
	c.failOnce.Do(func() {
		c.reason = err
		c.cancel()
	})
}

func (c *connection) closeSocket() {
	msg := websocket.FormatCloseMessage(closeCode, "")
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	_ = c.ws.Close()
}

func (c *connection) result(parent context.Context) connResult {
	res := connResult{established: c.isEst.Load(), action: Resume, err: c.reason}
	if parent.Err() != nil {
		res.err = errShutdown
		return res
	}
	var ce *websocket.CloseError
	switch {
	case errors.As(c.reason, &ce):
		res.action = ClassifyClose(ce.Code)
		if res.action == Fatal {
			res.fatal = &FatalError{ShardID: c.s.cfg.ID, Code: ce.Code, Reason: ce.Text}
		}
	case errors.Is(c.reason, errInvalidSession):
		// Discord: wait 1-5 s at random before identifying again.
		res.action = Reidentify
		res.wait = time.Second + time.Duration(c.s.cfg.Rand()*float64(4*time.Second))
	case errors.Is(c.reason, errResumeTimeout), errors.Is(c.reason, errReadyTimeout):
		res.action = Reidentify
	}
	return res
}

// awaitHello reads the first payload, which must be HELLO.
func (c *connection) awaitHello() (time.Duration, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.Timeouts.Hello))
	payload, err := c.readPayload()
	if err != nil {
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, errHelloTimeout
		}
		return 0, err
	}
	_ = c.ws.SetReadDeadline(time.Time{})
	var f codec.Frame
	if err := c.s.cfg.Codec.Scan(payload, &f); err != nil {
		return 0, fmt.Errorf("decode HELLO: %w", err)
	}
	if f.Op != codec.OpHello {
		return 0, fmt.Errorf("%w (op %d)", errUnexpectedHello, f.Op)
	}
	interval, err := c.s.cfg.Codec.HelloInterval(f.D)
	if err != nil {
		return 0, fmt.Errorf("decode HELLO: %w", err)
	}
	if interval <= 0 {
		return 0, fmt.Errorf("decode HELLO: heartbeat_interval %v is not positive", interval)
	}
	return interval, nil
}

// readPayload reads websocket messages until the decompressor has a whole
// payload. The result is valid until the next call. A payload over the
// bounds is dropped (counted and logged) and reading goes on: Discord would
// replay it on a resume, so ending the connection could never get past it.
func (c *connection) readPayload() ([]byte, error) {
	// The last payload was handled: what a large one grew is let go before
	// the wait for the next message, not held while the shard idles.
	c.dec.Release()
	c.releaseBuf()
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			return nil, err
		}
		if c.buf == nil {
			c.takeBuf()
		}
		var size int64
		c.buf, size, err = readInto(c.buf[:0], r, maxFrame, c.progress)
		if err != nil {
			return nil, fmt.Errorf("read message: %w", err)
		}
		if size > maxFrame {
			if c.s.cfg.Compress != inflate.None {
				return nil, fmt.Errorf("read message: compressed message of %d bytes is over the %d MiB bound", size, maxFrame>>20)
			}
			c.buf, c.bufp = nil, nil // grown to the bound for nothing: let it go now
			c.s.payloadDropped(dropFrameTooLarge, size, maxFrame)
			continue
		}
		payload, complete, err := c.decompress()
		var tl *inflate.TooLargeError
		if errors.As(err, &tl) {
			c.s.payloadDropped(dropInflatedTooLarge, tl.Size, tl.Limit)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		if complete {
			return payload, nil
		}
	}
}

// takeBuf takes a message buffer from msgBuffers for the message arriving.
func (c *connection) takeBuf() {
	c.bufp = msgBuffers.Get()
	if c.bufp == nil {
		b := make([]byte, 0, msgBufferSize)
		c.bufp = &b
	}
	c.buf = (*c.bufp)[:0]
}

// releaseBuf gives the message buffer back to msgBuffers once its message
// is handled (the decompressor released it), not holding it while the
// connection waits; one grown past retainBuffer by a rare large message is
// left to the GC instead.
func (c *connection) releaseBuf() {
	if c.bufp != nil && cap(c.buf) <= retainBuffer {
		*c.bufp = c.buf[:0]
		msgBuffers.Put(c.bufp)
	}
	c.buf, c.bufp = nil, nil
}

// decompress pushes the message read into the decompressor, counting a
// long decompression (a bomb being discarded) as the reader held up.
func (c *connection) decompress() ([]byte, bool, error) {
	clk := c.s.cfg.Clock
	start := clk.Now()
	c.decoding.Store(true)
	payload, complete, err := c.dec.Push(c.buf)
	c.decoding.Store(false)
	if end := clk.Now(); end.Sub(start) > stallThreshold {
		c.stalledAt.Store(end.UnixNano())
	}
	return payload, complete, err
}

// largeMessage is where readInto starts reporting progress.
const largeMessage = 1 << 20

// readInto appends r to buf, growing it only when a message is bigger than
// any before it, and returns the message's size. Past limit bytes it keeps
// reading but discards, so a huge message costs no memory; the caller
// sees size > limit and must drop it. Past largeMessage bytes, progress
// (if not nil) is called after every read.
func readInto(buf []byte, r io.Reader, limit int, progress func()) ([]byte, int64, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, 8<<10)
	}
	for len(buf) <= limit {
		if len(buf) == cap(buf) {
			// Double up to the limit: append's gentler growth of large
			// slices would allocate several times the limit on the way.
			grown := make([]byte, len(buf), min(2*cap(buf), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit+1)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, int64(len(buf)), nil
		}
		if err != nil {
			return buf, int64(len(buf)), err
		}
		if progress != nil && len(buf) > largeMessage {
			progress()
		}
	}
	extra, err := discard(r, progress)
	return buf[:0], int64(len(buf)) + extra, err
}

// discard reads r to its end, reporting progress after every read.
func discard(r io.Reader, progress func()) (int64, error) {
	var scratch [32 << 10]byte
	var n int64
	for {
		m, err := r.Read(scratch[:])
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if progress != nil {
			progress()
		}
	}
}

func (c *connection) readLoop() error {
	var f codec.Frame
	cd := c.s.cfg.Codec
	for {
		// f's T and D point into the last payload, whose buffer readPayload hands back
		// (to a free list shared by all connections, or to the GC): f must not keep it
		// live while the connection waits for the next message. Left set, idle shards
		// kept their last payloads' output buffers (256 KiB each with zlib-stream) live:
		// up to ~130 MiB with 1,000 shards, which no GC could give back.
		f = codec.Frame{}
		payload, err := c.readPayload()
		if err != nil {
			return err
		}
		if err := cd.Scan(payload, &f); err != nil {
			return fmt.Errorf("decode payload: %w", err)
		}
		switch f.Op {
		case codec.OpDispatch:
			if err := c.dispatch(payload, &f); err != nil {
				return err
			}
		case codec.OpHeartbeatACK:
			c.acked.Store(true)
			if sent := c.beatSentAt.Load(); sent != 0 {
				c.s.cfg.Observer.HeartbeatAcked(c.s.cfg.ID, c.s.cfg.Clock.Now().Sub(time.Unix(0, sent)))
			}
		case codec.OpHeartbeat:
			select {
			case c.beatNow <- struct{}{}:
			default:
			}
		case codec.OpReconnect:
			return errReconnect
		case codec.OpInvalidSession:
			resumable, err := cd.Resumable(f.D)
			if err != nil {
				return fmt.Errorf("decode INVALID_SESSION: %w", err)
			}
			if resumable {
				return errInvalidResume
			}
			return errInvalidSession
		default:
			c.s.log.Debug("ignoring payload", slog.Int("op", f.Op))
		}
	}
}

// dispatch publishes one op 0 payload, then records its sequence: a RESUME
// in this process never skips what was not handed over (what was handed
// over the broker delivers, across reconnects). The session store only
// learns the sequence once RabbitMQ confirmed it (Shard.Confirmed). READY and RESUMED are taken note of
// first, so that a READY stuck behind back-pressure still leaves a session
// to resume.
func (c *connection) dispatch(payload []byte, f *codec.Frame) error {
	s := c.s
	// A dispatch the guarded publisher will refuse is counted there by its
	// reason only: its t, whatever the peer sent, must not become a label.
	if refusal(f.T) == "" {
		s.cfg.Observer.DispatchReceived(s.cfg.ID, f.T)
	}
	switch string(f.T) {
	case "READY":
		r, err := s.cfg.Codec.Ready(f.D)
		if err != nil {
			return fmt.Errorf("decode READY: %w", err)
		}
		if r.SessionID == "" || r.ResumeURL == "" {
			return errors.New("decode READY: session_id or resume_gateway_url missing")
		}
		s.established(c.ctx, &r)
		s.setState(Connected)
		c.guildsLeft = r.Guilds
		c.markEstablished()
		if c.guildsLeft <= 0 {
			c.guildsLoaded()
		}
		s.log.Info("ready", slog.Int("guilds", r.Guilds))
	case "RESUMED":
		s.established(c.ctx, nil)
		c.markEstablished()
		c.guildsLoaded()
		s.log.Info("resumed", slog.Int64("seq", s.seq.Load()))
	}
	if err := c.publish(f, payload); err != nil {
		return fmt.Errorf("publish %s: %w", f.T, err)
	}
	if f.HasSeq {
		s.seq.Store(f.Seq)
		s.hasSeq.Store(true)
	}
	switch string(f.T) {
	case "GUILD_CREATE":
		if c.guildsLeft > 0 {
			c.guildsLeft--
			if c.guildsLeft == 0 {
				c.guildsLoaded()
			}
		}
	}
	return nil
}

func (c *connection) markEstablished() {
	if c.isEst.CompareAndSwap(false, true) {
		close(c.established)
	}
}

func (c *connection) guildsLoaded() {
	c.guildsOnce.Do(func() {
		close(c.guildsDone)
		c.s.setState(Ready)
	})
}
