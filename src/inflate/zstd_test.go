package inflate

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

func TestZstdStreamRoundTripsEveryPayloadSequence(t *testing.T) {
	for name, payloads := range streamCases() {
		t.Run(name, func(t *testing.T) {
			z := NewZstdStream()
			defer z.Close()
			checkStream(t, z, zstdMessages(t, payloads), payloads)
		})
	}
}

func TestZstdStreamContextIsPerConnection(t *testing.T) {
	a := [][]byte{textPayload(1, 4000), textPayload(1, 4000)}
	b := [][]byte{textPayload(2, 4000), textPayload(1, 4000)}
	ma, mb := zstdMessages(t, a), zstdMessages(t, b)
	za, zb := NewZstdStream(), NewZstdStream()
	defer za.Close()
	defer zb.Close()
	for i := range a {
		checkStream(t, za, ma[i:i+1], a[i:i+1])
		checkStream(t, zb, mb[i:i+1], b[i:i+1])
	}
	fresh := NewZstdStream()
	defer fresh.Close()
	if _, _, err := fresh.Push(ma[1]); err == nil {
		t.Error("fresh decompressor accepted a mid-stream message")
	}
}

func TestZstdStreamRejectsCorruptDataWithoutHanging(t *testing.T) {
	good := zstdMessages(t, [][]byte{textPayload(1, 2000), textPayload(2, 2000)})
	flipped := bytes.Clone(good[1])
	for i := range flipped {
		flipped[i] ^= 0x55
	}
	cases := []struct {
		name string
		msgs [][]byte
	}{
		{"bad magic", [][]byte{[]byte("not a zstd frame at all")}},
		{"garbage block", [][]byte{good[0], flipped}},
		{"truncated frame header", [][]byte{good[0][:3], good[0][3:]}}, // header split: accepted, then ok
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := NewZstdStream()
			defer z.Close()
			result := make(chan error, 1)
			go func() {
				var err error
				for _, m := range c.msgs {
					if _, _, err = z.Push(m); err != nil {
						break
					}
				}
				result <- err
			}()
			select {
			case err := <-result:
				if c.name == "truncated frame header" {
					return // must merely not hang
				}
				if err == nil {
					t.Fatal("corrupt stream accepted")
				}
				if _, _, again := z.Push(good[0]); again == nil {
					t.Error("error is not sticky")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Push hung on corrupt data")
			}
		})
	}
}

func TestZstdStreamCloseStopsItsGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	payloads := [][]byte{textPayload(1, 1000), textPayload(2, 1000)}
	msgs := zstdMessages(t, payloads)
	for i := 0; i < 20; i++ {
		z := NewZstdStream()
		switch i % 3 {
		case 0: // closed before any message
		case 1:
			checkStream(t, z, msgs, payloads)
		case 2:
			_, _, _ = z.Push([]byte("garbage"))
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := z.Push(msgs[0]); err == nil {
			t.Fatal("Push after Close succeeded")
		}
		_ = z.Close() // twice is harmless
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before, %d after closing every decompressor", before, n)
	}
}

func TestZstdStreamSteadyStateAllocations(t *testing.T) {
	payloads := make([][]byte, 400)
	for i := range payloads {
		payloads[i] = textPayload(uint64(i%5), 1500)
	}
	msgs := zstdMessages(t, payloads)
	z := NewZstdStream()
	defer z.Close()
	checkStream(t, z, msgs[:200], payloads[:200])
	i := 200
	allocs := testing.AllocsPerRun(150, func() {
		if _, _, err := z.Push(msgs[i]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs > 0 {
		t.Errorf("%v allocations per message", allocs)
	}
}

func TestZstdStreamAcceptsOneFramePerMessageToo(t *testing.T) {
	// DESIGN.md §4: Discord keeps one frame open for the connection; a
	// sender that ends a frame with every message must decode too.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	payloads := [][]byte{textPayload(1, 300), textPayload(2, 70000), textPayload(3, 10)}
	msgs := make([][]byte, len(payloads))
	for i, p := range payloads {
		msgs[i] = enc.EncodeAll(p, nil)
	}
	z := NewZstdStream()
	defer z.Close()
	checkStream(t, z, msgs, payloads)
}
