package amqppub

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPublishFramesAreEncodedByteForByteAsTheSpecSays(t *testing.T) {
	headers := AppendTableInt32(nil, "shard_id", 7)
	p := Properties{ContentType: "application/json", Headers: headers, DeliveryMode: 1, Timestamp: 0x01020304}
	got := appendPublish(nil, 1, 4096, "gateway", "READY", &p, []byte("{}"))

	var want []byte
	// basic.publish: type 1, channel 1, size 21, class 60 method 40, reserved 0,
	// "gateway", "READY", bits 0, frame end.
	want = append(want, 1, 0, 1, 0, 0, 0, 21, 0, 60, 0, 40, 0, 0, 7)
	want = append(want, "gateway"...)
	want = append(want, 5)
	want = append(want, "READY"...)
	want = append(want, 0, 0xCE)
	// Content header: type 2, channel 1, size 14+17+4+14+1+8 = 58; class 60, weight 0,
	// body size 2, flags content-type|headers|delivery-mode|timestamp = 0xB040.
	want = append(want, 2, 0, 1, 0, 0, 0, 58, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0xB0, 0x40)
	want = append(want, 16)
	want = append(want, "application/json"...)
	want = append(want, 0, 0, 0, 14, 8)
	want = append(want, "shard_id"...)
	want = append(want, 'I', 0, 0, 0, 7)
	want = append(want, 1)
	want = append(want, 0, 0, 0, 0, 1, 2, 3, 4, 0xCE)
	// Body: type 3, channel 1, size 2.
	want = append(want, 3, 0, 1, 0, 0, 0, 2, '{', '}', 0xCE)
	if !bytes.Equal(got, want) {
		t.Fatalf("publish frames:\n got %x\nwant %x", got, want)
	}
}

func TestBodyIsSplitIntoFramesOfAtMostFrameMax(t *testing.T) {
	tests := []struct {
		name   string
		body   int
		frames []int // body frame payload sizes
	}{
		{"empty body has no body frame", 0, nil},
		{"one byte", 1, []int{1}},
		{"exactly frame_max-8", 4088, []int{4088}},
		{"one more", 4089, []int{4088, 1}},
		{"several", 10000, []int{4088, 4088, 1824}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Repeat([]byte{'b'}, tt.body)
			out := appendPublish(nil, 1, 4096, "x", "k", &Properties{}, body)
			fr := &frameReader{r: bytes.NewReader(out), frameMax: 4096}
			var sizes []int
			var got []byte
			for i := 0; ; i++ {
				f, err := fr.read()
				if err != nil {
					break
				}
				if i < 2 {
					continue // method and header
				}
				if f.typ != frameBody {
					t.Fatalf("frame %d type %d", i, f.typ)
				}
				sizes = append(sizes, len(f.payload))
				got = append(got, f.payload...)
			}
			if len(sizes) != len(tt.frames) || !bytes.Equal(got, body) {
				t.Fatalf("body frames %v, want %v", sizes, tt.frames)
			}
			for i := range sizes {
				if sizes[i] != tt.frames[i] {
					t.Fatalf("body frames %v, want %v", sizes, tt.frames)
				}
			}
		})
	}
}

func TestPublishAllocatesNothing(t *testing.T) {
	c := &Conn{frameMax: 131072}
	headers := AppendTableInt32(nil, "shard_id", 3)
	body := bytes.Repeat([]byte{'m'}, 1500)
	key := "MESSAGE_CREATE"
	n := testing.AllocsPerRun(1000, func() {
		p := Properties{ContentType: "application/json", Headers: headers, DeliveryMode: 1, Timestamp: 1700000000}
		if _, err := c.Publish("gateway", key, &p, body); err != nil {
			t.Fatal(err)
		}
		c.wbuf = c.wbuf[:0] // what Flush does after writing
	})
	if n != 0 {
		t.Fatalf("allocations per publish = %v, want 0", n)
	}
}

func TestHandshakeNegotiatesLikeAmqp091AndSaysWhoWeAre(t *testing.T) {
	type result struct {
		startOk []byte
		tuneOk  serverTune
		vhost   string
	}
	got := make(chan result, 1)
	url := fakeServer(t, func(p *fakePeer) {
		s, tu, vh := p.handshake(serverTune{channelMax: 0, frameMax: 65536, heartbeat: 60})
		got <- result{s, tu, vh}
		p.expect(mConnClose)
		p.sendMethod(0, mConnCloseOk, nil)
	})
	c, _ := dialTest(t, url, Config{Heartbeat: 10 * time.Second, ConnectionName: "cordis-gateway@test"})
	r := <-got
	// channel_max: server 0 = no limit, ours wins; frame_max: the server's; heartbeat:
	// the smaller.
	if r.tuneOk != (serverTune{channelMax: defaultChannelMax, frameMax: 65536, heartbeat: 10}) {
		t.Fatalf("tune-ok = %+v", r.tuneOk)
	}
	if c.FrameMax() != 65536 || c.Heartbeat() != 10*time.Second {
		t.Fatalf("negotiated frame_max %d, heartbeat %v", c.FrameMax(), c.Heartbeat())
	}
	if r.vhost != "vh" {
		t.Fatalf("vhost = %q", r.vhost)
	}
	for _, want := range []string{"publisher_confirms", "connection.blocked", "authentication_failure_close",
		"connection_name", "cordis-gateway@test", "PLAIN", "\x00user\x00secret", "en_US"} {
		if !bytes.Contains(r.startOk, []byte(want)) {
			t.Errorf("start-ok lacks %q", want)
		}
	}
	c.Close(time.Now().Add(time.Second))
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("after Close: %v", c.Err())
	}
}

func TestHandshakeFailuresSayWhatWasRefused(t *testing.T) {
	tests := []struct {
		name   string
		script func(p *fakePeer)
		want   []string
		code   uint16
	}{
		{"credentials refused with a close", func(p *fakePeer) {
			p.start("PLAIN")
			p.expect(mConnStartOk)
			p.sendClose(0, 403, "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN")
			p.expect(mConnCloseOk)
		}, []string{`log in as "user"`, "403", "ACCESS_REFUSED"}, 403},
		{"credentials refused by hanging up", func(p *fakePeer) {
			p.start("PLAIN")
			p.expect(mConnStartOk)
		}, []string{`log in as "user"`, "refused credentials"}, 0},
		{"no PLAIN", func(p *fakePeer) {
			p.start("EXTERNAL")
			_, _ = p.fr.read()
		}, []string{"none of the authentication mechanisms PLAIN", `offers "EXTERNAL"`}, 0},
		{"vhost refused", func(p *fakePeer) {
			p.start("PLAIN")
			p.expect(mConnStartOk)
			p.sendMethod(0, mConnTune, func(b []byte) []byte { return append(b, 0, 0, 0, 2, 0, 0, 0, 60) })
			p.expect(mConnTuneOk)
			p.expect(mConnOpen)
			p.sendClose(0, 530, "NOT_ALLOWED - vhost vh not found")
			p.expect(mConnCloseOk)
		}, []string{`open vhost "vh"`, "530", "NOT_ALLOWED"}, 530},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := fakeServer(t, tt.script)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := Dial(ctx, Config{URL: url})
			if err == nil {
				c.Close(time.Now())
				t.Fatal("dial succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %v", err)
			}
			var aerr *Error
			if (tt.code != 0) != errors.As(err, &aerr) || (aerr != nil && aerr.Code != tt.code) {
				t.Errorf("error %v: want *Error with code %d", err, tt.code)
			}
		})
	}
}

func TestHandshakeEndsWithCtxOrTimeoutWhenTheServerSaysNothing(t *testing.T) {
	for _, byCtx := range []bool{true, false} {
		url := fakeServer(t, func(p *fakePeer) { _, _ = io_ReadAll(p.c) })
		timeout := 200 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		if byCtx {
			timeout = time.Minute
			time.AfterFunc(200*time.Millisecond, cancel)
		}
		start := time.Now()
		_, err := Dial(ctx, Config{URL: url, HandshakeTimeout: timeout})
		cancel()
		if err == nil || time.Since(start) > 3*time.Second {
			t.Fatalf("byCtx=%v: dial = %v after %v", byCtx, err, time.Since(start))
		}
		if byCtx && !errors.Is(err, context.Canceled) {
			t.Fatalf("dial ended by ctx: %v, want context.Canceled", err)
		}
	}
}

func TestConfirmsArriveFrameByFrameWithConsecutiveMultipleOnesMerged(t *testing.T) {
	url := fakeServer(t, func(p *fakePeer) {
		p.handshake(defaultTune)
		for range 8 {
			p.expectPublish()
		}
		p.sendAck(mBasicAck, 2, true)  // 1-2
		p.sendAck(mBasicNack, 4, true) // 3-4
		p.sendAck(mBasicAck, 6, false) // 6, out of order
		p.sendAck(mBasicAck, 5, true)  // 5
		p.sendAck(mBasicAck, 8, true)  // 7-8: takes the place of the one before
		p.expect(mConnClose)
		p.sendMethod(0, mConnCloseOk, nil)
	})
	c, _ := dialTest(t, url, Config{})
	for i := range 8 {
		tag, err := c.Publish("x", "k", &Properties{}, []byte{byte(i)})
		if err != nil || tag != uint64(i+1) {
			t.Fatalf("publish %d: tag %d, %v", i, tag, err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []Confirm{{2, true, true}, {4, true, false}, {6, false, true}, {8, true, true}}
	var got []Confirm
	deadline := time.After(5 * time.Second)
	for c.ConfirmFrames() < 5 || len(got) == 0 || got[len(got)-1].Tag < 8 {
		select {
		case <-c.Confirmed():
			got = c.TakeConfirms(got)
		case <-deadline:
			t.Fatalf("confirms = %v, want %v", got, want)
		}
	}
	// Taken apart (the publisher took some in between), 5 and 8 stay two frames.
	var merged []Confirm
	for _, r := range got {
		if n := len(merged); n > 0 && r.Multiple && merged[n-1].Multiple && merged[n-1].Ack == r.Ack {
			merged[n-1].Tag = r.Tag
			continue
		}
		merged = append(merged, r)
	}
	if !slices.Equal(merged, want) {
		t.Fatalf("confirms = %v, want %v", got, want)
	}
}

func TestFramesSplitAcrossReadsAreReassembled(t *testing.T) {
	url := fakeServer(t, func(p *fakePeer) {
		p.handshake(defaultTune)
		p.expectPublish()
		var frames []byte
		frames = append(frames, heartbeatFrame...)
		frames = appendMethodFrame(frames, 1, mBasicAck, func(b []byte) []byte {
			return append(binary.BigEndian.AppendUint64(b, 1), 0)
		})
		for _, b := range frames { // one byte per write
			p.send([]byte{b})
			time.Sleep(time.Millisecond)
		}
		p.expect(mConnClose)
		p.sendMethod(0, mConnCloseOk, nil)
	})
	c, _ := dialTest(t, url, Config{})
	if _, err := c.Publish("x", "k", &Properties{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Confirmed():
		if got := c.TakeConfirms(nil); len(got) != 1 || got[0] != (Confirm{Tag: 1, Ack: true}) {
			t.Fatalf("confirms = %v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no confirm")
	}
}

func TestServerClosesEndPublishingWithCodeAndText(t *testing.T) {
	tests := []struct {
		name    string
		channel bool
		code    uint16
		text    string
	}{
		{"channel.close on a body over max_message_size", true, 406,
			"PRECONDITION_FAILED - message size 134217729 is larger than configured max size 134217728"},
		{"connection.close", false, 320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			replied := make(chan bool, 1)
			url := fakeServer(t, func(p *fakePeer) {
				p.handshake(defaultTune)
				p.expectPublish()
				if tt.channel {
					p.sendClose(1, tt.code, tt.text)
					p.expect(mChanCloseOk)
					replied <- true
					// The connection still works: Close ends it politely.
					p.expect(mConnClose)
					p.sendMethod(0, mConnCloseOk, nil)
					return
				}
				p.sendClose(0, tt.code, tt.text)
				p.expect(mConnCloseOk)
				replied <- true
			})
			c, _ := dialTest(t, url, Config{})
			if _, err := c.Publish("x", "k", &Properties{}, []byte("big")); err != nil {
				t.Fatal(err)
			}
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the close did not end publishing")
			}
			var aerr *Error
			if !errors.As(c.Err(), &aerr) || aerr.Code != tt.code || aerr.Reason != tt.text || aerr.Channel != tt.channel {
				t.Fatalf("Err = %#v", c.Err())
			}
			// Nothing more goes out (the fake server fails on any frame but
			// connection.close): writing on a closed channel makes RabbitMQ close the
			// whole connection as a protocol error.
			if _, err := c.Publish("x", "k", &Properties{}, []byte("more")); !errors.Is(err, c.Err()) {
				t.Fatalf("Publish after the close = %v, want %v", err, c.Err())
			}
			if err := c.Flush(); !errors.Is(err, c.Err()) {
				t.Fatalf("Flush after the close = %v, want %v", err, c.Err())
			}
			if !<-replied {
				t.Fatal("no close-ok")
			}
			c.Close(time.Now().Add(2 * time.Second))
		})
	}
}

func TestASilentPeerIsDeadAfterTwoHeartbeatsAndAnIdleWriterSendsHeartbeats(t *testing.T) {
	beats := make(chan int, 1)
	url := fakeServer(t, func(p *fakePeer) {
		p.handshake(serverTune{channelMax: 2047, frameMax: 131072, heartbeat: 1})
		beats <- p.countHeartbeats()
	})
	c, _ := dialTest(t, url, Config{Heartbeat: 10 * time.Second})
	requirePresumedDead(t, c, 1500*time.Millisecond, 4*time.Second, "~2 heartbeat intervals of 1s")
	if n := <-beats; n < 2 {
		t.Fatalf("the idle client sent %d heartbeats in ~2s at 1s, want >= 2", n)
	}
}

func TestAnUnexpectedFrameIsAClearError(t *testing.T) {
	url := fakeServer(t, func(p *fakePeer) {
		p.handshake(defaultTune)
		p.sendMethod(1, methodID{classBasic, 50}, nil) // basic.return: we never publish mandatory
		_, _ = io_ReadAll(p.c)
	})
	c, _ := dialTest(t, url, Config{})
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("no error")
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "unexpected method 60.50 on channel 1") {
		t.Fatalf("Err = %v", err)
	}
}

func TestABatchOfPublishesGoesOutInOneWrite(t *testing.T) {
	got := make(chan int, 1)
	url := fakeServer(t, func(p *fakePeer) {
		p.handshake(defaultTune)
		n := 0
		for n < 100 {
			f, err := p.fr.read()
			if err != nil {
				break
			}
			if f.typ == frameBody {
				n++
			}
		}
		got <- n
		p.expect(mConnClose)
		p.sendMethod(0, mConnCloseOk, nil)
	})
	c, cc := dialTest(t, url, Config{})
	before := cc.writes.Load()
	for i := range 100 {
		if _, err := c.Publish("gateway", "MESSAGE_CREATE", &Properties{}, bytes.Repeat([]byte{byte(i)}, 300)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := cc.writes.Load() - before; n != 1 {
		t.Fatalf("100 publishes took %d writes, want 1", n)
	}
	if n := <-got; n != 100 {
		t.Fatalf("server read %d bodies", n)
	}
}

func TestCloseCutsTheSocketAtTheDeadlineWhenTheServerNeverAnswers(t *testing.T) {
	url := fakeServer(t, func(p *fakePeer) {
		p.handshake(defaultTune)
		p.expect(mConnClose) // and never answer
		_, _ = io_ReadAll(p.c)
	})
	c, _ := dialTest(t, url, Config{})
	start := time.Now()
	c.Close(time.Now().Add(300 * time.Millisecond))
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Close took %v, want the 300ms deadline", d)
	}
}

// io_ReadAll drains c until it fails.
func io_ReadAll(c net.Conn) (int, error) { //nolint:revive // test helper named after io.ReadAll
	buf := make([]byte, 4096)
	n := 0
	for {
		k, err := c.Read(buf)
		n += k
		if err != nil {
			return n, err
		}
	}
}

func TestALargeBodyIsWrittenInChunksWithoutBufferingAllOfIt(t *testing.T) {
	got := make(chan []byte, 1)
	url := fakeServer(t, func(p *fakePeer) {
		p.handshake(defaultTune)
		got <- p.expectPublish()
		p.expect(mConnClose)
		p.sendMethod(0, mConnCloseOk, nil)
	})
	c, cc := dialTest(t, url, Config{})
	body := make([]byte, 5<<20)
	for i := range body {
		body[i] = byte(i * 7)
	}
	before := cc.writes.Load()
	if _, err := c.Publish("gateway", "GUILD_CREATE", &Properties{}, body); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if cap(c.wbuf) > 2*(flushAt+c.FrameMax()) {
		t.Fatalf("write buffer grew to %d bytes for a %d byte body", cap(c.wbuf), len(body))
	}
	if n := cc.writes.Load() - before; n < int64(len(body)/(flushAt+c.FrameMax())) {
		t.Fatalf("%d writes for %d bytes", n, len(body))
	}
	if b := <-got; !bytes.Equal(b, body) {
		t.Fatalf("server got %d bytes, not the body", len(b))
	}
}

func TestConnectionBlockedAndUnblockedReachOnBlocked(t *testing.T) {
	url := fakeServer(t, func(p *fakePeer) {
		p.handshake(defaultTune)
		p.sendMethod(0, mConnBlocked, func(b []byte) []byte { return appendShortStr(b, "low on memory") })
		p.sendMethod(0, mConnUnblocked, nil)
		p.expect(mConnClose)
		p.sendMethod(0, mConnCloseOk, nil)
	})
	type event struct {
		active bool
		reason string
	}
	events := make(chan event, 2)
	c, _ := dialTest(t, url, Config{OnBlocked: func(active bool, reason string) { events <- event{active, reason} }})
	for _, want := range []event{{true, "low on memory"}, {false, ""}} {
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("OnBlocked(%v, %q), want (%v, %q)", got.active, got.reason, want.active, want.reason)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no OnBlocked(%v)", want.active)
		}
	}
	if err := c.Err(); err != nil {
		t.Fatalf("blocking ended the connection: %v", err)
	}
}

func TestWhileBlockedNoHeartbeatIsSentAndASilentPeerIsStillFoundDead(t *testing.T) {
	// Blocked, RabbitMQ reads nothing: a heartbeat write could wait for ever, and
	// with it the check for a peer gone silent (a host that died while blocking).
	sent := make(chan int, 1)
	url := fakeServer(t, func(p *fakePeer) {
		p.handshake(serverTune{channelMax: 2047, frameMax: 131072, heartbeat: 1})
		p.sendMethod(0, mConnBlocked, func(b []byte) []byte { return appendShortStr(b, "low on memory") })
		read := make(chan int, 1)
		go func() { read <- p.countHeartbeats() }()
		for range 10 { // alive for ~3 s: heartbeats of our own, then silence
			p.send(heartbeatFrame)
			time.Sleep(300 * time.Millisecond)
		}
		sent <- <-read
	})
	c, _ := dialTest(t, url, Config{})
	requirePresumedDead(t, c, 3*time.Second, 7*time.Second, "~2 intervals after its last heartbeat at ~3s")
	if n := <-sent; n != 0 {
		t.Fatalf("%d heartbeats sent while blocked, want 0", n)
	}
}

func TestAFrameSizeBeyondFrameMaxIsAnErrorOnEveryPlatform(t *testing.T) {
	// 0xFFFFFFFF would wrap to -1 as a 32-bit int and pass a plain comparison.
	for _, size := range []uint32{0xFFFFFFFF, 0x80000000, 131072} {
		hdr := []byte{frameMethod, 0, 1}
		hdr = binary.BigEndian.AppendUint32(hdr, size)
		fr := &frameReader{r: bufio.NewReader(bytes.NewReader(hdr)), frameMax: 131072}
		if _, err := fr.read(); err == nil || !strings.Contains(err.Error(), "exceeds frame_max") {
			t.Fatalf("size %#x: err = %v, want exceeds frame_max", size, err)
		}
	}
}

// requirePresumedDead waits for c to declare its silent peer dead, between lo and hi
// from now (want says why that window).
func requirePresumedDead(t *testing.T, c *Conn, lo, hi time.Duration, want string) {
	t.Helper()
	start := time.Now()
	select {
	case <-c.Done():
	case <-time.After(2 * hi):
		t.Fatalf("a silent peer was not declared dead within %v", 2*hi)
	}
	if d := time.Since(start); d < lo || d > hi {
		t.Fatalf("declared dead after %v, want %s", d, want)
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "presumed dead") {
		t.Fatalf("Err = %v", err)
	}
}
