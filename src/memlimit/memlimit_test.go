package memlimit

import (
	"context"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
)

func TestLimitIsTheLiveHeapAndRuntimeOverheadPlusAFixedHeadroom(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		name string
		u    Usage
		want int64
	}{
		{"garbage does not raise the limit", Usage{Live: 100 * mib, Total: 300 * mib, Objects: 250 * mib, Free: 40 * mib}, (100 + 10 + 12) * mib},
		{"released heap is not counted", Usage{Live: 100 * mib, Total: 300 * mib, Released: 40 * mib, Objects: 250 * mib}, (100 + 10 + 12) * mib},
		{"stacks and metadata are counted", Usage{Live: 10 * mib, Total: 60 * mib, Objects: 20 * mib, Free: 10 * mib}, (10 + 30 + 12) * mib},
		{"before the first GC every object counts as live", Usage{Total: 60 * mib, Objects: 20 * mib, Free: 10 * mib}, (20 + 30 + 12) * mib},
		{"inconsistent samples never lower it below live + headroom", Usage{Live: 10 * mib, Total: 5 * mib, Objects: 20 * mib}, (10 + 12) * mib},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Limit(tt.u, 12*mib); got != tt.want {
				t.Fatalf("Limit = %d MiB, want %d MiB", got/mib, tt.want/mib)
			}
		})
	}
}

func TestHeadroomKeepsAFullBufferWithinAQuarterOfItsBound(t *testing.T) {
	for _, bound := range []int{64 << 20, 256 << 20} {
		if h := Headroom(bound); h <= 0 || h > int64(bound)/4 {
			t.Fatalf("Headroom(%d) = %d: a full buffer could cost more than 1.25x its bound", bound, h)
		}
	}
}

func TestRunFollowsTheLiveHeapAndLiftsTheLimitWhenDone(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	live := make(chan uint64, 1)
	set := make(chan int64, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, clk, 1000, func() Usage { return Usage{Live: <-live} }, func(l int64) int64 { set <- l; return 0 }, func() {})
	}()
	for i, l := range []uint64{5000, 9000, 7000} {
		if i > 0 { // the first is set at once
			if err := clk.AwaitTimer(Every, time.After(10*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		live <- l
		if i > 0 {
			clk.Advance(Every)
		}
		if got := <-set; got != int64(l)+1000 {
			t.Fatalf("limit = %d with %d live, want %d", got, l, l+1000)
		}
	}
	cancel()
	if got := <-set; got != math.MaxInt64 {
		t.Fatalf("limit after ctx ended = %d, want none", got)
	}
	<-done
}

func TestStartLeavesAnOperatorsGOMEMLIMITAlone(t *testing.T) {
	env := func(k string) (string, bool) { return "200MiB", k == "GOMEMLIMIT" }
	if Start(context.Background(), env, 64<<20) {
		t.Fatal("Start overrode GOMEMLIMIT")
	}
}

func TestReadReportsTheRuntimesMemory(t *testing.T) {
	runtime.GC()
	u := Read(Samples())
	if u.Live == 0 || u.Total == 0 || u.Objects == 0 || u.Total < u.Objects {
		t.Fatalf("Read = %+v", u)
	}
}

func TestAnIdleProcessGivesBackTheGarbageOfABurst(t *testing.T) {
	const headroom = 1000
	for _, tt := range []struct {
		name     string
		samples  []Usage // one per tick after the first
		wantFree int
	}{
		{"garbage over the headroom and no GC for a second", repeat(Usage{Live: 5000, Objects: 9000, GCs: 3}, freeEvery), 1},
		{"a GC ran: the runtime is doing it", append(repeat(Usage{Live: 5000, Objects: 9000, GCs: 3}, freeEvery-1), Usage{Live: 5000, Objects: 9000, GCs: 4}), 0},
		{"garbage within the headroom", repeat(Usage{Live: 5000, Objects: 5500, Free: 400, GCs: 3}, freeEvery), 0},
		{"not quiet long enough", repeat(Usage{Live: 5000, Objects: 9000, GCs: 3}, freeEvery-1), 0},
		// A GC during the burst found its buffers live; they are garbage now, but no
		// metric shows it: once quiet, one GC checks.
		{"the live heap grew over the headroom during a burst", repeat(Usage{Live: 7000, Objects: 7000, GCs: 4}, freeEvery+1), 1},
		{"the live heap grew within the headroom", repeat(Usage{Live: 5800, Objects: 5800, GCs: 4}, freeEvery+1), 0},
		{"what the GC still found live is not checked again", repeat(Usage{Live: 7000, Objects: 7000, GCs: 4}, 3*freeEvery+1), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(time.Unix(0, 0))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			samples := append([]Usage{{Live: 5000, Objects: 6000, GCs: 3}}, tt.samples...)
			next := make(chan struct{})
			freed := 0
			done := make(chan struct{})
			go func() {
				defer close(done)
				i := 0
				afterFree := false
				read := func() Usage {
					if afterFree { // Run's read after free: the same moment, no tick
						afterFree = false
						return samples[min(i-1, len(samples)-1)]
					}
					u := samples[min(i, len(samples)-1)]
					if i > 0 && i <= len(tt.samples) {
						next <- struct{}{}
					}
					i++
					return u
				}
				Run(ctx, clk, headroom, read, func(int64) int64 { return 0 }, func() { freed++; afterFree = true })
			}()
			for range tt.samples {
				if err := clk.AwaitTimer(Every, time.After(10*time.Second)); err != nil {
					t.Fatal(err)
				}
				clk.Advance(Every)
				<-next
			}
			if err := clk.AwaitTimer(Every, time.After(10*time.Second)); err != nil {
				t.Fatal(err)
			}
			cancel()
			<-done
			if freed != tt.wantFree {
				t.Fatalf("freed %d times, want %d", freed, tt.wantFree)
			}
		})
	}
}

func repeat(u Usage, n int) []Usage {
	out := make([]Usage, n)
	for i := range out {
		out[i] = u
	}
	return out
}
