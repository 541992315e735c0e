package shard

import (
	"sort"
	"sync"
)

// refSeqBits is how much of a publish ref holds the sequence; the bits above
// hold the session generation, so a confirm from an earlier session is
// recognised and ignored.
const refSeqBits = 40

// refSeq returns the sequence a publish ref carries; tracked is false for
// a ref of -1 (a dispatch handOver did not track).
func refSeq(ref int64) (seq int64, tracked bool) {
	if ref < 0 {
		return 0, false
	}
	return ref & (1<<refSeqBits - 1), true
}

// confirmWindow decides which sequence a restart may resume from: the
// highest one such that every dispatch handed to the publisher up to it was
// confirmed by RabbitMQ (or dropped for good). Confirms can come out of
// order: a nacked dispatch is published again after later ones were
// confirmed, and resuming past it would lose it.
//
// It holds the dispatches of one session generation handed over and not yet
// settled, in sequence order. handOver and withdraw run on the shard's
// reader; settle runs on the publisher's confirm goroutine.
type confirmWindow struct {
	mu   sync.Mutex
	gen  int64
	mark int64   // every handed-over seq <= mark is settled
	seqs []int64 // handed over, ascending; seqs[head:] not yet below mark
	done []bool  // done[i]: seqs[i] settled (out of order, waiting for the ones before it)
	head int
}

// start begins a session generation whose settled point is mark (0 for a
// new session, the stored seq for a restored one).
func (w *confirmWindow) start(mark int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	w.mark = mark
	w.seqs, w.done, w.head = w.seqs[:0], w.done[:0], 0
}

// current reports whether ref was handed over in the current generation.
func (w *confirmWindow) current(ref int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return ref >= 0 && ref>>refSeqBits == w.gen
}

// settled returns the current mark.
func (w *confirmWindow) settled() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mark
}

// handOver records that the dispatch with sequence seq is about to be
// handed to the publisher and returns its ref: -1 for a dispatch that is
// not tracked (no usable sequence, or one not above every seq already
// recorded, such as a repeat), whose confirm then changes nothing.
func (w *confirmWindow) handOver(seq int64, hasSeq bool) int64 {
	if !hasSeq || seq < 0 || seq >= 1<<refSeqBits {
		return -1
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq <= w.mark || (len(w.seqs) > w.head && seq <= w.seqs[len(w.seqs)-1]) {
		return -1
	}
	w.seqs = append(w.seqs, seq)
	w.done = append(w.done, false)
	return w.gen<<refSeqBits | seq
}

// withdraw forgets a dispatch the publisher did not take (Publish failed):
// it will be received again after a resume.
func (w *confirmWindow) withdraw(ref int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ref < 0 || ref>>refSeqBits != w.gen {
		return
	}
	seq := ref & (1<<refSeqBits - 1)
	if n := len(w.seqs); n > w.head && w.seqs[n-1] == seq && !w.done[n-1] {
		w.seqs, w.done = w.seqs[:n-1], w.done[:n-1]
	}
}

// settle records that the dispatch with ref was confirmed (or dropped for
// good). When that moves the mark, moved is called with it before the
// window can start a new generation: a late confirm of the old session
// can never overwrite what a new session stored. Safe for concurrent use
// with the other methods; moved must not call back into the window.
func (w *confirmWindow) settle(ref int64, moved func(mark int64)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ref < 0 || ref>>refSeqBits != w.gen {
		return
	}
	seq := ref & (1<<refSeqBits - 1)
	open := w.seqs[w.head:]
	i := sort.Search(len(open), func(i int) bool { return open[i] >= seq })
	if i == len(open) || open[i] != seq {
		return // already settled, or never handed over in this generation
	}
	w.done[w.head+i] = true
	before := w.mark
	for w.head < len(w.seqs) && w.done[w.head] {
		w.mark = w.seqs[w.head]
		w.head++
	}
	w.compact()
	if w.mark != before && moved != nil {
		moved(w.mark)
	}
}

// compact drops the settled prefix once it is most of the slices, keeping
// appends amortised O(1) without growing forever.
func (w *confirmWindow) compact() {
	if w.head == len(w.seqs) {
		w.seqs, w.done, w.head = w.seqs[:0], w.done[:0], 0
		return
	}
	if w.head < 1024 || w.head < len(w.seqs)/2 {
		return
	}
	n := copy(w.seqs, w.seqs[w.head:])
	copy(w.done, w.done[w.head:])
	w.seqs, w.done, w.head = w.seqs[:n], w.done[:n], 0
}
