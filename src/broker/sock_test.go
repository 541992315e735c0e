package broker

import (
	"bytes"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the writes that reach the "socket".
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// pipeSock is a sockConn over one end of a net.Pipe (which has no buffer: a write
// waits until the other end reads it, like a socket whose peer stopped reading).
func pipeSock(t *testing.T, stall time.Duration) (*sockConn, *countingConn, net.Conn, *atomic.Bool) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	cc := &countingConn{Conn: a}
	var blocked atomic.Bool
	return newSockConn(cc, stall, &blocked), cc, b, &blocked
}

func TestSockWriteFailsWhenThePeerStopsReading(t *testing.T) {
	sc, _, _, _ := pipeSock(t, 50*time.Millisecond)
	start := time.Now()
	if _, err := sc.Write([]byte("frame")); !errors.Is(err, errStalled) {
		t.Fatalf("write to a peer that never reads: %v, want errStalled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the stalled write took %v", d)
	}
	// The stream is broken: every later write fails at once.
	if _, err := sc.Write([]byte("x")); !errors.Is(err, errStalled) {
		t.Fatalf("write after the stall: %v, want the same error", err)
	}
	if err := sc.failed(); !errors.Is(err, errStalled) {
		t.Fatalf("failed() = %v", err)
	}
}

func TestSockSlowPeerThatKeepsReadingIsNotFrozen(t *testing.T) {
	sc, _, peer, _ := pipeSock(t, 50*time.Millisecond)
	msg := bytes.Repeat([]byte("x"), 64)
	got := make(chan []byte, 1)
	go func() {
		var all []byte
		buf := make([]byte, 8)
		for len(all) < len(msg) {
			time.Sleep(20 * time.Millisecond) // 8 bytes per 20 ms: the whole write takes ~160 ms
			n, err := peer.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				break
			}
		}
		got <- all
	}()
	if _, err := sc.Write(msg); err != nil {
		t.Fatalf("write to a slow but reading peer: %v", err)
	}
	if b := <-got; !bytes.Equal(b, msg) {
		t.Fatalf("peer read %q", b)
	}
}

func TestSockWriteWaitsWhileRabbitMQBlocksPublishers(t *testing.T) {
	sc, _, peer, blocked := pipeSock(t, 30*time.Millisecond)
	blocked.Store(true)
	done := make(chan error, 1)
	go func() { _, err := sc.Write([]byte("frame")); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("write returned %v while publishers were blocked", err)
	case <-time.After(200 * time.Millisecond): // several stall periods
	}
	buf := make([]byte, 16)
	if n, err := peer.Read(buf); err != nil || string(buf[:n]) != "frame" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}
	if err := <-done; err != nil {
		t.Fatalf("write after unblocking: %v", err)
	}
}

func TestSockExpireFailsAPendingWriteAtOnce(t *testing.T) {
	sc, _, _, blocked := pipeSock(t, time.Hour)
	blocked.Store(true) // even a write that would wait on purpose
	done := make(chan error, 1)
	go func() { _, err := sc.Write([]byte("frame")); done <- err }()
	time.Sleep(20 * time.Millisecond)
	sc.expire()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("write succeeded after expire")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("expire did not end the pending write")
	}
}

func TestStallWatchNeedsLimitTicksWithoutAConfirm(t *testing.T) {
	type tick struct {
		waiting   bool
		confirmed uint64
		stalled   bool
	}
	tests := []struct {
		name  string
		ticks []tick
	}{
		{"confirms keep coming", []tick{{true, 1, false}, {true, 2, false}, {true, 3, false}, {true, 4, false}}},
		{"nothing in flight", []tick{{false, 0, false}, {false, 0, false}, {false, 0, false}, {false, 0, false}}},
		{"stalled after limit ticks", []tick{{true, 5, false}, {true, 5, false}, {true, 5, true}}},
		{"a confirm resets the count", []tick{{true, 5, false}, {true, 5, false}, {true, 6, false}, {true, 6, false}, {true, 6, true}}},
		{"an idle tick resets the count", []tick{{true, 5, false}, {true, 5, false}, {false, 5, false}, {true, 5, false}, {true, 5, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := stallWatch{limit: 2}
			for i, tk := range tt.ticks {
				if got := w.stalled(tk.waiting, tk.confirmed); got != tk.stalled {
					t.Fatalf("tick %d: stalled = %v, want %v", i, got, tk.stalled)
				}
			}
		})
	}
}
