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
		Run(ctx, clk, 1000, func() Usage { return Usage{Live: <-live} }, func(l int64) int64 { set <- l; return 0 })
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
