package shard

import "time"

// sendLimiter enforces Discord's per-connection send limit (120 payloads per
// 60 s, DESIGN.md §4) as a sliding window over the times of recent sends.
// Every send is recorded, but only commands wait: they may use limit-reserved
// slots of the window, so the slots kept back are always there for
// heartbeats, IDENTIFY and RESUME, which go out at once. Workers publishing
// too many commands can never get a shard disconnected or starve its
// heartbeat.
type sendLimiter struct {
	window   time.Duration
	limit    int
	reserved int
	sent     []time.Time // ring of the last `limit` send times
	next     int
	count    int
}

func newSendLimiter(limit, reserved int, window time.Duration) *sendLimiter {
	return &sendLimiter{window: window, limit: limit, reserved: reserved, sent: make([]time.Time, limit)}
}

// wait reports how long a command must wait at now; 0 means it may go now.
func (l *sendLimiter) wait(now time.Time) time.Duration {
	allowed := l.limit - l.reserved
	if l.inWindow(now) < allowed {
		return 0
	}
	// The send that would free a slot is the oldest of the last `allowed`.
	idx := (l.next - allowed + l.limit*2) % l.limit
	return l.sent[idx].Add(l.window).Sub(now)
}

// record notes a send at now: a command once wait returned 0, or a
// heartbeat, IDENTIFY or RESUME, which never wait.
func (l *sendLimiter) record(now time.Time) {
	l.sent[l.next] = now
	l.next = (l.next + 1) % l.limit
	if l.count < l.limit {
		l.count++
	}
}

// inWindow counts sends within the window ending at now.
func (l *sendLimiter) inWindow(now time.Time) int {
	n := 0
	for i := 1; i <= l.count; i++ {
		t := l.sent[(l.next-i+l.limit)%l.limit]
		if now.Sub(t) >= l.window {
			break
		}
		n++
	}
	return n
}
