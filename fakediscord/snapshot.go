package fakediscord

import (
	"context"
	"sort"
	"time"
)

// Snapshot is a consistent copy of everything recorded so far. Its slices
// are shared read-only: do not modify them.
type Snapshot struct {
	Requests    []Request
	Connections []ConnInfo // by ID
	Identifies  []Identify
	Resumes     []Resume
	Violations  []Violation
	Received    []Message
	Dispatches  []Dispatch
	Shards      map[int]ShardState
	// SessionStartRemaining is session_start_limit.remaining now.
	SessionStartRemaining int
}

// Snapshot returns what the server recorded so far.
func (s *Server) Snapshot() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

func (s *Server) snapshotLocked() *Snapshot {
	snap := &Snapshot{
		Requests:              capped(s.rec.requests),
		Identifies:            capped(s.rec.identifies),
		Resumes:               capped(s.rec.resumes),
		Violations:            capped(s.rec.violations),
		Received:              capped(s.rec.received),
		Dispatches:            capped(s.rec.dispatches),
		Connections:           make([]ConnInfo, 0, len(s.connOrder)),
		Shards:                make(map[int]ShardState, len(s.shards)),
		SessionStartRemaining: s.remaining,
	}
	for _, id := range s.connOrder {
		snap.Connections = append(snap.Connections, *s.connInfo[id])
	}
	for id, sess := range s.shards {
		st := ShardState{Shard: id, ShardTotal: sess.shardTotal, SessionID: sess.id, Seq: sess.seq}
		if sess.conn != nil {
			st.ConnID, st.Connected = sess.conn.id, true
		}
		if c := s.counters[id]; c != nil {
			st.Received, st.Dispatched, st.DispatchedBytes = c.received, c.dispatched, c.dispatchedBytes
		}
		snap.Shards[id] = st
	}
	return snap
}

// WaitFor blocks until cond holds for a snapshot (checked after every
// recorded change) or ctx ends; it returns the last snapshot either way.
func (s *Server) WaitFor(ctx context.Context, cond func(*Snapshot) bool) (*Snapshot, error) {
	// Evaluating at most every few milliseconds keeps waiting cheap when
	// thousands of connections change state at once.
	const minGap = 2 * time.Millisecond
	for {
		s.mu.Lock()
		snap := s.snapshotLocked()
		changed := s.changed
		s.mu.Unlock()
		if cond(snap) {
			return snap, nil
		}
		select {
		case <-ctx.Done():
			return snap, ctx.Err()
		case <-changed:
		}
		select {
		case <-ctx.Done():
		case <-time.After(minGap):
		}
	}
}

// WaitIdentified waits for n accepted IDENTIFYs in total.
func (s *Server) WaitIdentified(ctx context.Context, n int) (*Snapshot, error) {
	return s.WaitFor(ctx, func(sn *Snapshot) bool { return len(sn.AcceptedIdentifies()) >= n })
}

// WaitResumed waits for n accepted RESUMEs in total.
func (s *Server) WaitResumed(ctx context.Context, n int) (*Snapshot, error) {
	return s.WaitFor(ctx, func(sn *Snapshot) bool {
		k := 0
		for _, r := range sn.Resumes {
			if r.Accepted {
				k++
			}
		}
		return k >= n
	})
}

// WaitConnected waits until every given shard has a connected session.
func (s *Server) WaitConnected(ctx context.Context, shards ...int) (*Snapshot, error) {
	return s.WaitFor(ctx, func(sn *Snapshot) bool {
		for _, id := range shards {
			if !sn.Shards[id].Connected {
				return false
			}
		}
		return true
	})
}

// WaitReceived waits until shard sent n messages with opcode op.
func (s *Server) WaitReceived(ctx context.Context, shard, op, n int) (*Snapshot, error) {
	return s.WaitFor(ctx, func(sn *Snapshot) bool { return len(sn.ReceivedOp(shard, op)) >= n })
}

// AcceptedIdentifies returns the IDENTIFYs that got READY.
func (sn *Snapshot) AcceptedIdentifies() []Identify {
	return filter(sn.Identifies, func(id Identify) bool { return id.Accepted })
}

// ReceivedBy returns what shard sent (AllShards: everything, including
// messages before IDENTIFY).
func (sn *Snapshot) ReceivedBy(shard int) []Message {
	return filter(sn.Received, func(m Message) bool { return shard == AllShards || m.Shard == shard })
}

// ReceivedOp returns the messages with opcode op that shard sent.
func (sn *Snapshot) ReceivedOp(shard, op int) []Message {
	return filter(sn.ReceivedBy(shard), func(m Message) bool { return m.Op == op })
}

// DispatchesTo returns the dispatches written to shard, in order.
func (sn *Snapshot) DispatchesTo(shard int) []Dispatch {
	return filter(sn.Dispatches, func(d Dispatch) bool { return shard == AllShards || d.Shard == shard })
}

// ViolationsOf returns the violations of one kind ("" for all).
func (sn *Snapshot) ViolationsOf(kind string) []Violation {
	return filter(sn.Violations, func(v Violation) bool { return kind == "" || v.Kind == kind })
}

// filter returns the elements of s that keep accepts, in order (nil if none).
func filter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, x := range s {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// Conn returns the connection with id.
func (sn *Snapshot) Conn(id int) (ConnInfo, bool) {
	i := sort.Search(len(sn.Connections), func(i int) bool { return sn.Connections[i].ID >= id })
	if i < len(sn.Connections) && sn.Connections[i].ID == id {
		return sn.Connections[i], true
	}
	return ConnInfo{}, false
}
