package integration

import (
	"net"
	"sync"
	"testing"
	"time"
)

// faultProxy is a loopback TCP proxy between the gateway and one service
// (RabbitMQ, Redis or fakediscord) that plays the faults production brings:
//
//   - block: refuse new connections and cut the open ones (a clean outage)
//   - cut: drop every open connection without a goodbye
//   - freeze: the open connections stop moving in both directions (the peer
//     stops reading, TCP buffers fill) while new connections still work
//   - blackhole: new connections are accepted and then never answered or read
//   - slow: every chunk is held back for a delay before it is forwarded
//
// Each mode is undone by its opposite (unblock, thaw, blackhole(false),
// slow(0)); the zero state forwards everything as it comes.
type faultProxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu        sync.Mutex
	blocked   bool
	holes     bool
	delay     time.Duration
	frozen    map[net.Conn]chan struct{} // frozen connections; closed by thaw
	conns     map[net.Conn]struct{}
	accepted  int
	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &faultProxy{
		t: t, ln: ln, target: target, done: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, frozen: map[net.Conn]chan struct{}{},
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// addr is host:port of the proxy.
func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// block refuses new connections and cuts the open ones.
func (p *faultProxy) block() {
	p.mu.Lock()
	p.blocked = true
	p.mu.Unlock()
	p.cut()
}

// unblock lets connections through again.
func (p *faultProxy) unblock() {
	p.mu.Lock()
	p.blocked = false
	p.mu.Unlock()
}

// cut drops every open connection (blackholed ones too) without a goodbye.
func (p *faultProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// freeze stops every byte on the connections open now, both ways, until
// thaw; connections opened later are not frozen.
func (p *faultProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	gate := make(chan struct{})
	for c := range p.conns {
		if _, ok := p.frozen[c]; !ok {
			p.frozen[c] = gate
		}
	}
}

// thaw lets frozen connections move again.
func (p *faultProxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	closed := map[chan struct{}]bool{}
	for c, gate := range p.frozen {
		if !closed[gate] {
			close(gate)
			closed[gate] = true
		}
		delete(p.frozen, c)
	}
}

// blackhole makes new connections hang (accepted, never read or answered)
// while on; connections already blackholed stay so until cut.
func (p *faultProxy) blackhole(on bool) {
	p.mu.Lock()
	p.holes = on
	p.mu.Unlock()
}

// slow holds every forwarded chunk back by d (0: forward at once).
func (p *faultProxy) slow(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// connections is how many connections the proxy has accepted so far.
func (p *faultProxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *faultProxy) close() {
	p.closeOnce.Do(func() {
		close(p.done)
		_ = p.ln.Close()
		p.thaw()
		p.cut()
		p.wg.Wait()
	})
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepted++
		blocked, holes := p.blocked, p.holes
		if holes {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		switch {
		case blocked:
			_ = c.Close()
			continue
		case holes:
			continue // held open in conns until cut or close
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.track(c, up)
	}
}

func (p *faultProxy) track(down, up net.Conn) {
	p.mu.Lock()
	if p.blocked {
		// block() came while this connection was being dialed upstream:
		// its cut missed it, so it is refused here.
		p.mu.Unlock()
		_, _ = down.Close(), up.Close()
		return
	}
	p.conns[down], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	p.wg.Add(2)
	go p.pipe(up, down)
	go p.pipe(down, up)
}

// pipe copies src to dst, waiting before each read and each write while the
// proxy is frozen, and holding each chunk back by the slow delay.
func (p *faultProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		_ = dst.Close()
		_ = src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		delete(p.frozen, dst)
		delete(p.frozen, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		if !p.waitThawed(src, dst) {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitThawed(src, dst) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitThawed blocks while the link src -> dst is frozen, then sleeps the
// slow delay; false when the proxy is closing.
func (p *faultProxy) waitThawed(src, dst net.Conn) bool {
	var delay time.Duration
	for {
		p.mu.Lock()
		gate, ok := p.frozen[src]
		if !ok {
			gate, ok = p.frozen[dst]
		}
		delay = p.delay
		p.mu.Unlock()
		if !ok {
			break
		}
		select {
		case <-gate:
		case <-p.done:
			return false
		}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-p.done:
			return false
		}
	}
	return true
}
