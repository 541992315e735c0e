package shard

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/codec"
	"github.com/cordis-gateway/cordis/src/logging/logtest"
	"github.com/cordis-gateway/cordis/src/state"
)

// dropCounter is an Observer that also counts drops (like metrics.Metrics).
type dropCounter struct {
	nopObserver
	mu       sync.Mutex
	payloads map[string]int
	commands map[string]int
}

func newDropCounter() *dropCounter {
	return &dropCounter{payloads: map[string]int{}, commands: map[string]int{}}
}

func (d *dropCounter) PayloadDropped(_ int, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.payloads[reason]++
}

func (d *dropCounter) CommandDropped(_ int, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.commands[reason]++
}

func (d *dropCounter) counts() (payloads, commands map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, c := map[string]int{}, map[string]int{}
	for k, v := range d.payloads {
		p[k] = v
	}
	for k, v := range d.commands {
		c[k] = v
	}
	return p, c
}

func TestAFloodOfOp1GetsOnlyTheRequestedBeatShare(t *testing.T) {
	stub := newDiscordStub(t)
	_, pub, _ := startShard(t, stub, clock.Real(), nil)
	c := established(t, stub, pub, "sess") // 45 s interval: the first regular beat is at 22.5 s
	for range 300 {
		c.send(map[string]any{"op": 1, "d": nil})
	}
	time.Sleep(time.Second) // the shard would answer all 300 by now
	assert.Equal(t, requestedBeatSlots, len(c.beats), "300 op 1 within a second: beats sent")
	assert.Equal(t, 3, requestedBeatSlots, "Discord's limit leaves 3 requested beats per window")
}

func TestOversizedUncompressedFrameIsDroppedAndTheConnectionGoesOn(t *testing.T) {
	stub := newDiscordStub(t)
	obs := newDropCounter()
	s, pub, _ := startShard(t, stub, clock.Real(), func(c *Config) { c.Observer = obs })
	c := established(t, stub, pub, "sess")
	giant := append([]byte(`{"op":0,"s":2,"t":"MESSAGE_CREATE","d":{"content":"`), bytes.Repeat([]byte("x"), maxFrame)...)
	giant = append(giant, `"}}`...)
	c.sendRaw(giant)
	c.sendRaw([]byte(`{"op":0,"s":3,"t":"MESSAGE_CREATE","d":{}}`))
	got := pub.next(t)
	assert.Contains(t, got.body, `"s":3`, "the dispatch after the giant frame is published on the same connection")
	payloads, _ := obs.counts()
	assert.Equal(t, 1, payloads[dropFrameTooLarge])
	select {
	case <-c.closed:
		t.Fatal("the connection was closed")
	default:
	}
	waitUntil(t, func() bool { return s.seq.Load() == 3 })
	assert.Equal(t, 32<<20, maxFrame, "the documented frame bound")
}

func TestReadIntoKeepsAtMostTheLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		keep   bool
		buffer int // most capacity allowed after the read
	}{
		{"under", 1000, true, 8 << 10},
		{"exactly the limit", 64 << 10, true, 64<<10 + 1},
		{"one over", 64<<10 + 1, false, 64<<10 + 1},
		{"far over", 64 << 20, false, 64<<10 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf, size, err := readInto(nil, bytes.NewReader(make([]byte, tc.size)), 64<<10, nil)
			require.NoError(t, err)
			assert.Equal(t, int64(tc.size), size)
			if tc.keep {
				assert.Len(t, buf, tc.size)
			}
			assert.LessOrEqual(t, cap(buf), tc.buffer, "buffer grew past the limit")
		})
	}
}

func TestCommandsOlderThanOneWindowAreDroppedNotDeliveredLate(t *testing.T) {
	stub := newDiscordStub(t)
	clk := clock.NewFake(time.Unix(0, 0))
	obs := newDropCounter()
	s, pub, _ := startShard(t, stub, clk, func(c *Config) { c.Observer = obs })
	// Queued before the session exists: they wait.
	require.True(t, s.Send([]byte(`{"op":3,"d":{"status":"stale"}}`)))
	clk.Advance(maxCommandAge + time.Second)
	require.True(t, s.Send([]byte(`{"op":3,"d":{"status":"fresh"}}`)))
	c := established(t, stub, pub, "sess")
	got := c.expect(3)
	assert.Equal(t, "fresh", got["status"], "the command older than a window never reaches Discord")
	_, commands := obs.counts()
	assert.Equal(t, 1, commands[dropExpired])
	assert.Equal(t, 90*time.Second, maxCommandAge, "a command is at most a window and a half late")
	assert.Greater(t, maxCommandAge, limiterWindow, "a command that waited for the window to slide still goes")
}

func TestAFullCommandQueueCountsEveryDropAndLogsTheHeldBackCount(t *testing.T) {
	stub := newDiscordStub(t)
	clk := clock.NewFake(time.Unix(0, 0))
	obs := newDropCounter()
	var logs logtest.Buffer
	s, _, _ := startShard(t, stub, clk, func(c *Config) {
		c.Observer = obs
		c.Logger = newTestLogger(&logs)
	})
	for range CommandQueueSize {
		require.True(t, s.Send([]byte(`{"op":3,"d":{}}`)))
	}
	for range 1000 {
		require.False(t, s.Send([]byte(`{"op":3,"d":{}}`)))
	}
	_, commands := obs.counts()
	assert.Equal(t, 1000, commands[dropQueueFull])
	assert.Equal(t, 1, logs.Count(`"reason":"queue_full"`), "one warning for a burst: %s", logs.String())
	clk.Advance(dropWarnEvery)
	require.False(t, s.Send([]byte(`{"op":3,"d":{}}`)))
	assert.Contains(t, logs.String(), `"suppressed":999`, "the next warning says how many were held back")
	assert.Equal(t, 120, CommandQueueSize, "the queue holds one send window")
}

func newTestLogger(w *logtest.Buffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

func TestAFreshCommandReplacesAnExpiredOneInAFullQueue(t *testing.T) {
	stub := newDiscordStub(t)
	clk := clock.NewFake(time.Unix(0, 0))
	obs := newDropCounter()
	s, pub, _ := startShard(t, stub, clk, func(c *Config) { c.Observer = obs })
	// The shard is down: a window's worth of commands waits for it.
	for range CommandQueueSize {
		require.True(t, s.Send([]byte(`{"op":3,"d":{"status":"stale"}}`)))
	}
	require.False(t, s.Send([]byte(`{"op":3,"d":{"status":"stale"}}`)), "a full queue of live commands still drops the new one")
	clk.Advance(maxCommandAge + time.Second)
	require.True(t, s.Send([]byte(`{"op":3,"d":{"status":"fresh"}}`)), "an expired command makes room")
	c := established(t, stub, pub, "sess")
	got := c.expect(3)
	assert.Equal(t, "fresh", got["status"], "the fresh command is delivered, none of the expired ones")
	_, commands := obs.counts()
	assert.Equal(t, CommandQueueSize, commands[dropExpired], "every stale command is counted expired")
	assert.Equal(t, 1, commands[dropQueueFull])
}

// newIdleShards returns shards that are never run, sharing throttles.
func newIdleShards(n int, clk clock.Clock, logs *logtest.Buffer, th *Throttles) []*Shard {
	var shards []*Shard
	for id := range n {
		shards = append(shards, New(Config{
			ID: id, Total: n, Codec: codec.JSON{}, Clock: clk, Logger: newTestLogger(logs),
			Sessions: state.NewMemorySessions(), Throttles: th,
		}))
	}
	return shards
}

func TestForcedGCsAndCommandDropWarningsAreThrottledPerProcessNotPerShard(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	var logs logtest.Buffer
	th := NewThrottles(clk, newTestLogger(&logs))
	var freed atomic.Int32
	th.releaseMemory = func() { freed.Add(1) }
	shards := newIdleShards(100, clk, &logs, th)

	for range 2 { // two intervals
		for _, s := range shards {
			s.payloadDropped(dropInflatedTooLarge, 9<<20, 8<<20)
		}
		assert.Equal(t, 100, logs.Count(`"reason":"inflated_too_large"`),
			"a payload drop is warned about once per shard: each is its own connection's")
		clk.Advance(dropWarnEvery)
		logs.Reset()
	}
	assert.Equal(t, int32(2), freed.Load(), "at most one forced GC per interval for the whole process")

	// A broadcast command while every shard is down and its queue full.
	for _, s := range shards {
		for range CommandQueueSize {
			require.True(t, s.Send([]byte(`{"op":3,"d":{}}`)))
		}
	}
	for range 3 {
		for _, s := range shards {
			require.False(t, s.Send([]byte(`{"op":3,"d":{}}`)))
		}
	}
	assert.Equal(t, 1, logs.Count(`"reason":"queue_full"`), "one warning for the process")
	clk.Advance(dropWarnEvery)
	require.False(t, shards[0].Send([]byte(`{"op":3,"d":{}}`)))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"suppressed":299`) },
		10*time.Second, time.Millisecond, "the next warning counts what every shard held back")
}

// The held-back count of a throttled drop warning is logged when its window
// ends, even if nothing else happens on the shard (no command is sent, no
// further drop): a burst that stops is never reported short.
func TestHeldBackDropsAreLoggedWhenTheWindowEndsWhateverElseHappens(t *testing.T) {
	for _, reason := range []string{dropInflatedTooLarge, dropQueueFull} {
		t.Run(reason, func(t *testing.T) {
			clk := clock.NewFake(time.Unix(0, 0))
			var logs logtest.Buffer
			th := NewThrottles(clk, newTestLogger(&logs))
			th.releaseMemory = func() {}
			s := newIdleShards(1, clk, &logs, th)[0]
			drop := func() { s.payloadDropped(reason, 9<<20, 8<<20) }
			if reason == dropQueueFull {
				for range CommandQueueSize {
					require.True(t, s.Send([]byte(`{"op":3,"d":{}}`)))
				}
				drop = func() { require.False(t, s.Send([]byte(`{"op":3,"d":{}}`))) }
			}
			for range 5 {
				drop()
			}
			clk.Advance(dropWarnEvery - time.Nanosecond)
			assert.NotContains(t, logs.String(), `"suppressed":4`, "not before the window ends")
			clk.Advance(time.Nanosecond)
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"suppressed":4`) },
				10*time.Second, time.Millisecond, "the 4 held back are logged when the window ends")
			assert.Equal(t, 2, logs.Count(`"reason":"`+reason+`"`), "one warning, one summary")
		})
	}
}
