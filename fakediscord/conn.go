package fakediscord

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

type outKind int

const (
	outPayload outKind = iota // goes through compression
	outRaw                    // written as-is, bypassing compression
	outClose                  // close frame, then close the socket
	outDrop                   // close the socket without a close frame
	outHostile                // bytes made by hostile from the compression context (hostile.go)
)

type outMsg struct {
	kind   outKind
	data   []byte
	code   int
	reason string
	rec    *Dispatch // recorded once written, when set
	count  bool      // count towards the shard's dispatch counters
	shard  int
	// hostile builds an outHostile message from the connection's
	// compression context (nil when uncompressed).
	hostile func(Compression, streamCompressor) ([]byte, error)
}

// conn is one gateway connection: the HTTP handler goroutine reads, one
// writer goroutine owns the socket's writes and the compression context.
type conn struct {
	s        *Server
	id       int
	ws       *websocket.Conn
	version  string // gateway version from the URL ("9" or "10")
	enc      Encoding
	compress Compression
	url      string
	// zlibPayloads is IDENTIFY's compress: true without transport
	// compression: each payload is its own zlib stream in a binary frame.
	zlibPayloads atomic.Bool

	// Guarded by s.mu.
	sess       *session
	identified bool
	shard      int

	qmu      sync.Mutex
	queue    []outMsg
	stopped  bool // a close or drop is queued; later messages are dropped
	wake     chan struct{}
	readDone chan struct{}

	lastBeat atomic.Int64 // unix nanos of the last heartbeat (or open)
	closing  atomic.Bool  // reader ignores messages once set
	sends    []int64      // reader only: receive times within SendWindow
}

// enqueue adds m to the write queue without blocking; false once the
// connection is closing.
func (c *conn) enqueue(m outMsg) bool {
	c.qmu.Lock()
	if c.stopped {
		c.qmu.Unlock()
		return false
	}
	if m.kind == outClose || m.kind == outDrop {
		c.stopped = true
	}
	c.queue = append(c.queue, m)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

func (c *conn) queued() int {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return len(c.queue)
}

// writeLoop writes queued messages and kills the connection when
// heartbeats stop. It returns once the socket is closed.
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	var comp streamCompressor
	var pz payloadZlib
	defer func() {
		if comp != nil {
			comp.close()
		}
	}()
	zombie := time.NewTimer(c.s.opts.ZombieTimeout)
	defer zombie.Stop()
	for {
		select {
		case <-c.s.ctx.Done():
			c.finish(0, "drop")
			return
		case <-c.readDone:
			c.finish(0, "")
			return
		case <-zombie.C:
			idle := time.Since(time.Unix(0, c.lastBeat.Load()))
			if left := c.s.opts.ZombieTimeout - idle; left > 0 {
				zombie.Reset(left)
				continue
			}
			c.s.violation(c, ViolationHeartbeatTimeout, 4009, "no heartbeat for "+idle.Round(time.Millisecond).String())
			c.enqueue(outMsg{kind: outClose, code: 4009, reason: "Session timed out."})
		case <-c.wake:
		}
		c.qmu.Lock()
		batch := c.queue
		c.queue = nil
		c.qmu.Unlock()
		for _, m := range batch {
			switch m.kind {
			case outDrop:
				c.finish(0, "drop")
				return
			case outClose:
				c.closeWith(m.code, m.reason)
				return
			case outRaw, outHostile:
				data, err := m.data, error(nil)
				if m.kind == outHostile {
					data, err = m.hostile(c.compress, comp)
				}
				if err != nil || c.write(data) != nil {
					c.finish(0, "drop")
					return
				}
			case outPayload:
				data := m.data
				if comp == nil && c.compress != CompressNone {
					var err error
					if comp, err = newCompressor(c.compress); err != nil {
						c.finish(0, "drop")
						return
					}
				}
				binary := c.enc != EncodingJSON || comp != nil
				if comp != nil {
					var err error
					if data, err = comp.compress(data); err != nil {
						c.finish(0, "drop")
						return
					}
				} else if c.zlibPayloads.Load() {
					data, binary = pz.compress(data), true
				}
				// Recorded before the write, so whatever a client has seen
				// is already in the Snapshot.
				if m.rec != nil || m.count {
					c.s.recordSent(m)
				}
				if err := c.writeMsg(binary, data); err != nil {
					c.finish(0, "drop")
					return
				}
			}
		}
	}
}

func (c *conn) write(data []byte) error {
	return c.writeMsg(c.enc != EncodingJSON || c.compress != CompressNone, data)
}

func (c *conn) writeMsg(binary bool, data []byte) error {
	mt := websocket.TextMessage
	if binary {
		mt = websocket.BinaryMessage
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(mt, data)
}

// closeWith sends a close frame, gives the client a moment to answer (so
// the frame is not lost to a reset) and closes the socket.
func (c *conn) closeWith(code int, reason string) {
	c.closing.Store(true)
	c.s.markClosed(c, code, "server")
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	select {
	case <-c.readDone:
	case <-time.After(time.Second):
	case <-c.s.ctx.Done():
	}
	_ = c.ws.Close()
}

// finish closes the socket; by is recorded unless the close is already.
func (c *conn) finish(code int, by string) {
	c.closing.Store(true)
	if by != "" {
		c.s.markClosed(c, code, by)
	}
	_ = c.ws.Close()
}
