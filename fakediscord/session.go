package fakediscord

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// session is a gateway session: what RESUME needs to replay.
type session struct {
	id         string
	shard      int
	shardTotal int
	intents    int64
	enc        Encoding
	seq        int64
	events     []sentEvent // the last ReplayBuffer dispatches
	conn       *conn       // nil while disconnected
	invalid    bool
}

type sentEvent struct {
	seq int64
	t   string
	d   any
	raw []byte // encoded in sess.enc
}

// end makes the session unresumable and frees its replay buffer.
func (sess *session) end() {
	sess.invalid = true
	sess.events = nil
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// register records a new connection.
func (s *Server) register(c *conn, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextConnID++
	c.id = s.nextConnID
	s.conns[c.id] = c
	s.connInfo[c.id] = &ConnInfo{ID: c.id, URL: c.url, Path: path, Encoding: string(c.enc), Compress: c.compress, Opened: time.Now(), Shard: -1}
	s.connOrder = append(s.connOrder, c.id)
	s.notifyLocked()
}

// markClosed records how a connection ended (the first report wins) and
// detaches its session, ending the session where Discord would.
func (s *Server) markClosed(c *conn, code int, by string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := s.connInfo[c.id]
	if info == nil || !info.Closed.IsZero() {
		return
	}
	info.Closed = time.Now()
	info.CloseCode = code
	info.ClosedBy = by
	delete(s.conns, c.id)
	if sess := c.sess; sess != nil && sess.conn == c {
		sess.conn = nil
		switch {
		case by == "client" && (code == 1000 || code == 1001):
			sess.end() // a clean close ends the session
		case by == "server" && endsSession(code):
			sess.end()
		}
	}
	s.notifyLocked()
}

// endsSession reports the close codes after which Discord does not let
// the session resume: invalid seq and session timed out (reconnect with a
// new IDENTIFY), and the fatal ones a client must not reconnect after.
func endsSession(code int) bool {
	switch code {
	case 4004, 4007, 4009, 4010, 4011, 4012, 4013, 4014:
		return true
	}
	return false
}

func (s *Server) violation(c *conn, kind string, code int, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.violations = appendCapped(s.rec.violations, Violation{Time: time.Now(), ConnID: c.id, Shard: c.shard, Kind: kind, Code: code, Detail: detail}, s.opts.RecordLimit)
	s.notifyLocked()
}

func (s *Server) recordReceived(c *conn, now time.Time, raw []byte, p map[string]any, err error) {
	m := Message{Time: now, ConnID: c.id, Raw: raw, Op: -1, Payload: p}
	if err != nil {
		m.Err = err.Error()
	} else if op, ok := asInt64(p["op"]); ok {
		m.Op = int(op)
		m.D = p["d"]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m.Shard = c.shard
	if c.shard >= 0 {
		s.countersLocked(c.shard).received++
	}
	s.rec.received = appendCapped(s.rec.received, m, s.opts.RecordLimit)
	s.notifyLocked()
}

func (s *Server) recordSent(m outMsg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cnt := s.countersLocked(m.shard)
	cnt.dispatched++
	cnt.dispatchedBytes += int64(len(m.data))
	if m.rec != nil {
		d := *m.rec
		d.Time = time.Now()
		s.rec.dispatches = appendCapped(s.rec.dispatches, d, s.opts.RecordLimit)
		s.notifyLocked()
	}
}

func (s *Server) isIdentified(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.identified
}

func (s *Server) acksEnabled(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.acksOff[AllShards] && (c.shard < 0 || !s.acksOff[c.shard])
}

// sendOp queues a non-dispatch payload (s and t null).
func (s *Server) sendOp(c *conn, op int, d any) error {
	b, err := EncodePayload(c.enc, op, d, 0, "")
	if err != nil {
		return err
	}
	if !c.enqueue(outMsg{kind: outPayload, data: b}) {
		return ErrNotConnected
	}
	return nil
}

// dispatchLocked gives the event the session's next seq, keeps it for
// replay and queues it on the session's connection, if any.
func (s *Server) dispatchLocked(sess *session, t string, d any, record bool) (int64, error) {
	raw, err := EncodePayload(sess.enc, OpDispatch, d, sess.seq+1, t)
	if err != nil {
		return 0, err
	}
	sess.seq++
	ev := sentEvent{seq: sess.seq, t: t, d: d, raw: raw}
	if len(sess.events) >= s.opts.ReplayBuffer {
		// Drop the oldest tenth at once so the copy is amortised.
		keep := s.opts.ReplayBuffer - s.opts.ReplayBuffer/10 - 1
		n := copy(sess.events, sess.events[len(sess.events)-keep:])
		clear(sess.events[n:])
		sess.events = sess.events[:n]
	}
	sess.events = append(sess.events, ev)
	if c := sess.conn; c != nil {
		c.enqueue(s.dispatchMsg(c, sess, ev, record, false))
	}
	return sess.seq, nil
}

// dispatchMsg builds the write of ev on c, re-encoding when c resumed the
// session in another encoding.
func (s *Server) dispatchMsg(c *conn, sess *session, ev sentEvent, record, replay bool) outMsg {
	raw := ev.raw
	if c.enc != sess.enc {
		if b, err := EncodePayload(c.enc, OpDispatch, ev.d, ev.seq, ev.t); err == nil {
			raw = b
		}
	}
	m := outMsg{kind: outPayload, data: raw, count: true, shard: sess.shard}
	if record {
		m.rec = &Dispatch{ConnID: c.id, Shard: sess.shard, SessionID: sess.id, Seq: ev.seq, T: ev.t, Raw: raw, Replay: replay}
	}
	return m
}
