package shard

import (
	"testing"
	"time"
)

// The numbers below are Discord's, written out: these tests fail if anyone
// changes the limit (120 per 60 s, kept over 62 s for the sends' jitter on
// the way) or how the reserve follows the interval.

func TestReserveFollowsTheHeartbeatInterval(t *testing.T) {
	for _, tc := range []struct {
		interval       time.Duration
		reserve, cmds  int // slots kept back, slots left to commands
		requestedBeats int // slots requested heartbeats may use at most
	}{
		{41250 * time.Millisecond, 6, 114, 117}, // Discord's usual: 2 beats + handshake + 3 requested
		{30 * time.Second, 7, 113, 116},         // counted as 3 beats (floor+1: on the safe side)
		{4 * time.Second, 20, 100, 103},         // 16 beats
		{time.Second, 67, 53, 56},               // 63 beats in 62 s
		{500 * time.Millisecond, 120, 0, 0},     // 121 beats cannot fit: commands never go
	} {
		if got := reserveFor(tc.interval); got != tc.reserve {
			t.Errorf("reserveFor(%v) = %d, want %d", tc.interval, got, tc.reserve)
		}
		l := newSendLimiter(tc.interval, time.Time{})
		if l.forCmds != tc.cmds || l.forBeats != tc.requestedBeats {
			t.Errorf("interval %v: commands may use %d, requested beats %d; want %d, %d",
				tc.interval, l.forCmds, l.forBeats, tc.cmds, tc.requestedBeats)
		}
	}
}

// TestCommandsGetExactlyTheirShareOf120Per60s sends commands as fast as the
// limiter allows and counts them per window.
func TestCommandsGetExactlyTheirShareOf120Per60s(t *testing.T) {
	start := time.Unix(0, 0)
	l := newSendLimiter(4*time.Second, start)
	sent := 0
	for now := start; l.wait(now) == 0; now = now.Add(time.Millisecond) {
		l.record(now)
		sent++
	}
	if sent != 100 {
		t.Errorf("%d commands in the first window at a 4 s interval, want 120-20 = 100", sent)
	}
	if w := l.wait(start.Add(time.Second)); w != 61*time.Second {
		t.Errorf("next command waits %v, want 61 s (until the first leaves the 60 s window and its 2 s margin)", w)
	}
}

// TestNoFloodOfOp1OrCommandsExceeds120InAnyWindow drives the limiter the way
// writeLoop does, with regular heartbeats at a 4 s interval, Discord asking
// for a heartbeat every 10 ms, IDENTIFY, and a command always waiting, for
// five minutes, and checks every sliding 60 s window.
func TestNoFloodOfOp1OrCommandsExceeds120InAnyWindow(t *testing.T) {
	const interval = 4 * time.Second
	start := time.Unix(0, 0)
	l := newSendLimiter(interval, start)
	var sends, requested []time.Time
	send := func(now time.Time) { sends = append(sends, now) }
	l.record(start) // IDENTIFY
	send(start)
	nextBeat := start.Add(interval / 2)
	for now := start; now.Before(start.Add(5 * time.Minute)); now = now.Add(10 * time.Millisecond) {
		if !now.Before(nextBeat) {
			l.record(now)
			send(now)
			nextBeat = now.Add(interval)
		}
		if l.waitBeat(now) == 0 { // op 1 every tick, coalesced
			l.recordBeat(now)
			send(now)
			requested = append(requested, now)
		}
		if l.wait(now) == 0 {
			l.record(now)
			send(now)
		}
	}
	for i := range sends {
		n := 0
		for j := i; j < len(sends) && sends[j].Sub(sends[i]) < time.Minute; j++ {
			n++
		}
		if n > 120 {
			t.Fatalf("%d sends in the 60 s from %v: over Discord's 120", n, sends[i].Sub(start))
		}
	}
	// 3 requested beats per window, not one per op 1.
	if got, want := len(requested), 3*5; got != want {
		t.Errorf("%d requested heartbeats in 5 min, want %d", got, want)
	}
	// Commands go while the window holds fewer than 100 sends of any kind;
	// with 15 regular and 3 requested beats in it that is 82 per window.
	if cmds := len(sends) - len(requested) - 1 - int(5*time.Minute/interval); cmds < 5*80 {
		t.Errorf("%d commands in 5 min, want at least 400", cmds)
	}
}
