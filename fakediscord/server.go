package fakediscord

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// Server is a fake Discord: REST (/api/v10/gateway/bot) and the gateway
// websocket on one listener. All methods are safe for concurrent use.
type Server struct {
	opts     Options
	upgrader websocket.Upgrader
	// traceName names this server in every _trace, as Discord names the gateway
	// node: READY and RESUMED bodies then differ between servers, so a consumer
	// on a shared broker can tell whose they are.
	traceName string

	ln      net.Listener
	httpSrv *http.Server
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // connection goroutines and load runs

	mu         sync.Mutex
	started    bool
	closed     bool
	nextConnID int
	conns      map[int]*conn
	connInfo   map[int]*ConnInfo
	connOrder  []int
	sessions   map[string]*session
	shards     map[int]*session // latest session of each shard id
	counters   map[int]*shardCounters
	bucketLast map[int]time.Time
	remaining  int
	resetAt    time.Time
	acksOff    map[int]bool // shard id (or AllShards) -> no heartbeat ACKs
	rec        records
	changed    chan struct{} // closed and replaced on every recorded change
}

type shardCounters struct {
	received, dispatched, dispatchedBytes int64
}

// AllShards as a shard argument means every shard with a session.
const AllShards = -1

// New returns a Server for opts (zero fields take defaults); call Start.
func New(opts Options) *Server {
	o := opts.withDefaults()
	s := &Server{
		opts:       o,
		conns:      map[int]*conn{},
		connInfo:   map[int]*ConnInfo{},
		sessions:   map[string]*session{},
		shards:     map[int]*session{},
		counters:   map[int]*shardCounters{},
		bucketLast: map[int]time.Time{},
		remaining:  o.SessionStartRemaining,
		acksOff:    map[int]bool{},
		changed:    make(chan struct{}),
		traceName:  fmt.Sprintf("gateway-fake-%08x", rand.Uint32()),
	}
	if opts.SessionStartRemaining < 0 {
		s.remaining = 0
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// A shared pool keeps idle connections from each holding a buffer.
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	return s
}

// Options returns the effective options (defaults filled in).
func (s *Server) Options() Options { return s.opts }

// Start listens on Options.Addr and serves until Close.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("fakediscord: Start called twice or after Close")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("fakediscord: listening on %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	s.started = true
	s.resetAt = time.Now().Add(s.opts.ResetAfter)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.httpSrv = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(ln) // returns when Close closes the server
	}()
	return nil
}

// Close drops every connection, stops the listener and waits for every
// goroutine the server started.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.started || s.closed {
		s.closed = true
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	err := s.httpSrv.Close()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("fakediscord: closing http server: %w", err)
	}
	return nil
}

// Addr is the host:port the server listens on (after Start).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// APIURL is the REST base, e.g. http://127.0.0.1:PORT/api/v10
// (the gateway's CORDIS_DISCORD_API).
func (s *Server) APIURL() string { return "http://" + s.Addr() + "/api/v10" }

// GatewayURL is the url /gateway/bot returns, e.g. ws://127.0.0.1:PORT.
func (s *Server) GatewayURL() string { return "ws://" + s.Addr() }

// ResumeURL is the resume_gateway_url READY carries.
func (s *Server) ResumeURL() string { return "ws://" + s.Addr() + "/resume" }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// Clients append "/?v=10..." or "?v=10..." to resume_gateway_url.
	if (r.URL.Path == "/" || r.URL.Path == "/resume" || r.URL.Path == "/resume/") && websocket.IsWebSocketUpgrade(r) {
		s.serveGateway(w, r)
		return
	}
	s.serveREST(w, r)
}

// notifyLocked wakes every waiter; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) countersLocked(shard int) *shardCounters {
	c := s.counters[shard]
	if c == nil {
		c = &shardCounters{}
		s.counters[shard] = c
	}
	return c
}

// trace is the _trace of HELLO, READY and RESUMED.
func (s *Server) trace() []any {
	return []any{fmt.Sprintf(`[%q,{"micros":0.0}]`, s.traceName)}
}
