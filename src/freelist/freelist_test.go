package freelist

import (
	"sync"
	"testing"
)

func TestListKeepsAtMostItsCapacity(t *testing.T) {
	l := New[int](2)
	a, b, c := new(int), new(int), new(int)
	for _, tc := range []struct {
		x    *int
		kept bool
	}{{a, true}, {b, true}, {c, false}} {
		if got := l.Put(tc.x); got != tc.kept {
			t.Fatalf("Put = %v, want %v", got, tc.kept)
		}
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2", l.Len())
	}
	if l.Get() != b || l.Get() != a || l.Get() != nil {
		t.Fatal("Get is not last in, first out, or not nil when empty")
	}
}

func TestListIsSafeForConcurrentUse(t *testing.T) {
	l := New[int](4)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				x := l.Get()
				if x == nil {
					x = new(int)
				}
				l.Put(x)
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n < 1 || n > 4 {
		t.Fatalf("Len = %d, want 1..4", n)
	}
}

func BenchmarkGetPut(b *testing.B) {
	l := New[[]byte](8)
	l.Put(new([]byte))
	for b.Loop() {
		l.Put(l.Get())
	}
}
