// Package logtest holds what tests need to read the gateway's logs.
package logtest

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects log output written from several goroutines; the zero
// value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Reset forgets everything written so far.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

// Count is how often substr occurs in what was written.
func (b *Buffer) Count(substr string) int { return strings.Count(b.String(), substr) }
