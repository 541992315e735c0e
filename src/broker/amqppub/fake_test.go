package amqppub

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// fakePeer is the server side of one connection in a scripted fake RabbitMQ.
type fakePeer struct {
	t  *testing.T
	c  net.Conn
	fr *frameReader
}

// serverTune is what the fake server proposes in connection.tune.
type serverTune struct {
	channelMax uint16
	frameMax   uint32
	heartbeat  uint16
}

var defaultTune = serverTune{channelMax: 2047, frameMax: 131072, heartbeat: 60}

// fakeServer listens on a local port, runs script on the first connection and returns
// the URL to dial. script runs on its own goroutine; the test waits for it at cleanup.
func fakeServer(t *testing.T, script func(p *fakePeer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOnce(t, ln, func(c net.Conn) { script(&fakePeer{t: t, c: c, fr: &frameReader{r: c}}) })
	return "amqp://user:secret@" + ln.Addr().String() + "/vh"
}

// serveOnce runs serve on its own goroutine with the first connection ln accepts, and
// closes it afterwards; at cleanup ln is closed and serve waited for.
func serveOnce(t *testing.T, ln net.Listener, serve func(c net.Conn)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("fake server script did not end")
		}
	})
}

func (p *fakePeer) send(b []byte) {
	if _, err := p.c.Write(b); err != nil {
		p.t.Errorf("fake server write: %v", err)
	}
}

func (p *fakePeer) sendMethod(ch uint16, m methodID, args func([]byte) []byte) {
	p.send(appendMethodFrame(nil, ch, m, args))
}

// expect reads frames, skipping heartbeats, until a method frame, which must be want.
func (p *fakePeer) expect(want methodID) decoder {
	for {
		f, err := p.fr.read()
		if err != nil {
			p.t.Errorf("fake server: waiting for %v: %v", want, err)
			return decoder{err: err}
		}
		if f.typ == frameHeartbeat {
			continue
		}
		m, d, err := method(f)
		if err != nil || m != want {
			p.t.Errorf("fake server: got %v (%v), want %v", m, err, want)
			return decoder{err: errShort}
		}
		d.b = append([]byte(nil), d.b...) // outlive the next read
		return d
	}
}

// handshake plays RabbitMQ's side up to confirm.select-ok and returns start-ok's
// arguments (client properties, mechanism, response) and tune-ok's.
func (p *fakePeer) handshake(tune serverTune) (startOk []byte, tuneOk serverTune, vhost string) {
	return p.handshakeOffering(tune, "AMQPLAIN PLAIN")
}

// handshakeOffering is handshake with the server offering mechanisms.
func (p *fakePeer) handshakeOffering(tune serverTune, mechanisms string) (startOk []byte, tuneOk serverTune, vhost string) {
	p.start(mechanisms)
	d := p.expect(mConnStartOk)
	startOk = d.b
	p.sendMethod(0, mConnTune, func(b []byte) []byte {
		b = binary.BigEndian.AppendUint16(b, tune.channelMax)
		b = binary.BigEndian.AppendUint32(b, tune.frameMax)
		return binary.BigEndian.AppendUint16(b, tune.heartbeat)
	})
	d = p.expect(mConnTuneOk)
	tuneOk = serverTune{channelMax: d.u16(), frameMax: d.u32(), heartbeat: d.u16()}
	d = p.expect(mConnOpen)
	vhost = d.shortStr()
	p.sendMethod(0, mConnOpenOk, func(b []byte) []byte { return appendShortStr(b, "") })
	p.expect(mChanOpen)
	p.sendMethod(1, mChanOpenOk, func(b []byte) []byte { return appendLongStr(b, "") })
	p.expect(mConfirmSelect)
	p.sendMethod(1, mConfirmOk, nil)
	return startOk, tuneOk, vhost
}

// start reads the client's protocol header and sends connection.start offering
// mechanisms.
func (p *fakePeer) start(mechanisms string) {
	var hdr [8]byte
	if _, err := io.ReadFull(p.c, hdr[:]); err != nil || string(hdr[:]) != string(protocolHeader) {
		p.t.Errorf("protocol header = %q, %v", hdr, err)
	}
	p.sendMethod(0, mConnStart, func(b []byte) []byte {
		b = append(b, 0, 9)
		b = binary.BigEndian.AppendUint32(b, 0) // empty server properties
		b = appendLongStr(b, mechanisms)
		return appendLongStr(b, "en_US")
	})
}

// parseStartOk splits connection.start-ok's arguments into the mechanism and response.
func parseStartOk(b []byte) (mechanism, response string) {
	d := decoder{b: b}
	d.longBytes() // client properties
	mechanism = d.shortStr()
	response = string(d.longBytes())
	return mechanism, response
}

// expectPublish reads one basic.publish with its content header and body frames, and
// returns the body.
func (p *fakePeer) expectPublish() []byte {
	p.expect(mBasicPublish)
	f, err := p.fr.read()
	if err != nil || f.typ != frameHeader || len(f.payload) < 12 {
		p.t.Errorf("fake server: content header: type %d, %v", f.typ, err)
		return nil
	}
	size := int(binary.BigEndian.Uint64(f.payload[4:]))
	var body []byte
	for len(body) < size {
		f, err := p.fr.read()
		if err != nil || f.typ != frameBody {
			p.t.Errorf("fake server: body frame: type %d, %v", f.typ, err)
			return nil
		}
		body = append(body, f.payload...)
	}
	return body
}

func (p *fakePeer) sendClose(ch uint16, code uint16, text string) {
	m := mConnClose
	if ch != 0 {
		m = mChanClose
	}
	p.sendMethod(ch, m, func(b []byte) []byte {
		b = binary.BigEndian.AppendUint16(b, code)
		b = appendShortStr(b, text)
		b = binary.BigEndian.AppendUint16(b, 60)
		return binary.BigEndian.AppendUint16(b, 40)
	})
}

func (p *fakePeer) sendAck(m methodID, tag uint64, multiple bool) {
	p.sendMethod(1, m, func(b []byte) []byte {
		b = binary.BigEndian.AppendUint64(b, tag)
		if multiple {
			return append(b, 1)
		}
		return append(b, 0)
	})
}

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func dialTest(t *testing.T, url string, cfg Config) (*Conn, *countingConn) {
	t.Helper()
	var cc *countingConn
	cfg.URL = url
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cc = &countingConn{Conn: c}
		return cc, nil
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close(time.Now().Add(time.Second)) })
	return c, cc
}

// countHeartbeats reads until the client goes away and returns how many heartbeats it
// sent.
func (p *fakePeer) countHeartbeats() int {
	n := 0
	for {
		f, err := p.fr.read()
		if err != nil {
			return n
		}
		if f.typ == frameHeartbeat {
			n++
		}
	}
}
