package shard

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/codec"
	"github.com/cordis-gateway/cordis/src/state"
)

func TestClassifyClose(t *testing.T) {
	tests := []struct {
		code int
		want Action
	}{
		{4004, Fatal}, {4010, Fatal}, {4011, Fatal}, {4012, Fatal}, {4013, Fatal}, {4014, Fatal},
		{4003, Reidentify}, {4007, Reidentify}, {4009, Reidentify},
		{4000, Resume}, {4001, Resume}, {4002, Resume}, {4005, Resume}, {4008, Resume},
		{1000, Resume}, {1001, Resume}, {1006, Resume}, {4999, Resume},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ClassifyClose(tt.code), "close code %d", tt.code)
	}
}

func TestDispatchIsPublishedByteForByteAndIdentifyIsComplete(t *testing.T) {
	stub := newDiscordStub(t)
	_, pub, _ := startShard(t, stub, clock.Real(), nil)
	c := stub.next()
	assert.Equal(t, "/?v=10&encoding=json", c.url)
	c.hello(45000)
	id := c.expect(2)
	assert.Equal(t, "test-token", id["token"])
	assert.Equal(t, []any{1.0, 4.0}, id["shard"])
	assert.Equal(t, 513.0, id["intents"])
	assert.Equal(t, 250.0, id["large_threshold"])
	assert.Equal(t, false, id["compress"])
	props, _ := id["properties"].(map[string]any)
	assert.NotEmpty(t, props["os"])
	assert.NotEmpty(t, props["browser"])
	assert.NotEmpty(t, props["device"])

	c.ready(stub, "sess-1")
	ready := pub.next(t)
	assert.Equal(t, "READY", ready.key)
	assert.Equal(t, 1, ready.shardID)

	raw := `{"t":"MESSAGE_CREATE","s":2,"op":0,"d":{"content":"h\u00e9llo ✓","id":"1234567890123456789","n":18446744073709551615}}`
	c.sendRaw([]byte(raw))
	m := pub.next(t)
	assert.Equal(t, "MESSAGE_CREATE", m.key)
	assert.Equal(t, raw, m.body, "the body must be the bytes Discord sent")
}

// established brings a shard to READY on a fresh connection and returns it.
func established(t *testing.T, stub *discordStub, pub *recordingPublisher, session string) *stubConn {
	t.Helper()
	c := stub.next()
	c.hello(45000)
	c.expect(2)
	c.ready(stub, session)
	require.Equal(t, "READY", pub.next(t).key)
	return c
}

func TestReconnectOpcodeResumesOnResumeURLKeepingQuery(t *testing.T) {
	stub := newDiscordStub(t)
	_, pub, _ := startShard(t, stub, clock.Real(), func(c *Config) { c.Compress = "" })
	c := established(t, stub, pub, "sess-7")
	c.sendRaw([]byte(`{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{}}`))
	pub.next(t)
	c.send(map[string]any{"op": 7, "d": nil})

	r := stub.next()
	assert.Equal(t, "/resume?v=10&encoding=json", r.url)
	r.hello(45000)
	res := r.expect(6)
	assert.Equal(t, "sess-7", res["session_id"])
	assert.Equal(t, 2.0, res["seq"])
	assert.Equal(t, "test-token", res["token"])
	r.sendRaw([]byte(`{"op":0,"s":3,"t":"MESSAGE_CREATE","d":{"replayed":true}}`))
	r.sendRaw([]byte(`{"op":0,"s":4,"t":"RESUMED","d":{}}`))
	assert.Equal(t, "MESSAGE_CREATE", pub.next(t).key)
	assert.Equal(t, "RESUMED", pub.next(t).key)
}

func TestInvalidSessionRules(t *testing.T) {
	tests := []struct {
		name      string
		resumable bool
		wantURL   string
		wantOp    int
	}{
		{"op 9 true resumes", true, "/resume?v=10&encoding=json", 6},
		{"op 9 false identifies on the main url", false, "/?v=10&encoding=json", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stub := newDiscordStub(t)
			fake := clock.NewFake(time.Unix(0, 0))
			_, pub, _ := startShard(t, stub, fake, nil)
			c := established(t, stub, pub, "sess-9")
			c.send(map[string]any{"op": 9, "d": tt.resumable})
			if tt.resumable {
				afterBackoff(t, fake, shortSessionBackoff)
			} else {
				// Discord: wait 1-5 s before identifying again (Rand 0.5 -> 3 s).
				afterBackoff(t, fake, 3*time.Second)
			}
			r := stub.next()
			assert.Equal(t, tt.wantURL, r.url)
			r.hello(45000)
			r.expect(tt.wantOp)
		})
	}
}

func TestFatalCloseCodesStopTheShard(t *testing.T) {
	for _, code := range []int{4004, 4010, 4011, 4012, 4013, 4014} {
		stub := newDiscordStub(t)
		s, _, wait := startShard(t, stub, clock.Real(), nil)
		c := stub.next()
		c.hello(45000)
		c.expect(2)
		c.closeWith(code)
		err := wait()
		var fe *FatalError
		require.True(t, errors.As(err, &fe), "code %d: got %v", code, err)
		assert.Equal(t, code, fe.Code)
		assert.Equal(t, Stopped, s.State())
		assert.Contains(t, fe.Error(), "shard 1")
	}
}

func TestSessionEndingCloseCodesIdentifyAgain(t *testing.T) {
	for _, code := range []int{4003, 4007, 4009} {
		stub := newDiscordStub(t)
		_, pub, _ := startShard(t, stub, clock.Real(), nil)
		c := established(t, stub, pub, "sess")
		c.closeWith(code)
		r := stub.next()
		assert.Equal(t, "/?v=10&encoding=json", r.url, "code %d", code)
		r.hello(45000)
		r.expect(2)
	}
}

func TestOtherCloseCodesResume(t *testing.T) {
	stub := newDiscordStub(t)
	_, pub, _ := startShard(t, stub, clock.Real(), nil)
	c := established(t, stub, pub, "sess")
	c.closeWith(4000)
	r := stub.next()
	assert.Equal(t, "/resume?v=10&encoding=json", r.url)
	r.hello(45000)
	r.expect(6)
}

func TestZombieConnectionIsClosedAndResumed(t *testing.T) {
	stub := newDiscordStub(t)
	stub.setAutoAck(false)
	fake := clock.NewFake(time.Unix(0, 0))
	s, pub, _ := startShard(t, stub, fake, nil)
	c := stub.next()
	c.hello(1000)
	c.expect(2)
	c.ready(stub, "sess-z")
	pub.next(t)
	// First heartbeat after interval*rand (0.5) = 500 ms.
	awaitTimer(t, fake, 500*time.Millisecond, "the first heartbeat (interval x jitter)")
	waitUntil(t, func() bool { return s.seq.Load() == 1 })
	fake.Advance(500 * time.Millisecond)
	select {
	case d := <-c.beats:
		assert.Equal(t, 1.0, d, "heartbeat carries the last seq")
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat")
	}
	// No ACK before the next beat: zombie, so close and resume.
	awaitTimer(t, fake, time.Second, "the next heartbeat (the interval)")
	fake.Advance(time.Second)
	select {
	case <-c.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("zombie connection was not closed")
	}
	afterBackoff(t, fake, shortSessionBackoff)
	r := stub.next()
	assert.Equal(t, "/resume?v=10&encoding=json", r.url)
}

func TestHeartbeatRequestIsAnsweredAtOnce(t *testing.T) {
	stub := newDiscordStub(t)
	s, pub, _ := startShard(t, stub, clock.NewFake(time.Unix(0, 0)), nil)
	c := established(t, stub, pub, "sess")
	waitUntil(t, func() bool { return s.seq.Load() == 1 })
	c.send(map[string]any{"op": 1, "d": nil})
	select {
	case d := <-c.beats:
		assert.Equal(t, 1.0, d)
	case <-time.After(5 * time.Second):
		t.Fatal("op 1 was not answered with a heartbeat")
	}
}

func TestCommandsWaitForTheSessionThenGoOutUnchanged(t *testing.T) {
	stub := newDiscordStub(t)
	s, pub, _ := startShard(t, stub, clock.Real(), nil)
	cmd := []byte(`{"op":3,"d":{"status":"idle","afk":false,"since":null,"activities":[]}}`)
	require.True(t, s.Send(cmd))
	c := stub.next()
	c.hello(45000)
	c.expect(2) // the command must not go before IDENTIFY
	select {
	case p := <-c.payloads:
		t.Fatalf("command sent before READY: %v", p)
	case <-time.After(100 * time.Millisecond):
	}
	c.ready(stub, "sess")
	pub.next(t)
	got := c.expect(3)
	assert.Equal(t, "idle", got["status"])
}

func TestSendLimiterKeepsSlotsForHeartbeats(t *testing.T) {
	start := time.Unix(0, 0)
	l := newSendLimiter(41250*time.Millisecond, start) // Discord's usual interval: 6 reserved
	for i := range 114 {
		require.Zero(t, l.wait(start.Add(time.Duration(i)*time.Millisecond)), "command %d", i)
		l.record(start.Add(time.Duration(i) * time.Millisecond))
	}
	now := start.Add(time.Second)
	window := time.Minute + 2*time.Second // Discord's 60 s and the limiter's margin
	assert.Equal(t, window-time.Second, l.wait(now), "command 115 waits for the first send to leave the window")
	for range 6 { // the reserved slots: heartbeats, IDENTIFY or RESUME, requested beats
		l.record(now)
	}
	assert.Equal(t, 120, l.inWindow(now), "120 sends in the window, none over Discord's limit")
	assert.Equal(t, window-time.Second+6*time.Millisecond, l.wait(now), "commands wait until 7 sends left the window")
	assert.Zero(t, l.wait(start.Add(window+time.Second)), "window slid past the first sends")
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition never became true")
}

func TestResumeThatKeepsFailingFallsBackToIdentify(t *testing.T) {
	stub := newDiscordStub(t)
	fake := clock.NewFake(time.Unix(0, 0))
	_, pub, _ := startShard(t, stub, fake, nil)
	c := established(t, stub, pub, "sess-r")
	c.closeWith(4000)
	// Rand 0.5: backoff waits are 1.5 x 1 s, 2 s, 4 s, 8 s (the session
	// ended early, so it counts as the first failure).
	waits := []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second}
	for i := range maxResumeAttempts {
		afterBackoff(t, fake, waits[i])
		r := stub.next()
		require.Equal(t, "/resume?v=10&encoding=json", r.url, "attempt %d resumes", i+1)
		r.closeWith(4000) // the resume url is broken
	}
	afterBackoff(t, fake, 12*time.Second)
	r := stub.next()
	assert.Equal(t, "/?v=10&encoding=json", r.url, "after %d failed resumes the shard identifies", maxResumeAttempts)
	r.hello(45000)
	r.expect(2)
}

// gatedPublisher blocks Publish of one event name until the gate opens,
// as the broker does when its buffer is full.
type gatedPublisher struct {
	*recordingPublisher
	key     string
	gate    chan struct{}
	blocked chan struct{} // receives once Publish of key is waiting
}

func newGatedPublisher(key string) *gatedPublisher {
	return &gatedPublisher{recordingPublisher: &recordingPublisher{ch: make(chan published, 256)},
		key: key, gate: make(chan struct{}), blocked: make(chan struct{}, 1)}
}

func (p *gatedPublisher) Publish(ctx context.Context, shardID int, ref int64, key, body []byte) error {
	if string(key) == p.key {
		p.blocked <- struct{}{}
		select {
		case <-p.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return p.recordingPublisher.Publish(ctx, shardID, ref, key, body)
}

func TestBackPressureIsNotMistakenForAZombie(t *testing.T) {
	stub := newDiscordStub(t)
	fake := clock.NewFake(time.Unix(0, 0))
	gated := newGatedPublisher("SLOW")
	_, _, _ = startShard(t, stub, fake, func(c *Config) { c.Publisher = gated })
	c := stub.next()
	c.hello(1000)
	c.expect(2)
	c.ready(stub, "sess-bp")
	gated.next(t)
	c.sendRaw([]byte(`{"op":0,"s":2,"t":"SLOW","d":{}}`))
	await(t, gated.blocked, "publish blocked by back-pressure")
	// The reader is now stuck in Publish and reads no ACK; beats go on.
	awaitTimer(t, fake, 500*time.Millisecond, "the first heartbeat (interval x jitter)")
	fake.Advance(500 * time.Millisecond)
	for range 5 {
		await(t, c.beats, "heartbeat while publishing is blocked")
		awaitTimer(t, fake, time.Second, "the next heartbeat (the interval)")
		fake.Advance(time.Second)
	}
	select {
	case <-c.closed:
		t.Fatal("a shard held up by back-pressure was closed as a zombie")
	case <-time.After(50 * time.Millisecond):
	}
	close(gated.gate)
	assert.Equal(t, "SLOW", gated.next(t).key)
}

func TestResumeTimeoutWaitsWhileReplayIsHeldUp(t *testing.T) {
	stub := newDiscordStub(t)
	fake := clock.NewFake(time.Unix(0, 0))
	gated := newGatedPublisher("REPLAYED")
	_, _, _ = startShard(t, stub, fake, func(c *Config) { c.Publisher = gated })
	c := established(t, stub, gated.recordingPublisher, "sess-rt")
	c.send(map[string]any{"op": 7, "d": nil})
	afterBackoff(t, fake, shortSessionBackoff)
	r := stub.next()
	r.hello(45000)
	r.expect(6)
	r.sendRaw([]byte(`{"op":0,"s":2,"t":"REPLAYED","d":{}}`))
	r.sendRaw([]byte(`{"op":0,"s":3,"t":"RESUMED","d":{}}`))
	await(t, gated.blocked, "replay blocked by back-pressure")
	// Far past CORDIS_WS_RECONNECT_TIMEOUT (1 minute here) while blocked.
	for range 3 {
		awaitTimer(t, fake, time.Minute, "the resume timeout (CORDIS_WS_RECONNECT_TIMEOUT)")
		fake.Advance(time.Minute)
	}
	close(gated.gate)
	assert.Equal(t, "REPLAYED", gated.next(t).key)
	assert.Equal(t, "RESUMED", gated.next(t).key)
	select {
	case extra := <-stub.conns:
		t.Fatalf("the shard gave up its resume: new connection to %s", extra.url)
	case <-time.After(100 * time.Millisecond):
	}
}

// shortSessionBackoff is the wait after a session that ended within
// stableAfter: the first step of the backoff (Rand 0.5 -> 1 s + 0.5 x 1 s).
const shortSessionBackoff = 1500 * time.Millisecond

// afterBackoff advances the fake clock through the shard's wait of d
// before its next connection. A shard that never waits exactly d fails the
// test instead of hanging it.
func afterBackoff(t *testing.T, fake *clock.Fake, d time.Duration) {
	t.Helper()
	if err := fake.AwaitTimer(d, time.After(10*time.Second)); err != nil {
		t.Fatalf("the shard never waited %v: %v", d, err)
	}
	fake.Advance(d)
}

func TestASessionThatEndsEarlyBacksOff(t *testing.T) {
	stub := newDiscordStub(t)
	fake := clock.NewFake(time.Unix(0, 0))
	_, pub, _ := startShard(t, stub, fake, nil)
	c := established(t, stub, pub, "sess-short")
	c.closeWith(4000)
	select {
	case r := <-stub.conns:
		t.Fatalf("reconnected to %s at once after a session of no time", r.url)
	case <-time.After(100 * time.Millisecond):
	}
	afterBackoff(t, fake, shortSessionBackoff)
	r := stub.next()
	r.hello(45000)
	r.expect(6)
	r.sendRaw([]byte(`{"op":0,"s":2,"t":"RESUMED","d":{}}`))
	require.Equal(t, "RESUMED", pub.next(t).key)
	// A session that lasted reconnects at once.
	fake.Advance(stableAfter)
	r.closeWith(4000)
	stub.next()
}

func TestStoredSeqFollowsConfirmsNotHandOver(t *testing.T) {
	stub := newDiscordStub(t)
	fake := clock.NewFake(time.Unix(0, 0))
	sessions := state.NewMemorySessions()
	s, pub, _ := startShard(t, stub, fake, func(c *Config) { c.Sessions = sessions })
	pub.holdConfirms = true
	c := stub.next()
	c.hello(45000)
	c.expect(2)
	c.ready(stub, "sess-c")
	ready := pub.next(t)
	c.sendRaw([]byte(`{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{}}`))
	msg := pub.next(t)
	waitUntil(t, func() bool { return s.seq.Load() == 2 })

	stored := func() int64 {
		sess, ok, err := sessions.Load(context.Background(), 1)
		require.NoError(t, err)
		require.True(t, ok)
		return sess.Seq
	}
	assert.Zero(t, stored(), "handed over is not stored: RabbitMQ has not confirmed anything")
	s.Confirmed(msg.ref) // out of order, as after a nack of READY
	assert.Zero(t, stored(), "READY (s 1) is unconfirmed: a restart must not resume past it")
	s.Confirmed(ready.ref)
	assert.Equal(t, int64(2), stored(), "with READY confirmed, everything up to 2 is")
	s.Confirmed(ready.ref) // a late duplicate: the stored seq never goes back
	assert.Equal(t, int64(2), stored())

	// A new session: confirms of the old one no longer count.
	c.send(map[string]any{"op": 9, "d": false})
	afterBackoff(t, fake, 3*time.Second)
	r := stub.next()
	r.hello(45000)
	r.expect(2)
	r.ready(stub, "sess-d")
	pub.next(t)
	s.Confirmed(msg.ref)
	assert.Zero(t, stored(), "a confirm from the previous session is ignored")
}

func TestGatewayURLPutsTheQueryInDiscordsOrder(t *testing.T) {
	tests := []struct {
		name     string
		gateway  string
		resume   string
		codec    codec.Codec
		compress string
		useRes   bool
		want     string
	}{
		{"json without compression", "wss://gateway.discord.gg", "", codec.JSON{}, "", false, "wss://gateway.discord.gg/?v=10&encoding=json"},
		{"etf with zlib-stream", "wss://gateway.discord.gg/", "", codec.ETF{}, "zlib-stream", false, "wss://gateway.discord.gg/?v=10&encoding=etf&compress=zlib-stream"},
		{"a query on the url is replaced", "wss://gateway.discord.gg/?v=9", "", codec.JSON{}, "zstd-stream", false, "wss://gateway.discord.gg/?v=10&encoding=json&compress=zstd-stream"},
		{"resume url keeps its path and gets the query", "wss://gateway.discord.gg", "wss://us-east1-b.gateway.discord.gg/r", codec.ETF{}, "zstd-stream", true, "wss://us-east1-b.gateway.discord.gg/r?v=10&encoding=etf&compress=zstd-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Config{GatewayURL: tt.gateway, Codec: tt.codec, Compress: tt.compress, Logger: slog.New(slog.DiscardHandler)})
			s.session.ResumeURL = tt.resume
			got, err := s.gatewayURL(tt.useRes)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestADispatchThePublisherRefusedIsResumedAndThenStored(t *testing.T) {
	stub := newDiscordStub(t)
	fake := clock.NewFake(time.Unix(0, 0))
	sessions := state.NewMemorySessions()
	s, pub, _ := startShard(t, stub, fake, func(c *Config) { c.Sessions = sessions })
	c := established(t, stub, pub, "sess-f")
	pub.fail.Store(1)
	c.sendRaw([]byte(`{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{"n":2}}`))

	// The shard gives the connection up and resumes from what was handed over.
	afterBackoff(t, fake, shortSessionBackoff)
	r := stub.next()
	r.hello(45000)
	res := r.expect(6)
	assert.Equal(t, 1.0, res["seq"], "s 2 was never handed over")
	r.sendRaw([]byte(`{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{"n":2}}`))
	assert.Equal(t, `{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{"n":2}}`, pub.next(t).body)
	waitUntil(t, func() bool { return s.confirms.settled() == 2 })
	sess, ok, err := sessions.Load(context.Background(), 1)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int64(2), sess.Seq, "the replayed dispatch, confirmed, moves the stored seq")
}

func TestUnconfirmedDispatchesOfAGivenUpSessionAreNotReplayable(t *testing.T) {
	// A shutdown judges what it leaves unconfirmed by this: a restart resumes the kept
	// session from its confirmed seq, but nothing resumes a session given up before.
	stub := newDiscordStub(t)
	fake := clock.NewFake(time.Unix(0, 0))
	s, pub, _ := startShard(t, stub, fake, func(c *Config) { c.Sessions = state.NewMemorySessions() })
	pub.holdConfirms = true
	c := stub.next()
	c.hello(45000)
	c.expect(2)
	c.ready(stub, "sess-a")
	pub.next(t) // READY
	c.sendRaw([]byte(`{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{}}`))
	old := pub.next(t)
	assert.True(t, s.Replayable(old.ref), "unconfirmed, of the session a restart resumes")
	assert.True(t, s.Replayable(-1), "untracked repeats: their first copy is what counts")

	c.send(map[string]any{"op": 9, "d": false})
	waitUntil(t, func() bool { return !s.Replayable(old.ref) })

	afterBackoff(t, fake, 3*time.Second)
	r := stub.next()
	r.hello(45000)
	r.expect(2)
	r.ready(stub, "sess-b")
	fresh := pub.next(t)
	assert.True(t, s.Replayable(fresh.ref), "the new session's dispatch")
	assert.False(t, s.Replayable(old.ref), "the given-up session's dispatch, after a new session too")
}
