package fakediscord

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// connectShards connects and identifies n shards from a few workers and
// returns the clients in shard order.
func connectShards(tb testing.TB, s *Server, n int, comp Compression) []*testClient {
	tb.Helper()
	clients := make([]*testClient, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				c, err := quietDial(s, comp)
				if err != nil {
					errs <- err
					continue
				}
				c.t = tb
				if err := c.quietHandshake(s, i, n); err != nil {
					errs <- fmt.Errorf("shard %d: %w", i, err)
					continue
				}
				clients[i] = c
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		for _, c := range clients {
			_ = c.ws.Close()
		}
	})
	return clients
}

func manyOptions() Options {
	return Options{IdentifyInterval: time.Nanosecond, MaxConcurrency: 1 << 16, HeartbeatInterval: time.Minute, SessionStartTotal: 1 << 20}
}

func TestHundredsOfShardsConnectIdentifyAndReceiveADispatch(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	s := startServer(t, manyOptions())
	clients := connectShards(t, s, n, CompressZlib)
	if _, err := s.Dispatch(AllShards, "MESSAGE_CREATE", SampleMessageCreate()); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		p, _ := c.expectDispatch("MESSAGE_CREATE")
		if seq, _ := asInt64(p["s"]); seq != 2 {
			t.Fatalf("shard %d: s = %v", i, p["s"])
		}
	}
	snap := s.Snapshot()
	if len(snap.Shards) != n || len(snap.AcceptedIdentifies()) != n || len(snap.Violations) != 0 {
		t.Fatalf("shards %d identifies %d violations %v", len(snap.Shards), len(snap.AcceptedIdentifies()), snap.Violations)
	}
}

func TestCloseEndsEveryGoroutineTheServerStarted(t *testing.T) {
	before := runtime.NumGoroutine()
	s := New(manyOptions())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	connectShards(t, s, 20, CompressZstd)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = s.Load(ctx, LoadOptions{Duration: time.Hour})
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-done // Load ends when the server closes
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before+2 {
		t.Fatalf("%d goroutines after Close, %d before", g, before)
	}
}

// BenchmarkConnections2000 holds 2,000 identified zlib-stream shards on
// one server and reports heap bytes per connection. Run with
// go test -run x -bench Connections2000 -benchtime 1x ./fakediscord
func BenchmarkConnections2000(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		s := New(manyOptions())
		if err := s.Start(); err != nil {
			b.Fatal(err)
		}
		clients := connectShards(b, s, 2000, CompressZlib)
		if _, err := s.Dispatch(AllShards, "TYPING_START", SampleTypingStart()); err != nil {
			b.Fatal(err)
		}
		for _, c := range clients {
			if _, err := c.readPlain(); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/2000, "heap-bytes/conn(incl.client)")
		for _, c := range clients {
			_ = c.ws.Close()
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
