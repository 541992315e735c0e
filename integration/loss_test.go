package integration

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// eventKey names one dispatch the way the fault tests count them.
type eventKey struct {
	shard int
	seq   int64
}

func (k eventKey) String() string { return fmt.Sprintf("shard %d seq %d", k.shard, k.seq) }

// lossReport is what a consumer received of the dispatches fakediscord sent
// for one event name, counted by shard and seq.
type lossReport struct {
	sent       int
	lost       []eventKey // sent, never delivered
	duplicated int        // deliveries beyond the first of a dispatch
	foreign    int        // deliveries that match no sent dispatch
}

func (r lossReport) String() string {
	lost := make([]string, 0, len(r.lost))
	for i, k := range r.lost {
		if i == 20 {
			lost = append(lost, fmt.Sprintf("... and %d more", len(r.lost)-20))
			break
		}
		lost = append(lost, k.String())
	}
	return fmt.Sprintf("sent %d, lost %d, duplicated %d, foreign %d; lost: [%s]",
		r.sent, len(r.lost), r.duplicated, r.foreign, strings.Join(lost, ", "))
}

// countLoss reads c until every dispatch named t that fakediscord sent (first
// deliveries, not replays) has arrived or until timeout, then reports what
// was lost and duplicated by shard and seq. Replays of a dispatch count as
// the same dispatch: they carry the same bytes.
func countLoss(s *stack, c *consumer, t string, timeout time.Duration) lossReport {
	s.t.Helper()
	want := map[string]eventKey{}
	for _, d := range s.discord.Snapshot().Dispatches {
		if d.T == t && !d.Replay {
			want[string(d.Raw)] = eventKey{shard: d.Shard, seq: d.Seq}
		}
	}
	return tally(c, want, timeout)
}

// tally counts deliveries on c against want (body -> shard and seq).
func tally(c *consumer, want map[string]eventKey, timeout time.Duration) lossReport {
	seen := make(map[string]int, len(want))
	r := lossReport{sent: len(want)}
	deadline := time.After(timeout)
	for len(seen) < len(want) {
		d, ok := c.receive(deadline)
		if !ok {
			break
		}
		if _, mine := want[string(d.Body)]; !mine {
			r.foreign++
			continue
		}
		seen[string(d.Body)]++
	}
	// A short quiet period catches duplicates that trail the last first copy.
	quiet := time.After(300 * time.Millisecond)
	for {
		d, ok := c.receive(quiet)
		if !ok {
			break
		}
		if _, mine := want[string(d.Body)]; mine {
			seen[string(d.Body)]++
		} else {
			r.foreign++
		}
	}
	for body, k := range want {
		switch n := seen[body]; {
		case n == 0:
			r.lost = append(r.lost, k)
		case n > 1:
			r.duplicated += n - 1
		}
	}
	slices.SortFunc(r.lost, func(a, b eventKey) int {
		if a.shard != b.shard {
			return a.shard - b.shard
		}
		return int(a.seq - b.seq)
	})
	return r
}

// requireNoLoss fails the test when any dispatch named t was lost, naming
// each by shard and seq; duplicates are allowed (at-least-once) and logged.
func requireNoLoss(s *stack, c *consumer, t string, timeout time.Duration) lossReport {
	s.t.Helper()
	r := countLoss(s, c, t, timeout)
	if r.sent == 0 {
		s.t.Fatalf("no dispatch named %s was sent: the test proves nothing", t)
	}
	if len(r.lost) > 0 {
		s.t.Fatalf("dispatches lost at the consumer: %v", r)
	}
	s.t.Logf("%s: %v", t, r)
	return r
}
