package shard

import "time"

// Discord's per-connection send limit (DESIGN.md §4): 120 payloads per 60 s,
// everything counted: heartbeats, IDENTIFY, RESUME and commands.
const (
	sendLimit  = 120
	sendWindow = 60 * time.Second
)

// limiterWindow is the window the limiter keeps: Discord's, widened by a
// margin. Discord counts sends as they arrive, so two sends that left exactly
// one window apart arrive less than a window apart whenever the first was
// held up longer on the way (a busy socket, a retransmit), and the 121st
// would close the connection with 4008.
const limiterWindow = sendWindow + 2*time.Second

// The slots a window keeps back from commands (see reserveFor):
// handshakeSlots covers the one IDENTIFY or RESUME of a connection, and
// requestedBeatSlots the heartbeats Discord asks for with op 1; more op 1
// requests than that within a window are coalesced into one owed beat that
// goes out when a slot frees (or with the next regular beat).
const (
	handshakeSlots     = 1
	requestedBeatSlots = 3
)

// regularBeats is the most heartbeats at interval that fit in one window:
// beats are at least interval apart, so floor(window/interval)+1.
func regularBeats(interval time.Duration) int {
	if interval <= 0 {
		return sendLimit
	}
	return min(sendLimit, int(limiterWindow/interval)+1)
}

// reserveFor is how many slots of every window commands may not use when
// HELLO's heartbeat_interval is interval: the regular heartbeats, the
// handshake and the requested beats. A 41.25 s interval (Discord's usual)
// reserves 6, leaving 114 for commands; 4 s reserves 20, leaving 100.
func reserveFor(interval time.Duration) int {
	return min(sendLimit, regularBeats(interval)+handshakeSlots+requestedBeatSlots)
}

// sendLimiter enforces Discord's send limit on one connection as a sliding
// window over the times of recent sends. Every send is recorded. Regular
// heartbeats, IDENTIFY and RESUME never wait; requested heartbeats may use
// every slot but those of the regular beats and the handshake; commands
// may use every slot but reserveFor(interval). So whatever workers publish
// and however often Discord sends op 1, no 60 s window holds more than
// sendLimit sends and no heartbeat is starved.
type sendLimiter struct {
	window   time.Duration
	limit    int
	forCmds  int // slots commands may use
	forBeats int // slots requested heartbeats may use
	// Send times are kept as offsets from base (monotonic, like
	// time.Time.Sub): a third of time.Time's size, which keeps the writer
	// goroutine, whose stack the limiter lives on, within a small stack.
	base  time.Time
	sent  []time.Duration
	next  int
	count int
	// beats are the times of the last requestedBeatSlots requested
	// heartbeats: no more than that many go out per window, so a flood of
	// op 1 cannot eat the commands' share either.
	beats     []time.Duration
	beatsNext int
	beatsN    int
}

// newSendLimiter returns the limiter for a connection whose HELLO gave
// interval, with Discord's real limit; now is the connection's start.
func newSendLimiter(interval time.Duration, now time.Time) *sendLimiter {
	return &sendLimiter{
		base:     now,
		window:   limiterWindow,
		limit:    sendLimit,
		forCmds:  sendLimit - reserveFor(interval),
		forBeats: max(0, sendLimit-regularBeats(interval)-handshakeSlots),
		sent:     make([]time.Duration, sendLimit),
		beats:    make([]time.Duration, requestedBeatSlots),
	}
}

// wait reports how long a command must wait at now; 0 means it may go now.
func (l *sendLimiter) wait(now time.Time) time.Duration { return l.waitFor(now, l.forCmds) }

// waitBeat reports how long a heartbeat Discord asked for must wait.
func (l *sendLimiter) waitBeat(now time.Time) time.Duration {
	w := l.waitFor(now, l.forBeats)
	if l.beatsN == len(l.beats) { // the oldest of the last requested beats must leave the window
		w = max(w, l.beats[l.beatsNext]+l.window-now.Sub(l.base))
	}
	return max(w, 0)
}

// recordBeat notes a requested heartbeat sent at now.
func (l *sendLimiter) recordBeat(now time.Time) {
	l.record(now)
	l.beats[l.beatsNext] = now.Sub(l.base)
	l.beatsNext = (l.beatsNext + 1) % len(l.beats)
	l.beatsN = min(l.beatsN+1, len(l.beats))
}

// waitFor is how long until fewer than allowed sends are in the window.
func (l *sendLimiter) waitFor(now time.Time, allowed int) time.Duration {
	if allowed <= 0 {
		return l.window // never at this interval; look again later
	}
	if l.inWindow(now) < allowed {
		return 0
	}
	// The send that would free a slot is the oldest of the last `allowed`.
	idx := (l.next - allowed + l.limit*2) % l.limit
	return l.sent[idx] + l.window - now.Sub(l.base)
}

// record notes a send at now.
func (l *sendLimiter) record(now time.Time) {
	l.sent[l.next] = now.Sub(l.base)
	l.next = (l.next + 1) % l.limit
	if l.count < l.limit {
		l.count++
	}
}

// inWindow counts sends within the window ending at now.
func (l *sendLimiter) inWindow(now time.Time) int {
	n := 0
	at := now.Sub(l.base)
	for i := 1; i <= l.count; i++ {
		t := l.sent[(l.next-i+l.limit)%l.limit]
		if at-t >= l.window {
			break
		}
		n++
	}
	return n
}
