package shard

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfirmWindowMarkOnlyPassesSettledDispatches(t *testing.T) {
	type step struct {
		op   string // "hand", "settle", "withdraw", "start"
		seq  int64
		want int64 // the mark after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"in-order confirms advance", []step{
			{"hand", 1, 0}, {"hand", 2, 0}, {"settle", 1, 1}, {"settle", 2, 2},
		}},
		{"a nacked dispatch holds the mark until it is confirmed", []step{
			{"hand", 1, 0}, {"hand", 2, 0}, {"hand", 3, 0},
			{"settle", 2, 0}, {"settle", 3, 0}, {"settle", 1, 3},
		}},
		{"a late duplicate confirm changes nothing", []step{
			{"hand", 1, 0}, {"settle", 1, 1}, {"settle", 1, 1},
		}},
		{"a withdrawn dispatch is handed over again after a resume", []step{
			{"hand", 1, 0}, {"hand", 2, 0}, {"withdraw", 2, 0}, {"settle", 1, 1},
			{"hand", 2, 1}, {"settle", 2, 2},
		}},
		{"a restored session starts at the stored seq", []step{
			{"start", 40, 40}, {"hand", 41, 40}, {"settle", 41, 41},
		}},
		{"a seq at or below the mark is not tracked", []step{
			{"start", 40, 40}, {"hand", 40, 40}, {"settle", 40, 40}, {"hand", 41, 40}, {"settle", 41, 41},
		}},
		{"withdrawing a repeated seq keeps the original outstanding", []step{
			{"hand", 7, 0}, {"hand", 7, 0}, {"withdraw", 7, 0}, {"hand", 8, 0}, {"settle", 8, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w confirmWindow
			w.start(0)
			refs := map[int64]int64{}
			for i, st := range tt.steps {
				switch st.op {
				case "hand":
					refs[st.seq] = w.handOver(st.seq, true)
				case "settle":
					w.settle(refs[st.seq], nil)
				case "withdraw":
					w.withdraw(refs[st.seq])
				case "start":
					w.start(st.seq)
				}
				require.Equal(t, st.want, w.settled(), "after step %d (%s %d)", i, st.op, st.seq)
			}
		})
	}
}

func TestConfirmWindowIgnoresOtherGenerationsAndUnsequencedDispatches(t *testing.T) {
	var w confirmWindow
	w.start(0)
	old := w.handOver(1, true)
	w.start(0) // a new session
	fresh := w.handOver(1, true)
	var stored []int64
	store := func(mark int64) { stored = append(stored, mark) }
	w.settle(old, store)
	assert.Empty(t, stored, "a confirm from the previous session must not count")
	assert.Equal(t, int64(-1), w.handOver(5, false), "a dispatch without s gets no ref")
	w.settle(-1, store)
	assert.Empty(t, stored)
	w.settle(fresh, store)
	assert.Equal(t, []int64{1}, stored)
}

// Confirms arrive on the publisher's goroutine while the reader hands over
// dispatches and new sessions start: a stored mark must always belong to
// the generation that is current when it is stored.
func TestConfirmWindowConcurrentSettleNeverStoresAnOldSessionsSeq(t *testing.T) {
	const perSession = 100
	var w confirmWindow
	refs := make(chan int64, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ref := range refs {
			w.settle(ref, func(mark int64) {
				// Called under w.mu: w.gen is the current generation, which
				// handed over seqs (gen-1)*perSession+1 .. gen*perSession.
				if lo := (w.gen - 1) * perSession; mark <= lo || mark > lo+perSession {
					t.Errorf("stored seq %d in generation %d", mark, w.gen)
				}
			})
		}
	}()
	seq := int64(0)
	for range 50 {
		w.start(0)
		for range perSession {
			seq++
			refs <- w.handOver(seq, true)
		}
	}
	close(refs)
	<-done
}

func TestConfirmWindowSettlesAnyOrderAndStaysSmall(t *testing.T) {
	var w confirmWindow
	w.start(0)
	const n = 20000
	refs := make([]int64, n)
	for i := range refs {
		refs[i] = w.handOver(int64(i+1), true)
	}
	r := rand.New(rand.NewPCG(3, 4))
	r.Shuffle(n, func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })
	settled := map[int64]bool{}
	for _, ref := range refs {
		seq := ref & (1<<refSeqBits - 1)
		settled[seq] = true
		w.settle(ref, nil)
		mark := w.settled()
		for s := int64(1); s <= mark; s += 997 { // spot-check: nothing unsettled is below the mark
			require.True(t, settled[s], "mark %d passes unsettled %d", mark, s)
		}
		require.True(t, mark == n || !settled[mark+1], "mark %d stops short of settled %d", mark, mark+1)
	}
	assert.Equal(t, int64(n), w.settled())
	assert.Zero(t, len(w.seqs), "everything settled: nothing kept")
}
