package fakediscord

import (
	"errors"
	"fmt"
	"sort"
)

// Errors returned by the controls.
var (
	ErrNoSession    = errors.New("fakediscord: shard has no session")
	ErrNotConnected = errors.New("fakediscord: shard is not connected")
)

// Dispatch sends event t with data d to shard (or AllShards) as an op 0
// with the session's next s, kept for RESUME replay. A shard whose session
// is disconnected gets it on resume. It returns the seq used (the last one
// for AllShards).
func (s *Server) Dispatch(shard int, t string, d any) (int64, error) {
	return s.dispatch(shard, t, d, true)
}

func (s *Server) dispatch(shard int, t string, d any, record bool) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sessions, err := s.targetsLocked(shard)
	if err != nil {
		return 0, err
	}
	var seq int64
	for _, sess := range sessions {
		if seq, err = s.dispatchLocked(sess, t, d, record); err != nil {
			return 0, fmt.Errorf("fakediscord: dispatching %s to shard %d: %w", t, sess.shard, err)
		}
	}
	return seq, nil
}

// targetsLocked returns the live sessions of shard or of all shards.
func (s *Server) targetsLocked(shard int) ([]*session, error) {
	if shard != AllShards {
		sess := s.shards[shard]
		if sess == nil || sess.invalid {
			return nil, fmt.Errorf("%w (shard %d)", ErrNoSession, shard)
		}
		return []*session{sess}, nil
	}
	ids := make([]int, 0, len(s.shards))
	for id, sess := range s.shards {
		if !sess.invalid {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	out := make([]*session, len(ids))
	for i, id := range ids {
		out[i] = s.shards[id]
	}
	return out, nil
}

// connsLocked returns the connections currently carrying shard (or all).
func (s *Server) connsLocked(shard int) ([]*conn, error) {
	sessions, err := s.targetsLocked(shard)
	if err != nil {
		return nil, err
	}
	var out []*conn
	for _, sess := range sessions {
		if sess.conn != nil {
			out = append(out, sess.conn)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w (shard %d)", ErrNotConnected, shard)
	}
	return out, nil
}

func (s *Server) each(shard int, f func(*conn) error) error {
	s.mu.Lock()
	conns, err := s.connsLocked(shard)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for _, c := range conns {
		if err := f(c); err != nil {
			return err
		}
	}
	return nil
}

// Send sends a non-dispatch payload {op, d} (s and t null) to shard.
func (s *Server) Send(shard, op int, d any) error {
	return s.each(shard, func(c *conn) error { return s.sendOp(c, op, d) })
}

// RequestHeartbeat sends op 1: the client must heartbeat at once.
func (s *Server) RequestHeartbeat(shard int) error { return s.Send(shard, OpHeartbeat, nil) }

// Reconnect sends op 7: the client should reconnect and resume.
func (s *Server) Reconnect(shard int) error { return s.Send(shard, OpReconnect, nil) }

// InvalidSession sends op 9 with d = resumable. Either way the connection
// is no longer authenticated, so the client may RESUME or IDENTIFY on it.
// When not resumable the session ends, so a later RESUME of it gets op 9
// false too.
func (s *Server) InvalidSession(shard int, resumable bool) error {
	s.mu.Lock()
	sessions, err := s.targetsLocked(shard)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	var conns []*conn
	for _, sess := range sessions {
		if !resumable {
			sess.end()
		}
		if sess.conn != nil {
			conns = append(conns, sess.conn)
			sess.conn.identified, sess.conn.sess = false, nil
			sess.conn = nil
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
	if len(conns) == 0 && resumable {
		return fmt.Errorf("%w (shard %d)", ErrNotConnected, shard)
	}
	for _, c := range conns {
		_ = s.sendOp(c, OpInvalidSession, resumable)
	}
	return nil
}

// CloseShard closes shard's connection with code and reason. The session
// stays resumable except after 4004, 4007, 4009 and 4010-4014.
func (s *Server) CloseShard(shard, code int, reason string) error {
	return s.each(shard, func(c *conn) error {
		c.enqueue(outMsg{kind: outClose, code: code, reason: reason})
		return nil
	})
}

// DropShard closes shard's TCP connection without a close frame.
func (s *Server) DropShard(shard int) error {
	return s.each(shard, func(c *conn) error {
		c.enqueue(outMsg{kind: outDrop})
		return nil
	})
}

// SetHeartbeatACKs turns heartbeat ACKs (op 11) on or off for shard or
// AllShards (which also covers connections not identified yet).
func (s *Server) SetHeartbeatACKs(shard int, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if shard == AllShards && enabled {
		clear(s.acksOff)
		return
	}
	if enabled {
		delete(s.acksOff, shard)
	} else {
		s.acksOff[shard] = true
	}
}

// SendRaw writes data to shard as one binary websocket message exactly as
// given, bypassing compression (e.g. corrupt zlib data).
func (s *Server) SendRaw(shard int, data []byte) error {
	return s.each(shard, func(c *conn) error {
		c.enqueue(outMsg{kind: outRaw, data: data})
		return nil
	})
}

// SendPayload writes data to shard as a payload that goes through the
// connection's compression (e.g. bad ETF or truncated JSON).
func (s *Server) SendPayload(shard int, data []byte) error {
	return s.each(shard, func(c *conn) error {
		c.enqueue(outMsg{kind: outPayload, data: data})
		return nil
	})
}
