package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const defaultTestAMQPURL = "amqp://guest:guest@127.0.0.1:5672/"

// testAMQPURL returns the shared test broker's URL, or skips (fails under CI) when it
// cannot be reached.
func testAMQPURL(tb testing.TB) string {
	tb.Helper()
	raw := os.Getenv("CORDIS_TEST_AMQP_URL")
	if raw == "" {
		raw = defaultTestAMQPURL
	}
	conn, err := amqp.DialConfig(raw, amqp.Config{Dial: amqp.DefaultDial(3 * time.Second)})
	if err != nil {
		msg := "RabbitMQ not reachable at " + redactURL(raw) + " (set CORDIS_TEST_AMQP_URL): " + err.Error()
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	conn.Close()
	return raw
}

func randomKey(tb testing.TB) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return "TEST_" + hex.EncodeToString(b[:])
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}

// observer is an independent AMQP connection standing in for a bot's worker.
type observer struct {
	conn *amqp.Connection
	ch   *amqp.Channel
}

func newObserver(tb testing.TB, rawURL string) *observer {
	tb.Helper()
	conn, err := amqp.Dial(rawURL)
	if err != nil {
		tb.Fatalf("observer dial: %v", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		tb.Fatalf("observer channel: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &observer{conn: conn, ch: ch}
}

// bind declares an exclusive queue bound to exchange gateway on key and consumes it.
func (o *observer) bind(tb testing.TB, key string) <-chan amqp.Delivery {
	tb.Helper()
	q, err := o.ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		tb.Fatalf("declare observer queue: %v", err)
	}
	if err := o.ch.QueueBind(q.Name, key, ExchangeGateway, false, nil); err != nil {
		tb.Fatalf("bind observer queue: %v", err)
	}
	d, err := o.ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		tb.Fatalf("consume observer queue: %v", err)
	}
	return d
}

func receive(tb testing.TB, d <-chan amqp.Delivery, timeout time.Duration) amqp.Delivery {
	tb.Helper()
	select {
	case m, ok := <-d:
		if !ok {
			tb.Fatal("observer deliveries closed")
		}
		return m
	case <-time.After(timeout):
		tb.Fatal("timed out waiting for a message")
	}
	return amqp.Delivery{}
}

func testContext(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// proxy is a loopback TCP proxy in front of the broker whose connections the test can cut,
// and which can refuse new ones while "down".
type proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	down    bool
	refused int // connections turned away while down
	stalled atomic.Bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

func newProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// urlThrough rewrites rawURL to go through the proxy.
func (p *proxy) urlThrough(tb testing.TB, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			p.mu.Lock()
			p.refused++
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.stalled.Load() && !p.isClosed(src) {
			time.Sleep(5 * time.Millisecond) // a broker that stopped reading: TCP buffers fill up
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut drops every open connection and, if stayDown, refuses new ones until resume.
func (p *proxy) cut(stayDown bool) {
	p.mu.Lock()
	p.down = stayDown
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *proxy) isClosed(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, open := p.conns[c]
	return !open
}

func (p *proxy) refusedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

func (p *proxy) resume() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.cut(true)
	p.wg.Wait()
}
