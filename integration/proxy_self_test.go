package integration

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("echo listen: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadBytes('\n')
					if err != nil {
						return
					}
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends one line and reports whether it came back within d.
func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, d time.Duration) bool {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(d))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return false
	}
	line, err := r.ReadString('\n')
	return err == nil && line == "ping\n"
}

func dialProxy(t *testing.T, p *faultProxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

// The fault proxy is the instrument of the fault tests: prove each mode
// does what they rely on, without any service.
func TestFaultProxyModes(t *testing.T) {
	const quick, stuck = 2 * time.Second, 300 * time.Millisecond

	t.Run("freeze stops open connections but not new ones", func(t *testing.T) {
		p := newFaultProxy(t, echoServer(t))
		old, oldR := dialProxy(t, p)
		if !roundTrip(t, old, oldR, quick) {
			t.Fatal("no echo before freeze")
		}
		p.freeze()
		if roundTrip(t, old, oldR, stuck) {
			t.Fatal("a frozen connection still echoed")
		}
		fresh, freshR := dialProxy(t, p)
		if !roundTrip(t, fresh, freshR, quick) {
			t.Fatal("a connection opened after freeze did not echo")
		}
		p.thaw()
		// The ping written while frozen arrives now, then a new one.
		_ = old.SetReadDeadline(time.Now().Add(quick))
		if line, err := oldR.ReadString('\n'); err != nil || line != "ping\n" {
			t.Fatalf("after thaw: %q, %v", line, err)
		}
		if !roundTrip(t, old, oldR, quick) {
			t.Fatal("no echo after thaw")
		}
	})

	t.Run("blackhole accepts and never answers", func(t *testing.T) {
		p := newFaultProxy(t, echoServer(t))
		p.blackhole(true)
		c, r := dialProxy(t, p)
		if roundTrip(t, c, r, stuck) {
			t.Fatal("a blackholed connection echoed")
		}
		p.blackhole(false)
		c2, r2 := dialProxy(t, p)
		if !roundTrip(t, c2, r2, quick) {
			t.Fatal("no echo after the blackhole ended")
		}
		if got := p.connections(); got != 2 {
			t.Fatalf("accepted %d connections, want 2", got)
		}
	})

	t.Run("block refuses and cut drops", func(t *testing.T) {
		p := newFaultProxy(t, echoServer(t))
		c, r := dialProxy(t, p)
		p.block()
		if roundTrip(t, c, r, quick) {
			t.Fatal("a connection survived block")
		}
		c2, r2 := dialProxy(t, p)
		if roundTrip(t, c2, r2, stuck) {
			t.Fatal("a connection made while blocked echoed")
		}
		p.unblock()
		c3, r3 := dialProxy(t, p)
		if !roundTrip(t, c3, r3, quick) {
			t.Fatal("no echo after unblock")
		}
	})

	t.Run("slow holds every chunk back", func(t *testing.T) {
		p := newFaultProxy(t, echoServer(t))
		p.slow(150 * time.Millisecond)
		c, r := dialProxy(t, p)
		start := time.Now()
		if !roundTrip(t, c, r, quick) {
			t.Fatal("no echo while slow")
		}
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Fatalf("round trip took %v, want >= 300ms (150ms each way)", took)
		}
	})
}
