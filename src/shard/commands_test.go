package shard

import (
	"strconv"
	"testing"
	"time"
)

// TestCommandQueueKeepsOrderAcrossGrowthAndHoldsNoRingWhenEmpty: the ring
// grows with what is queued (interleaved with pops, so it wraps before it
// grows), keeps first in, first out, stops at CommandQueueSize, and is let go
// once empty.
func TestCommandQueueKeepsOrderAcrossGrowthAndHoldsNoRingWhenEmpty(t *testing.T) {
	cq := newCommandQueue()
	at := time.Unix(0, 0)
	next, want := 0, 0
	push := func() bool {
		ok, _ := cq.push(queuedCommand{body: []byte(strconv.Itoa(next)), at: at})
		if ok {
			next++
		}
		return ok
	}
	pop := func() {
		t.Helper()
		q, ok := cq.pop()
		if !ok || string(q.body) != strconv.Itoa(want) {
			t.Fatalf("pop = %q, %v; want %d", q.body, ok, want)
		}
		want++
	}
	for range 3 {
		push()
	}
	pop()
	for push() {
	}
	if cq.n != CommandQueueSize || len(cq.items) != CommandQueueSize {
		t.Fatalf("full queue holds %d in %d slots, want %d", cq.n, len(cq.items), CommandQueueSize)
	}
	for want < next {
		pop()
	}
	if cq.items != nil {
		t.Errorf("an empty queue holds a ring of %d slots", len(cq.items))
	}
	if _, ok := cq.pop(); ok {
		t.Error("pop from an empty queue")
	}
}
