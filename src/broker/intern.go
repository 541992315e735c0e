package broker

import "sync"

// maxInterned bounds the routing-key table: Discord has a few dozen event names, so a
// flood of distinct names would be a bug upstream, and must not grow memory forever.
const maxInterned = 4096

// interner maps routing-key bytes to one shared string, so that publishing does not
// allocate a string per event.
type interner struct {
	mu   sync.RWMutex
	keys map[string]string
}

func (in *interner) intern(b []byte) string {
	in.mu.RLock()
	s, ok := in.keys[string(b)] // the compiler does not allocate for this lookup
	in.mu.RUnlock()
	if ok {
		return s
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if s, ok := in.keys[string(b)]; ok {
		return s
	}
	s = string(b)
	if in.keys == nil {
		in.keys = make(map[string]string)
	}
	if len(in.keys) < maxInterned {
		in.keys[s] = s
	}
	return s
}
