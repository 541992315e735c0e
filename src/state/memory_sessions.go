package state

import (
	"context"
	"sync"
	"sync/atomic"
)

// MemorySessions is the process-local SessionStore: sessions survive
// reconnects but not a restart.
type MemorySessions struct {
	mu       sync.RWMutex
	sessions map[int]*memorySession
}

type memorySession struct {
	s   Session // Seq unused; see seq
	seq atomic.Int64
}

var _ SessionStore = (*MemorySessions)(nil)

// NewMemorySessions returns an empty store.
func NewMemorySessions() *MemorySessions {
	return &MemorySessions{sessions: make(map[int]*memorySession)}
}

// Load returns shardID's session, if any.
func (m *MemorySessions) Load(_ context.Context, shardID int) (Session, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ms, ok := m.sessions[shardID]
	if !ok {
		return Session{}, false, nil
	}
	s := ms.s
	s.Seq = ms.seq.Load()
	return s, true, nil
}

// Save stores shardID's session, replacing any previous one.
func (m *MemorySessions) Save(_ context.Context, shardID int, s Session) error {
	ms := &memorySession{s: s}
	ms.seq.Store(s.Seq)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[shardID] = ms
	return nil
}

// UpdateSeq records the last seq of shardID's session: a map read and an
// atomic store, no allocation. Without a saved session it does nothing.
func (m *MemorySessions) UpdateSeq(shardID int, seq int64) {
	m.mu.RLock()
	ms := m.sessions[shardID]
	m.mu.RUnlock()
	if ms != nil {
		ms.seq.Store(seq)
	}
}

// Delete forgets shardID's session.
func (m *MemorySessions) Delete(_ context.Context, shardID int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, shardID)
	return nil
}

// Flush does nothing: memory is always up to date.
func (m *MemorySessions) Flush(context.Context) error { return nil }
