package amqppub

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordis-gateway/cordis/src/broker/amqpurl"
)

// Defaults for Config's zero values, as amqp091-go has them.
const (
	DefaultHeartbeat        = 10 * time.Second
	DefaultHandshakeTimeout = 30 * time.Second

	defaultChannelMax = 2047      // amqp091-go's default
	defaultFrameMax   = 128 << 10 // amqp091-go's proposal; the server may ask for less
	minFrameMax       = 4096      // AMQP 0-9-1's smallest frame_max

	pubChannel = 1 // the one channel this connection opens

	// flushAt is how many bytes of publishes gather before they go to the socket even
	// inside a batch: dozens of typical dispatches per write(2), small enough for cache.
	flushAt = 64 << 10

	// silentBeats is how many heartbeat intervals without any frame make a peer dead.
	silentBeats = 2
)

// ErrClosed is the connection's error once Close ended it.
var ErrClosed = errors.New("amqp publishing connection closed")

// Config says how to reach RabbitMQ. The URL's query settings mean what they mean to
// amqp091-go's DialConfig (package amqpurl): heartbeat replaces Heartbeat, channel_max
// and frame_max are proposed in connection.tune-ok, auth_mechanism picks the SASL
// mechanisms, connection_timeout bounds dialling and the handshake when Dial and
// HandshakeTimeout are left unset, and for amqps the TLS settings build the TLS
// configuration when TLS is nil.
type Config struct {
	URL string // amqp:// or amqps://

	// Dial opens the TCP connection (the broker passes its stall-guarded socket);
	// nil dials with net.Dialer. For amqps the TLS client runs on top of it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS is used as given for amqps (ServerName defaults to the URL's host); nil
	// builds it from the URL (amqpurl.URL.TLSConfig). Ignored for amqp.
	TLS *tls.Config

	Heartbeat        time.Duration // proposed to the server unless the URL sets heartbeat; 0: DefaultHeartbeat
	HandshakeTimeout time.Duration // TCP connected -> channel in confirm mode; 0: connection_timeout, else DefaultHandshakeTimeout
	ConnectionName   string        // shown in RabbitMQ's management UI

	// OnBlocked, if set, is called on the reader goroutine for connection.blocked
	// (active, with RabbitMQ's reason) and connection.unblocked. It must not block.
	OnBlocked func(active bool, reason string)
}

// Confirm is one ack or nack frame: Tag alone, or with Multiple every tag up to Tag not
// confirmed before. Confirms may come out of order (RabbitMQ confirms a message no queue
// takes at once, a routed one when its queues have it), so only the publisher, which
// knows what is still unconfirmed, can tell which tags a multiple one covers.
type Confirm struct {
	Tag      uint64
	Multiple bool
	Ack      bool
}

// Error is RabbitMQ closing the connection or the publishing channel, with its reply
// code and text (e.g. 406, "PRECONDITION_FAILED - message size ... is larger than ...").
type Error struct {
	Code     uint16
	Reason   string
	Channel  bool // the channel was closed, not the whole connection
	ClassID  uint16
	MethodID uint16
}

func (e *Error) Error() string {
	what := "connection"
	if e.Channel {
		what = "channel"
	}
	return fmt.Sprintf("rabbitmq closed the %s: %d %s", what, e.Code, e.Reason)
}

// Conn is one AMQP connection with one channel in confirm mode.
type Conn struct {
	raw       net.Conn // the dialled socket: closing it cuts the connection at once
	sock      net.Conn // raw, or TLS on top of it
	frameMax  int
	heartbeat time.Duration
	onBlocked func(bool, string)

	// Publisher goroutine only.
	wbuf []byte
	tag  uint64 // delivery tag of the last publish
	werr error  // sticky write error

	wmu   sync.Mutex  // one socket write at a time (publisher, heartbeats, replies)
	wrote atomic.Bool // something was written since the heartbeater last looked

	reads   atomic.Uint64 // frames read: the heartbeater's sign of life
	paused  atomic.Bool   // RabbitMQ blocks this connection (connection.blocked)
	closing atomic.Bool   // we sent connection.close

	cmu           sync.Mutex
	confirms      []Confirm
	confirmFrames atomic.Uint64 // ack and nack frames received
	notify        chan struct{} // capacity 1: confirms are waiting

	done       chan struct{} // closed once the connection cannot publish anymore
	errOnce    sync.Once
	err        error
	readerDone chan struct{}
	hbDone     chan struct{}
	closeOnce  sync.Once
}

// Dial connects, authenticates, opens the URL's vhost, opens channel 1 and puts it in
// confirm mode. ctx and cfg.HandshakeTimeout bound all of it.
func Dial(ctx context.Context, cfg Config) (c *Conn, err error) {
	uri, err := amqpurl.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse amqp url: %w", err)
	}
	// As amqp091's DialConfig: the URL's heartbeat, even 0, replaces the proposal.
	switch {
	case uri.HeartbeatSet:
		cfg.Heartbeat = uri.Heartbeat
	case cfg.Heartbeat == 0:
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
		if uri.ConnectionTimeout > 0 {
			cfg.HandshakeTimeout = uri.ConnectionTimeout
		}
	}
	var tcfg *tls.Config
	if uri.Scheme == "amqps" {
		if cfg.TLS != nil {
			tcfg = cfg.TLS.Clone()
		} else if tcfg, err = uri.TLSConfig(); err != nil {
			return nil, fmt.Errorf("tls settings of the amqp url: %w", err)
		}
		if tcfg.ServerName == "" {
			tcfg.ServerName = uri.Host
		}
	}
	dial := cfg.Dial
	if dial == nil {
		d := net.Dialer{Timeout: uri.ConnectionTimeout}
		dial = d.DialContext
	}
	addr := net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port))
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c = &Conn{
		raw:        raw,
		sock:       raw,
		onBlocked:  cfg.OnBlocked,
		notify:     make(chan struct{}, 1),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		hbDone:     make(chan struct{}),
	}
	// Every handshake step blocks on the socket: ctx ending or the timeout fails it.
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer func() {
		if !stop() && err == nil {
			err = ctx.Err()
		}
		if err != nil {
			_ = raw.Close()
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
			c = nil
		}
	}()
	if err := raw.SetDeadline(time.Now().Add(cfg.HandshakeTimeout)); err != nil {
		return nil, fmt.Errorf("set handshake deadline: %w", err)
	}
	if tcfg != nil {
		tc := tls.Client(raw, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		c.sock = tc
	}
	fr := &frameReader{r: bufio.NewReaderSize(c.sock, 4096)}
	if err := c.handshake(fr, uri, cfg); err != nil {
		return nil, fmt.Errorf("amqp handshake with %s: %w", addr, err)
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("clear handshake deadline: %w", err)
	}
	go c.readLoop(fr)
	if c.heartbeat > 0 {
		go c.heartbeatLoop()
	} else {
		close(c.hbDone)
	}
	return c, nil
}

// handshake runs connection.start .. confirm.select-ok (AMQP 0-9-1 §2.2.4).
func (c *Conn) handshake(fr *frameReader, uri amqpurl.URL, cfg Config) error {
	if _, err := c.sock.Write(protocolHeader); err != nil {
		return fmt.Errorf("send protocol header: %w", err)
	}
	d, err := c.expect(fr, mConnStart, "wait for connection.start")
	if err != nil {
		return err
	}
	d.u8() // version major
	d.u8() // version minor
	d.longBytes()
	offered := string(d.longBytes())
	d.longBytes() // locales
	if d.err != nil {
		return fmt.Errorf("read connection.start: %w", d.err)
	}
	mech, ok := pickMechanism(uri.Mechanisms, strings.Fields(offered))
	if !ok {
		return fmt.Errorf("rabbitmq offers none of the authentication mechanisms %s (it offers %q)",
			strings.Join(uri.Mechanisms, ", "), offered)
	}
	if err := c.writeFrame(appendMethodFrame(nil, 0, mConnStartOk, func(b []byte) []byte {
		b = appendClientProperties(b, cfg.ConnectionName)
		b = appendShortStr(b, mech)
		b = appendLongStr(b, saslResponse(mech, uri.Username, uri.Password))
		return appendShortStr(b, "en_US")
	})); err != nil {
		return fmt.Errorf("send connection.start-ok: %w", err)
	}

	d, err = c.expect(fr, mConnTune, fmt.Sprintf("log in as %q", uri.Username))
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// Servers without authentication_failure_close just hang up.
			return fmt.Errorf("log in as %q: rabbitmq closed the socket (refused credentials?): %w", uri.Username, err)
		}
		return err
	}
	// Negotiated as amqp091's openTune does, from the same URL settings.
	channelMax := pickU16(uri.ChannelMax, d.u16())
	if channelMax == 0 {
		channelMax = defaultChannelMax
	}
	proposedFrameMax := uint32(defaultFrameMax)
	if uri.FrameMaxSet {
		proposedFrameMax = uri.FrameMax
	}
	frameMax := int(pickU32(proposedFrameMax, d.u32()))
	hb := pickU16(uint16(cfg.Heartbeat/time.Second), d.u16())
	if d.err != nil {
		return fmt.Errorf("read connection.tune: %w", d.err)
	}
	if frameMax > 0 {
		// AMQP's floor: a server asking for less would force absurd fragmentation.
		frameMax = max(frameMax, minFrameMax)
		c.frameMax, fr.frameMax = frameMax, frameMax
	} else {
		// Both sides said no limit: any frame size is allowed; publishes are split at
		// our usual proposal, and the reader keeps its pre-tune bound (RabbitMQ sends
		// this connection only small frames).
		c.frameMax = defaultFrameMax
	}
	c.heartbeat = time.Duration(hb) * time.Second
	if err := c.writeFrame(appendMethodFrame(nil, 0, mConnTuneOk, func(b []byte) []byte {
		b = binary.BigEndian.AppendUint16(b, channelMax)
		b = binary.BigEndian.AppendUint32(b, uint32(frameMax))
		return binary.BigEndian.AppendUint16(b, hb)
	})); err != nil {
		return fmt.Errorf("send connection.tune-ok: %w", err)
	}
	if err := c.writeFrame(appendMethodFrame(nil, 0, mConnOpen, func(b []byte) []byte {
		b = appendShortStr(b, uri.Vhost)
		b = appendShortStr(b, "")
		return append(b, 0)
	})); err != nil {
		return fmt.Errorf("send connection.open: %w", err)
	}
	if _, err := c.expect(fr, mConnOpenOk, fmt.Sprintf("open vhost %q", uri.Vhost)); err != nil {
		return err
	}
	if err := c.writeFrame(appendMethodFrame(nil, pubChannel, mChanOpen, func(b []byte) []byte {
		return appendShortStr(b, "")
	})); err != nil {
		return fmt.Errorf("send channel.open: %w", err)
	}
	if _, err := c.expect(fr, mChanOpenOk, "open channel"); err != nil {
		return err
	}
	if err := c.writeFrame(appendMethodFrame(nil, pubChannel, mConfirmSelect, func(b []byte) []byte {
		return append(b, 0) // nowait off
	})); err != nil {
		return fmt.Errorf("send confirm.select: %w", err)
	}
	if _, err := c.expect(fr, mConfirmOk, "enable publisher confirms"); err != nil {
		return err
	}
	return nil
}

// expect reads frames until method want arrives, taking heartbeats and blocking
// notices in passing; a close from the server (replied to) or anything else is an
// error saying what was being done.
func (c *Conn) expect(fr *frameReader, want methodID, doing string) (decoder, error) {
	for {
		f, err := fr.read()
		if err != nil {
			return decoder{}, fmt.Errorf("%s: %w", doing, err)
		}
		if f.typ == frameHeartbeat {
			continue
		}
		m, d, err := method(f)
		if err != nil {
			return decoder{}, fmt.Errorf("%s: %w", doing, err)
		}
		switch m {
		case want:
			return d, nil
		case mConnBlocked, mConnUnblocked:
			c.blocked(m, &d)
			continue
		case mConnClose, mChanClose:
			return decoder{}, fmt.Errorf("%s: %w", doing, c.serverClosed(m, &d))
		}
		return decoder{}, fmt.Errorf("%s: unexpected method %v on channel %d", doing, m, f.channel)
	}
}

// serverClosed replies to connection.close or channel.close and returns it as an *Error.
func (c *Conn) serverClosed(m methodID, d *decoder) error {
	e := &Error{Channel: m == mChanClose}
	e.Code = d.u16()
	e.Reason = d.shortStr()
	e.ClassID = d.u16()
	e.MethodID = d.u16()
	if d.err != nil {
		return fmt.Errorf("read close from rabbitmq: %w", d.err)
	}
	reply, ch := mConnCloseOk, uint16(0)
	if e.Channel {
		reply, ch = mChanCloseOk, pubChannel
	}
	_ = c.writeFrame(appendMethodFrame(nil, ch, reply, nil)) // best effort: it is over anyway
	return e
}

func (c *Conn) blocked(m methodID, d *decoder) {
	active := m == mConnBlocked
	c.paused.Store(active)
	reason := ""
	if active {
		reason = d.shortStr()
	}
	if c.onBlocked != nil {
		c.onBlocked(active, reason)
	}
}

// writeFrame writes control frames (handshake, replies, close) whole, apart from the
// publisher's buffer.
func (c *Conn) writeFrame(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.sock.Write(b)
	c.wrote.Store(true)
	return err
}

func appendClientProperties(b []byte, name string) []byte {
	var caps []byte
	caps = appendTableBool(caps, "publisher_confirms", true)
	caps = appendTableBool(caps, "basic.nack", true)
	caps = appendTableBool(caps, "connection.blocked", true)
	caps = appendTableBool(caps, "authentication_failure_close", true)
	var t []byte
	t = appendTableString(t, "product", "cordis-gateway")
	t = appendTableString(t, "platform", "golang")
	t = appendTableString(t, "information", "amqppub: publishing only")
	t = appendTableTable(t, "capabilities", caps)
	if name != "" {
		t = appendTableString(t, "connection_name", name)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(t)))
	return append(b, t...)
}

// pickU16 and pickU32 negotiate like amqp091-go: 0 on one side means "no limit", so the
// other side's value wins; otherwise the smaller one.
func pickU16(client, server uint16) uint16 {
	if client == 0 || server == 0 {
		return max(client, server)
	}
	return min(client, server)
}

func pickU32(client, server uint32) uint32 {
	if client == 0 || server == 0 {
		return max(client, server)
	}
	return min(client, server)
}

// pickMechanism returns the first of ours (the client's order of preference) that the
// server offers, as amqp091's pickSASLMechanism does.
func pickMechanism(ours, offered []string) (string, bool) {
	for _, m := range ours {
		if slices.Contains(offered, m) {
			return m, true
		}
	}
	return "", false
}

// saslResponse is connection.start-ok's response for mech, encoded as amqp091 encodes it.
func saslResponse(mech, user, pass string) string {
	switch mech {
	case amqpurl.AMQPlain: // a field table without its length prefix
		var t []byte
		t = appendTableString(t, "LOGIN", user)
		t = appendTableString(t, "PASSWORD", pass)
		return string(t)
	case amqpurl.External: // the identity is the client certificate's; RabbitMQ ignores this
		return "\x00*\x00*"
	default: // PLAIN
		return "\x00" + user + "\x00" + pass
	}
}

// FrameMax is the largest frame this connection writes: the negotiated frame_max, or
// our proposal when both sides said no limit. Heartbeat is the negotiated interval
// (0: none).
func (c *Conn) FrameMax() int            { return c.frameMax }
func (c *Conn) Heartbeat() time.Duration { return c.heartbeat }

// Publish appends one basic.publish to the write buffer and returns its delivery tag.
// The frames reach the socket on Flush, or earlier once flushAt bytes are waiting. Only
// the publisher goroutine may call Publish and Flush. A write error sticks: the
// connection is then lost, and every dispatch not confirmed must go out again.
func (c *Conn) Publish(exchange, key string, p *Properties, body []byte) (uint64, error) {
	if err := c.unusable(); err != nil {
		return 0, err
	}
	c.tag++
	if len(body) <= flushAt {
		c.wbuf = appendPublish(c.wbuf, pubChannel, c.frameMax, exchange, key, p, body)
		if len(c.wbuf) >= flushAt {
			return c.tag, c.Flush()
		}
		return c.tag, nil
	}
	// A large body goes out frame by frame as the buffer fills: the buffer never holds
	// a copy of it (a 32 MiB GUILD_CREATE would otherwise cost 32 MiB more).
	c.wbuf = appendPublishHead(c.wbuf, pubChannel, exchange, key, p, len(body))
	for len(body) > 0 {
		n := min(len(body), c.frameMax-frameOverhead)
		c.wbuf = appendBodyFrame(c.wbuf, pubChannel, body[:n])
		body = body[n:]
		if len(c.wbuf) >= flushAt {
			if err := c.Flush(); err != nil {
				return c.tag, err
			}
		}
	}
	return c.tag, nil
}

// Flush writes the buffered publishes in one write.
func (c *Conn) Flush() error {
	if err := c.unusable(); err != nil {
		c.wbuf = c.wbuf[:0]
		return err
	}
	if len(c.wbuf) == 0 {
		return nil
	}
	c.wmu.Lock()
	_, err := c.sock.Write(c.wbuf)
	c.wmu.Unlock()
	c.wrote.Store(true)
	if cap(c.wbuf) > 4*flushAt {
		c.wbuf = nil // one huge dispatch does not pin its size for the connection's life
	} else {
		c.wbuf = c.wbuf[:0]
	}
	if err != nil {
		c.werr = fmt.Errorf("write publishes: %w", err)
		c.fail(c.werr)
		return c.werr
	}
	return nil
}

// unusable is why nothing more may be written: a write failed, or the connection or
// its channel ended (RabbitMQ closed the channel: writing on would only make it close
// the connection too, as a protocol error).
func (c *Conn) unusable() error {
	if c.werr != nil {
		return c.werr
	}
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Confirmed is signalled when TakeConfirms has something.
func (c *Conn) Confirmed() <-chan struct{} { return c.notify }

// TakeConfirms appends the confirms received since the last call to dst, in the order
// RabbitMQ sent them (consecutive multiple ones of a kind merged).
func (c *Conn) TakeConfirms(dst []Confirm) []Confirm {
	c.cmu.Lock()
	dst = append(dst, c.confirms...)
	c.confirms = c.confirms[:0]
	c.cmu.Unlock()
	return dst
}

// ConfirmFrames counts the ack and nack frames received so far: progress, for a
// watchdog (the highest tag would not move while out-of-order confirms fill holes).
func (c *Conn) ConfirmFrames() uint64 { return c.confirmFrames.Load() }

// Done is closed once the connection can no longer publish; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, nil while it works.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

func (c *Conn) fail(err error) {
	c.errOnce.Do(func() {
		c.err = err
		close(c.done)
	})
}

// Cut closes the socket at once, without a word to the server (a frozen connection).
func (c *Conn) Cut() { _ = c.raw.Close() }

// Close closes the connection politely (connection.close, then close-ok awaited) if it
// still works and deadline allows, and cuts the socket in any case by deadline at the
// latest. Every goroutine of the connection has ended when it returns.
func (c *Conn) Close(deadline time.Time) {
	c.closeOnce.Do(func() {
		select {
		case <-c.readerDone:
		default:
			if time.Now().Before(deadline) {
				cut := time.AfterFunc(time.Until(deadline), c.Cut)
				c.closing.Store(true)
				err := c.writeFrame(appendMethodFrame(nil, 0, mConnClose, func(b []byte) []byte {
					b = binary.BigEndian.AppendUint16(b, 200)
					b = appendShortStr(b, "bye")
					b = binary.BigEndian.AppendUint16(b, 0)
					return binary.BigEndian.AppendUint16(b, 0)
				}))
				if err == nil {
					<-c.readerDone // close-ok, an error, or the cut at deadline
				}
				cut.Stop()
			}
		}
		c.fail(ErrClosed)
		c.Cut()
		<-c.readerDone
		<-c.hbDone
	})
}

// readLoop is the reader goroutine: confirms, heartbeats, blocking notices and closes,
// until the socket fails or the connection is closed.
func (c *Conn) readLoop(fr *frameReader) {
	err := c.read(fr)
	c.fail(err)
	c.Cut()
	close(c.readerDone)
}

func (c *Conn) read(fr *frameReader) error {
	for {
		f, err := fr.read()
		if err != nil {
			if c.closing.Load() {
				return ErrClosed
			}
			return fmt.Errorf("read from rabbitmq: %w", err)
		}
		c.reads.Add(1)
		if f.typ == frameHeartbeat {
			continue
		}
		m, d, err := method(f)
		if err != nil {
			return fmt.Errorf("read from rabbitmq: %w", err)
		}
		switch {
		case f.channel == pubChannel && (m == mBasicAck || m == mBasicNack):
			tag := d.u64()
			multiple := d.u8()&1 != 0
			if d.err != nil {
				return fmt.Errorf("read %v: %w", m, d.err)
			}
			c.confirm(tag, multiple, m == mBasicAck)
		case f.channel == 0 && (m == mConnBlocked || m == mConnUnblocked):
			c.blocked(m, &d)
		case f.channel == pubChannel && m == mChanClose:
			// The channel is gone: publishing is over, but the connection still
			// works, so Close can end it politely.
			c.fail(c.serverClosed(m, &d))
		case f.channel == 0 && m == mConnClose:
			return c.serverClosed(m, &d)
		case f.channel == 0 && m == mConnCloseOk && c.closing.Load():
			return ErrClosed
		default:
			return fmt.Errorf("unexpected method %v on channel %d from rabbitmq", m, f.channel)
		}
	}
}

// confirm records an ack or nack frame. A multiple one after another of the same kind
// takes its place: it covers all the earlier one did.
func (c *Conn) confirm(tag uint64, multiple, ack bool) {
	c.confirmFrames.Add(1)
	c.cmu.Lock()
	if n := len(c.confirms); n > 0 && multiple && c.confirms[n-1].Multiple && c.confirms[n-1].Ack == ack {
		c.confirms[n-1].Tag = max(c.confirms[n-1].Tag, tag)
	} else {
		c.confirms = append(c.confirms, Confirm{Tag: tag, Multiple: multiple, Ack: ack})
	}
	c.cmu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// heartbeatLoop sends a heartbeat when nothing was written for half an interval and
// declares the peer dead when no frame came for silentBeats intervals. The silence check
// comes first and the heartbeat is skipped while RabbitMQ blocks the connection: it then
// reads nothing (its own heartbeat monitor pauses too), so the write could wait for
// ever, and with it the check that notices a peer gone silent.
func (c *Conn) heartbeatLoop() {
	defer close(c.hbDone)
	tick := time.NewTicker(c.heartbeat / 2)
	defer tick.Stop()
	last, silent := c.reads.Load(), 0
	for {
		select {
		case <-c.readerDone:
			return
		case <-tick.C:
		}
		if r := c.reads.Load(); r != last {
			last, silent = r, 0
		} else if silent++; silent >= 2*silentBeats {
			c.fail(fmt.Errorf("rabbitmq sent nothing for %v (%d heartbeat intervals): presumed dead", time.Duration(silent)*c.heartbeat/2, silentBeats))
			c.Cut()
			return
		}
		if c.wrote.Swap(false) || c.paused.Load() || !c.wmu.TryLock() { // a busy writer needs no heartbeat
			continue
		}
		_, err := c.sock.Write(heartbeatFrame)
		c.wmu.Unlock()
		if err != nil {
			c.fail(fmt.Errorf("send heartbeat: %w", err))
			c.Cut()
			return
		}
	}
}
