package shard

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/clock"
)

// weakPublisher notes a weak pointer to every body it is handed (the shard's own
// buffer, not a copy) before passing it on.
type weakPublisher struct {
	*recordingPublisher
	bodies chan weak.Pointer[byte]
}

func (p *weakPublisher) Publish(ctx context.Context, shardID int, ref int64, key, body []byte) error {
	p.bodies <- weak.Make(&body[0])
	return p.recordingPublisher.Publish(ctx, shardID, ref, key, body)
}

// A connection waiting for its next message holds no buffer of the last payload:
// the frame decoded from it pointed into it, so every idle shard kept one alive.
func TestAnIdleConnectionKeepsNoBufferOfItsLastPayload(t *testing.T) {
	stub := newDiscordStub(t)
	var wp *weakPublisher
	_, pub, _ := startShard(t, stub, clock.Real(), func(cfg *Config) {
		wp = &weakPublisher{recordingPublisher: cfg.Publisher.(*recordingPublisher), bodies: make(chan weak.Pointer[byte], 8)}
		cfg.Publisher = wp
	})
	c := established(t, stub, pub, "sess-1")
	<-wp.bodies // READY's

	// Larger than retainBuffer: the message buffer is not pooled, only the GC may take it.
	large := `{"t":"GUILD_CREATE","s":2,"op":0,"d":{"pad":"` + strings.Repeat("x", 4*retainBuffer) + `"}}`
	c.sendRaw([]byte(large))
	require.Equal(t, "GUILD_CREATE", pub.next(t).key)
	body := <-wp.bodies
	for deadline := time.Now().Add(5 * time.Second); body.Value() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("the buffer of the last payload is still live while the connection waits")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
