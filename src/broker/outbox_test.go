package broker

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// add is a test shorthand: queue body under key "K" for shard 0, without blocking.
func mustAdd(t *testing.T, o *outbox, body string) {
	t.Helper()
	if err := o.add(context.Background(), 0, 0, []byte("K"), []byte(body)); err != nil {
		t.Fatalf("add %q: %v", body, err)
	}
}

// sendAll plays the publisher: marks every pending entry sent with consecutive tags
// starting after last, and returns the last tag used.
func sendAll(o *outbox, last uint64) uint64 {
	var batch []entry
	for {
		batch = o.peek(maxInflight, 1<<30, batch[:0])
		if len(batch) == 0 {
			return last
		}
		o.markSent(len(batch), last+1)
		last += uint64(len(batch))
	}
}

// confirmOne confirms one delivery tag (basic.ack or nack without multiple).
func confirmOne(o *outbox, tag uint64, ack bool) confirmResult {
	r, _ := o.confirm(tag, false, ack, nil)
	return r
}

// held is what dispatches of these bodies count against the bound (costOf).
func held(bodies ...string) int {
	n := 0
	for _, b := range bodies {
		_, buf := (&bufPool{}).get([]byte(b))
		n += costOf(buf)
	}
	return n
}

func pendingBodies(o *outbox) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for i := range o.pending.len() {
		out = append(out, string(o.pending.at(i).body))
	}
	return out
}

func inflightTags(o *outbox) []uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []uint64
	for i := range o.inflight.len() {
		if e := o.inflight.at(i); !e.hole {
			out = append(out, e.tag)
		}
	}
	return out
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBufferCountsQueuedAndUnconfirmedBytes(t *testing.T) {
	o := newOutbox(1 << 20)
	mustAdd(t, o, "aaaa")
	mustAdd(t, o, "bb")
	if got, want := o.buffered(), held("aaaa", "bb"); got != want {
		t.Fatalf("queued: buffered = %d, want %d", got, want)
	}
	last := sendAll(o, 0)
	if got, want := o.buffered(), held("aaaa", "bb"); got != want {
		t.Fatalf("unconfirmed: buffered = %d, want %d", got, want)
	}
	confirmOne(o, 1, true)
	if got, want := o.buffered(), held("bb"); got != want {
		t.Fatalf("after one ack: buffered = %d, want %d", got, want)
	}
	confirmOne(o, last, true)
	if msgs, bytes := o.stats(); msgs != 0 || bytes != 0 || o.buffered() != 0 {
		t.Fatalf("after all acks: stats = %d, %d", msgs, bytes)
	}
}

func TestBufferCopiesBodyBecauseCallerReusesIt(t *testing.T) {
	o := newOutbox(1 << 20)
	buf := []byte("hello")
	if err := o.add(context.Background(), 3, 0, []byte("MESSAGE_CREATE"), buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX")
	e := o.peek(maxInflight, 1<<30, nil)[0]
	if string(e.body) != "hello" || e.key != "MESSAGE_CREATE" || e.shard != 3 {
		t.Fatalf("entry = %q %q %d", e.body, e.key, e.shard)
	}
}

func TestPublishBlocksWhenBufferFullUntilAConfirmFreesRoom(t *testing.T) {
	o := newOutbox(held("12345", "67890"))
	mustAdd(t, o, "12345")
	mustAdd(t, o, "67890")
	sendAll(o, 0)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := o.add(ctx, 0, 0, []byte("K"), []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("add into a full buffer: err = %v, want deadline exceeded", err)
	}
	if got := o.buffered(); got != held("12345", "67890") {
		t.Fatalf("a refused add changed the count: %d", got)
	}

	done := make(chan error, 1)
	go func() { done <- o.add(context.Background(), 0, 0, []byte("K"), []byte("abc")) }()
	waitFor(t, func() bool { o.mu.Lock(); defer o.mu.Unlock(); return len(o.waiters) == 1 })
	select {
	case err := <-done:
		t.Fatalf("add returned %v while the buffer was full", err)
	default:
	}
	confirmOne(o, 1, true) // frees the room of "12345"
	if err := <-done; err != nil {
		t.Fatalf("blocked add: %v", err)
	}
	if got, want := o.buffered(), held("67890", "abc"); got != want {
		t.Fatalf("buffered = %d, want %d", got, want)
	}
}

func TestBlockedPublishersAreServedInArrivalOrder(t *testing.T) {
	first, big := strings.Repeat("0", 3000), strings.Repeat("b", 3000)
	o := newOutbox(held(first, "s")) // room for "s" but not for big while first is buffered
	mustAdd(t, o, first)
	sendAll(o, 0)

	done := make(chan error, 2)
	for _, body := range []string{big, "s"} { // the big one arrived first: the small one must not overtake it
		go func() { done <- o.add(context.Background(), 0, 0, []byte("K"), []byte(body)) }()
		waitFor(t, func() bool {
			o.mu.Lock()
			defer o.mu.Unlock()
			return len(o.waiters) > 0 && len(o.waiters[len(o.waiters)-1].e.body) == len(body)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := o.add(ctx, 0, 0, []byte("K"), []byte("n")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a newcomer must queue behind the waiters even if it fits: %v", err)
	}
	confirmOne(o, 1, true)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := pendingBodies(o); !equal(got, []string{big, "s"}) {
		t.Fatalf("pending = %q, want arrival order", got)
	}
}

func TestDispatchLargerThanTheBufferEntersAloneWhenEmpty(t *testing.T) {
	o := newOutbox(4)
	mustAdd(t, o, "much larger than four bytes")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := o.add(ctx, 0, 0, []byte("K"), []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("add behind an oversized dispatch: %v, want blocked", err)
	}
}

func TestCancelledWaiterLetsTheNextOneIn(t *testing.T) {
	first := strings.Repeat("0", 3000)
	o := newOutbox(held(first, "ok"))
	mustAdd(t, o, first)
	sendAll(o, 0)
	ctx, cancel := context.WithCancel(context.Background())
	big := make(chan error, 1)
	go func() { big <- o.add(ctx, 0, 0, []byte("K"), []byte(strings.Repeat("b", 3000))) }()
	waitFor(t, func() bool { o.mu.Lock(); defer o.mu.Unlock(); return len(o.waiters) == 1 })
	small := make(chan error, 1)
	go func() { small <- o.add(context.Background(), 0, 0, []byte("K"), []byte("ok")) }()
	waitFor(t, func() bool { o.mu.Lock(); defer o.mu.Unlock(); return len(o.waiters) == 2 })
	cancel()
	if err := <-big; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled add: %v", err)
	}
	if err := <-small; err != nil { // fits once the big one gave up its place
		t.Fatalf("small add: %v", err)
	}
}

func TestRepublishAfterLossKeepsOrderUnconfirmedFirst(t *testing.T) {
	o := newOutbox(1 << 20)
	for i := 1; i <= 5; i++ {
		mustAdd(t, o, fmt.Sprint(i))
	}
	// 1..3 written on the old channel, 1 confirmed; 4 and 5 never written.
	o.markSent(3, 1)
	confirmOne(o, 1, true)
	mustAdd(t, o, "6") // published during the outage

	if n := o.requeueInflight(); n != 2 {
		t.Fatalf("requeued %d, want 2", n)
	}
	if got := pendingBodies(o); !equal(got, []string{"2", "3", "4", "5", "6"}) {
		t.Fatalf("republish order = %q", got)
	}
	// The new channel numbers from 1 again.
	sendAll(o, 0)
	if got := inflightTags(o); !equal(got, []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("new tags = %v", got)
	}
	if msgs, bytes := o.stats(); msgs != 5 || bytes != 5 || o.buffered() != held("2", "3", "4", "5", "6") {
		t.Fatalf("stats = %d, %d", msgs, bytes)
	}
}

func TestNackedDispatchIsPublishedAgainBeforeNewOnes(t *testing.T) {
	o := newOutbox(1 << 20)
	mustAdd(t, o, "a")
	mustAdd(t, o, "b")
	sendAll(o, 0)
	mustAdd(t, o, "c")
	r := confirmOne(o, 1, false)
	if r.requeued != 1 || r.acked != 0 {
		t.Fatalf("nack result = %+v", r)
	}
	if got := pendingBodies(o); !equal(got, []string{"a", "c"}) {
		t.Fatalf("pending = %q", got)
	}
	if got := inflightTags(o); !equal(got, []uint64{2}) {
		t.Fatalf("inflight = %v", got)
	}
	if got := o.buffered(); got != held("a", "b", "c") {
		t.Fatalf("a nack must not release bytes: %d", got)
	}
}

func TestOutOfOrderConfirmsReleaseWithoutPublishingAgain(t *testing.T) {
	// RabbitMQ confirms a dispatch no queue takes at once and a routed one once its queue
	// has it: single acks overtake each other, then a multiple ack covers what is left.
	o := newOutbox(1 << 20)
	for i, b := range []string{"a", "b", "c", "d", "e"} {
		if err := o.add(context.Background(), i, int64(100+i), []byte("K"), []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	sendAll(o, 0)
	steps := []struct {
		tag           uint64
		multiple, ack bool
		want          confirmResult
		settledRefs   []int64
		inflight      []uint64
		pending       []string
	}{
		{3, false, true, confirmResult{acked: 1}, []int64{102}, []uint64{1, 2, 4, 5}, nil},
		{3, false, true, confirmResult{stale: true}, nil, []uint64{1, 2, 4, 5}, nil},
		{2, false, false, confirmResult{requeued: 1}, nil, []uint64{1, 4, 5}, []string{"b"}},
		{4, true, true, confirmResult{acked: 2}, []int64{100, 103}, []uint64{5}, []string{"b"}},
		{5, false, true, confirmResult{acked: 1}, []int64{104}, nil, []string{"b"}},
		{5, true, true, confirmResult{stale: true}, nil, nil, []string{"b"}},
	}
	for i, st := range steps {
		r, done := o.confirm(st.tag, st.multiple, st.ack, nil)
		var refs []int64
		for _, d := range done {
			refs = append(refs, d.ref)
		}
		if r != st.want || !equal(refs, st.settledRefs) {
			t.Fatalf("step %d: confirm(%d, multiple %v, ack %v) = %+v settling %v, want %+v settling %v",
				i, st.tag, st.multiple, st.ack, r, refs, st.want, st.settledRefs)
		}
		if got := inflightTags(o); !equal(got, st.inflight) {
			t.Fatalf("step %d: inflight = %v, want %v", i, got, st.inflight)
		}
		if got := pendingBodies(o); !equal(got, st.pending) {
			t.Fatalf("step %d: pending = %q, want %q", i, got, st.pending)
		}
	}
	if msgs, bytes := o.stats(); msgs != 1 || bytes != 1 || o.inflightLen() != 0 || o.buffered() != held("b") {
		t.Fatalf("stats = %d, %d; inflight %d; buffered %d", msgs, bytes, o.inflightLen(), o.buffered())
	}
	// The holes are gone: the nacked one goes out on tag 6, right behind tag 5.
	if tag := sendAll(o, 5); tag != 6 {
		t.Fatalf("next tag = %d", tag)
	}
	if r, done := o.confirm(6, false, true, nil); r.acked != 1 || len(done) != 1 || done[0].ref != 101 {
		t.Fatalf("confirm(6) = %+v, %+v", r, done)
	}
	if err := o.waitEmpty(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestLossRequeuesOnlyWhatIsUnconfirmedAroundHoles(t *testing.T) {
	o := newOutbox(1 << 20)
	for _, b := range []string{"a", "b", "c", "d"} {
		mustAdd(t, o, b)
	}
	sendAll(o, 0)
	confirmOne(o, 2, true)
	confirmOne(o, 4, true)
	if n := o.requeueInflight(); n != 2 {
		t.Fatalf("requeued %d, want 2", n)
	}
	if got := pendingBodies(o); !equal(got, []string{"a", "c"}) {
		t.Fatalf("pending = %q", got)
	}
	if o.inflightLen() != 0 || inflightTags(o) != nil {
		t.Fatalf("inflight = %v", inflightTags(o))
	}
}

func TestStaleConfirmationIsIgnored(t *testing.T) {
	o := newOutbox(1 << 20)
	mustAdd(t, o, "a")
	mustAdd(t, o, "b")
	sendAll(o, 0)
	confirmOne(o, 1, true)
	for _, tag := range []uint64{1, 0, 99} {
		if r := confirmOne(o, tag, true); !r.stale {
			t.Fatalf("confirm(%d) = %+v, want stale", tag, r)
		}
	}
	if got := inflightTags(o); !equal(got, []uint64{2}) {
		t.Fatalf("inflight = %v", got)
	}
}

func TestAMultipleAckReleasesItsWholeRangeInOrder(t *testing.T) {
	o := newOutbox(1 << 20)
	for i := range 6 {
		if err := o.add(context.Background(), i, int64(100+i), []byte("K"), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	sendAll(o, 0)
	r, done := o.confirm(5, true, true, nil)
	if r.acked != 5 || r.requeued != 0 || r.stale || len(done) != 5 {
		t.Fatalf("confirm(5, multiple) = %+v, %d settled", r, len(done))
	}
	for i, d := range done {
		if d.shard != i || d.ref != int64(100+i) || d.key != "K" {
			t.Fatalf("settled[%d] = %+v: want shard %d, ref %d, in publish order", i, d, i, 100+i)
		}
	}
	if got := inflightTags(o); !equal(got, []uint64{6}) {
		t.Fatalf("inflight = %v", got)
	}
	if r, done := o.confirm(6, true, true, nil); r.acked != 1 || len(done) != 1 || done[0].ref != 105 {
		t.Fatalf("confirm(6, multiple) = %+v, %+v", r, done)
	}
	if r, _ := o.confirm(6, true, true, nil); !r.stale {
		t.Fatalf("tags confirmed already = %+v, want stale", r)
	}
}

func TestANackedRangeIsPublishedAgainFirstAndInOrder(t *testing.T) {
	o := newOutbox(1 << 20)
	for _, b := range []string{"a", "b", "c", "d"} {
		mustAdd(t, o, b)
	}
	sendAll(o, 0)
	mustAdd(t, o, "e")
	r, done := o.confirm(3, true, false, nil)
	if r.requeued != 3 || r.acked != 0 || len(done) != 0 {
		t.Fatalf("nack(3, multiple) = %+v, %d settled", r, len(done))
	}
	if got := pendingBodies(o); !equal(got, []string{"a", "b", "c", "e"}) {
		t.Fatalf("pending = %q", got)
	}
	if got := inflightTags(o); !equal(got, []uint64{4}) {
		t.Fatalf("inflight = %v", got)
	}
}

func TestCloseRefusesNewDispatchesAndFailsBlockedOnes(t *testing.T) {
	o := newOutbox(1)
	mustAdd(t, o, "a")
	blocked := make(chan error, 1)
	go func() { blocked <- o.add(context.Background(), 0, 0, []byte("K"), []byte("b")) }()
	waitFor(t, func() bool { o.mu.Lock(); defer o.mu.Unlock(); return len(o.waiters) == 1 })
	o.close()
	if err := <-blocked; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked add after close: %v", err)
	}
	if err := o.add(context.Background(), 0, 0, []byte("K"), []byte("c")); !errors.Is(err, ErrClosed) {
		t.Fatalf("add after close: %v", err)
	}
	if msgs, _ := o.stats(); msgs != 1 {
		t.Fatalf("close must keep what was queued: %d", msgs)
	}
}

func TestWaitEmptyReturnsOnceEverythingIsConfirmed(t *testing.T) {
	o := newOutbox(1 << 20)
	if err := o.waitEmpty(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, o, "a")
	sendAll(o, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := o.waitEmpty(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waitEmpty with one unconfirmed: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- o.waitEmpty(context.Background()) }()
	confirmOne(o, 1, true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPublishPathDoesNotAllocateInSteadyState(t *testing.T) {
	o := newOutbox(1 << 30)
	body := make([]byte, 1500)
	key := []byte("MESSAGE_CREATE")
	ctx := context.Background()
	var (
		tag   uint64
		batch []entry
		done  []settled
	)
	cycle := func() {
		if err := o.add(ctx, 1, 0, key, body); err != nil {
			t.Fatal(err)
		}
		batch = o.peek(maxInflight, 1<<30, batch[:0])
		o.markSent(len(batch), tag+1)
		tag += uint64(len(batch))
		_, done = o.confirm(tag, true, true, done[:0])
	}
	for range 100 {
		cycle() // warm the ring, the pool and the interned key
	}
	if n := testing.AllocsPerRun(1000, cycle); n > 0 {
		t.Fatalf("allocs per dispatch = %v, want 0", n)
	}
}

func TestRingKeepsOrderAcrossGrowthAndWraparound(t *testing.T) {
	var r ring
	next, want := 0, 0
	for round := range 5 {
		for range 100 * (round + 1) {
			r.pushBack(entry{shard: next})
			next++
		}
		for range 60 {
			if e := r.popFront(); e.shard != want {
				t.Fatalf("popFront = %d, want %d", e.shard, want)
			}
			want++
		}
	}
	r.pushFront(entry{shard: -1})
	if e := r.popFront(); e.shard != -1 {
		t.Fatalf("pushFront/popFront = %d", e.shard)
	}
	if e := r.popBack(); e.shard != next-1 {
		t.Fatalf("popBack = %d, want %d", e.shard, next-1)
	}
}

func TestBufferPoolSizeClasses(t *testing.T) {
	var p bufPool
	for _, n := range []int{0, 1, 256, 257, 1500, 60 << 10, 16 << 20, 16<<20 + 1} {
		src := make([]byte, n)
		if n > 0 {
			src[0], src[n-1] = 1, 2
		}
		bp, b := p.get(src)
		if len(b) != n || string(b) != string(src) {
			t.Fatalf("get(%d): len %d or content differs", n, len(b))
		}
		if (bp == nil) != (n > 16<<20) {
			t.Fatalf("get(%d): pooled = %v", n, bp != nil)
		}
		p.put(bp)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDispatchRefusedAsTooLargeIsDroppedAndOthersKept(t *testing.T) {
	o := newOutbox(1 << 20)
	for _, s := range []string{"a", "bb", "huge!", "c", "huge?"} {
		mustAdd(t, o, s)
	}
	sendAll(o, 0)
	o.requeueInflight()
	d, ok := o.dropFirstOfSize(5)
	if !ok || d.size != 5 || d.key != "K" {
		t.Fatalf("drop = %+v, %v", d, ok)
	}
	if got := pendingBodies(o); !equal(got, []string{"a", "bb", "c", "huge?"}) {
		t.Fatalf("pending = %q", got)
	}
	if got := o.buffered(); got != held("a", "bb", "c", "huge?") {
		t.Fatalf("buffered = %d", got)
	}
	if _, ok := o.dropFirstOfSize(42); ok {
		t.Fatal("dropped a dispatch of another size")
	}
}

func TestRoutingKeyLongerThanAMQPAllowsIsRefusedNotQueued(t *testing.T) {
	b := &Broker{out: newOutbox(1 << 20)}
	err := b.Publish(context.Background(), 0, 0, make([]byte, 256), []byte("x"))
	if err == nil {
		t.Fatal("a 256-byte routing key was accepted")
	}
	if msgs, _ := b.out.stats(); msgs != 0 {
		t.Fatal("it was queued")
	}
	if err := b.Publish(context.Background(), 0, 0, make([]byte, 255), []byte("x")); err != nil {
		t.Fatalf("255 bytes: %v", err)
	}
}

func TestBufferPoolClassesWasteAtMostAQuarter(t *testing.T) {
	prev := -1
	for n := 1; n <= 1<<20; n += 1 + n/97 {
		c, size, ok := classOf(n)
		if !ok || size < n {
			t.Fatalf("classOf(%d) = %d, %d, %v", n, c, size, ok)
		}
		if n > 1<<minClassShift && size > n+n/classSteps {
			t.Fatalf("classOf(%d): a %d-byte buffer wastes more than 1/%d", n, size, classSteps)
		}
		if c < prev || c >= numClasses {
			t.Fatalf("classOf(%d) = class %d after %d (of %d)", n, c, prev, numClasses)
		}
		prev = c
		// A buffer of exactly size is of the same class (put finds its pool).
		if c2, size2, _ := classOf(size); c2 != c || size2 != size {
			t.Fatalf("classOf(%d) = %d/%d, classOf(%d) = %d/%d", n, c, size, size, c2, size2)
		}
	}
	if c, size, ok := classOf(16 << 20); !ok || c != numClasses-1 || size != 16<<20 {
		t.Fatalf("classOf(16 MiB) = %d, %d, %v: want the last class", c, size, ok)
	}
}

// The bound must count what a buffered dispatch really holds: its size-class buffer and
// its slot, not only its body, or many small dispatches hold several times the bound.
func TestBufferedCountsWhatTheOutboxHolds(t *testing.T) {
	for _, size := range []int{1, 300, 5000, 70000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			n := 8 << 20 / (size + dispatchOverhead)
			body := make([]byte, size)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			o := newOutbox(1 << 40)
			for range n {
				if err := o.add(context.Background(), 0, 0, []byte("K"), body); err != nil {
					t.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			held := int(after.HeapAlloc) - int(before.HeapAlloc)
			buffered := o.buffered()
			t.Logf("%d dispatches of %d B: heap +%d B, buffered %d B (%.2fx)", n, size, held, buffered, float64(buffered)/float64(held))
			if held > buffered {
				t.Errorf("the outbox holds %d B but counts %d B", held, buffered)
			}
			// Counted but not held: at most the ring's unused half (a slot per dispatch).
			if slack := n*int(unsafe.Sizeof(entry{})) + 256<<10; buffered-held > slack { // 256 KiB: GC noise
				t.Errorf("the outbox counts %d B for the %d B it holds: the bound would waste memory", buffered, held)
			}
			runtime.KeepAlive(o)
		})
	}
}

func TestEachVisitsEveryUnconfirmedDispatchButNotHoles(t *testing.T) {
	o := newOutbox(1 << 20)
	for i := range 4 {
		if err := o.add(context.Background(), i, int64(100+i), []byte("K"), []byte{'x'}); err != nil {
			t.Fatal(err)
		}
	}
	sendAll(o, 0)
	confirmOne(o, 2, true) // a hole behind tag 1
	if err := o.add(context.Background(), 4, 104, []byte("K"), []byte{'y'}); err != nil {
		t.Fatal(err)
	}
	var refs []int64
	o.each(func(e *entry) { refs = append(refs, e.ref) })
	slices.Sort(refs)
	if !equal(refs, []int64{100, 102, 103, 104}) {
		t.Fatalf("each visited %v", refs)
	}
}
