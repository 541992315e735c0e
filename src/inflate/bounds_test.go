package inflate

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// boundedStreams are fresh decompressors of each mode with payload bound max.
func boundedStreams(max int) map[string]struct {
	dec  Decompressor
	msgs func(testing.TB, [][]byte) [][]byte
} {
	out := map[string]struct {
		dec  Decompressor
		msgs func(testing.TB, [][]byte) [][]byte
	}{}
	for _, impl := range inflaters {
		z := newZlibWith(impl.new)
		z.max = max
		out["zlib/"+impl.name] = struct {
			dec  Decompressor
			msgs func(testing.TB, [][]byte) [][]byte
		}{z, zlibMessages}
	}
	zs := NewZstdStream().(*zstdStream)
	zs.max = max
	out["zstd"] = struct {
		dec  Decompressor
		msgs func(testing.TB, [][]byte) [][]byte
	}{zs, zstdMessages}
	return out
}

// bomb is a payload that compresses to almost nothing.
func bomb(n int) []byte { return bytes.Repeat([]byte{'0'}, n) }

// TestPayloadOverTheBoundIsDroppedAndTheStreamStaysInSync: a payload that
// inflates past the bound is refused with ErrTooLarge, and the payloads
// after it (which refer back into the dropped one's history) still decode.
func TestPayloadOverTheBoundIsDroppedAndTheStreamStaysInSync(t *testing.T) {
	for _, tc := range []struct {
		name  string
		max   int
		sizes []int // payload sizes; those over max must be dropped
	}{
		{"exactly the bound passes, one more byte is dropped", 64 << 10, []int{64 << 10, 64<<10 + 1, 1000}},
		{"bomb 16 times the bound", 1 << 20, []int{5000, 16 << 20, 3000, 70000}},
		{"the real bound", MaxPayload, []int{2000, MaxPayload + 1, 2000}},
	} {
		payloads := make([][]byte, len(tc.sizes))
		for i, n := range tc.sizes {
			if n > 1<<20 {
				payloads[i] = bomb(n)
			} else {
				// Shares text with its neighbours: decoding it needs the history.
				payloads[i] = append(textPayload(7, n/2), textPayload(7, n-n/2)...)
			}
		}
		msgs := map[string][][]byte{} // by transport: both zlib inflaters read the same
		for name, s := range boundedStreams(tc.max) {
			if msgs[name[:4]] == nil {
				msgs[name[:4]] = s.msgs(t, payloads)
			}
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				defer s.dec.Close()
				for i, m := range msgs[name[:4]] {
					got, complete, err := s.dec.Push(m)
					if len(payloads[i]) > tc.max {
						var tl *TooLargeError
						if !errors.Is(err, ErrTooLarge) || !errors.As(err, &tl) || tl.Size != int64(len(payloads[i])) || got != nil || complete {
							t.Fatalf("payload %d (%d bytes): got %d bytes, complete=%v, err %v; want ErrTooLarge with its size", i, len(payloads[i]), len(got), complete, err)
						}
						continue
					}
					if err != nil || !complete || !bytes.Equal(got, payloads[i]) {
						t.Fatalf("payload %d (%d bytes): got %d bytes, complete=%v, err %v", i, len(payloads[i]), len(got), complete, err)
					}
				}
			})
		}
	}
}

// TestDroppingABombAllocatesAboutTheBound: growing to the bound costs one
// bound's worth of buffer (plus the halves before it), and while the rest
// of the payload is discarded only its last window is kept, so what a
// bomb allocates does not follow its size.
func TestDroppingABombAllocatesAboutTheBound(t *testing.T) {
	const max = 4 << 20
	streams := map[string][][]byte{}
	for name, s := range boundedStreams(max) {
		if streams[name[:4]] == nil {
			streams[name[:4]] = s.msgs(t, [][]byte{textPayload(1, 1000), bomb(32 << 20)})
		}
		msgs := streams[name[:4]]
		t.Run(name, func(t *testing.T) {
			defer s.dec.Close()
			// A first payload sets the context up (the zstd decoder's own
			// buffers), as on any connection before a bomb.
			if _, _, err := s.dec.Push(msgs[0]); err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, _, err := s.dec.Push(msgs[1]); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v, want ErrTooLarge", err)
			}
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 3*max {
				t.Errorf("a 32 MiB bomb allocated %d MiB with a %d MiB bound", n>>20, max>>20)
			}
			var c int
			switch d := s.dec.(type) {
			case *zlibStream:
				c = cap(d.out)
			case *zstdStream:
				c = cap(d.out)
			}
			if c > max+windowSize+2*readRoom {
				t.Errorf("output buffer grew to %d bytes for a %d MiB bound", c, max>>20)
			}
		})
	}
}

// TestBuffersGrownByALargePayloadAreReleased: after one large (legal)
// payload the next small one leaves no buffer above retainBuffer.
func TestBuffersGrownByALargePayloadAreReleased(t *testing.T) {
	large := bytes.Repeat([]byte(`{"id":"1234567890","content":"hello world","embeds":[]},`), 5<<20/56)
	payloads := [][]byte{large, textPayload(2, 2000), textPayload(3, 2000)}
	for _, impl := range inflaters {
		t.Run("zlib/"+impl.name, func(t *testing.T) {
			z := newZlibWith(impl.new)
			msgs := zlibMessages(t, payloads)
			// The large payload also arrives split, growing pending.
			big := msgs[0]
			for _, part := range [][]byte{big[:len(big)/2], big[len(big)/2:]} {
				if _, _, err := z.Push(bytes.Clone(part)); err != nil {
					t.Fatal(err)
				}
			}
			if cap(z.out) <= retainBuffer {
				t.Fatalf("test is void: the large payload did not grow the buffer (%d)", cap(z.out))
			}
			checkStream(t, z, msgs[1:], payloads[1:])
			if cap(z.out) > retainBuffer || cap(z.pending) > retainBuffer {
				t.Errorf("kept out %d KiB, pending %d KiB after small payloads", cap(z.out)>>10, cap(z.pending)>>10)
			}
		})
	}
	t.Run("zstd", func(t *testing.T) {
		z := NewZstdStream().(*zstdStream)
		defer z.Close()
		msgs := zstdMessages(t, payloads)
		checkStream(t, z, msgs[:1], payloads[:1])
		if cap(z.out) <= retainBuffer {
			t.Fatalf("test is void: the large payload did not grow the buffer (%d)", cap(z.out))
		}
		checkStream(t, z, msgs[1:], payloads[1:])
		if cap(z.out) > retainBuffer {
			t.Errorf("kept out %d KiB after small payloads", cap(z.out)>>10)
		}
	})
}

// TestBoundsAreSane pins the documented bounds: above any real payload,
// far below what would hurt the process.
func TestBoundsAreSane(t *testing.T) {
	for _, c := range []struct {
		name        string
		got, lo, hi int
	}{
		{"MaxPayload", MaxPayload, 16 << 20, 64 << 20},
		{"retainBuffer", retainBuffer, outInitial, MaxPayload / 4},
		{"maxPending", maxPending, MaxPayload / 4, MaxPayload},
		{"maxWindow", maxWindow, 8 << 20, 128 << 20},
	} {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s = %d, want within [%d, %d]", c.name, c.got, c.lo, c.hi)
		}
	}
	if s := fmt.Sprint(&TooLargeError{Mode: ZlibStream, Size: 40 << 20, Limit: MaxPayload}); s != "inflate zlib-stream: payload of 41943040 bytes is over the 32 MiB bound; dropped" {
		t.Errorf("error text %q", s)
	}
}

// TestReleaseLetsGoOfWhatALargePayloadGrewAndKeepsTheStream: a shard that
// idles must not hold an output buffer (zlib: 256 KiB per connection before;
// zstd: what a large payload grew), and the stream goes on (the next
// payloads refer back to the history).
func TestReleaseLetsGoOfWhatALargePayloadGrewAndKeepsTheStream(t *testing.T) {
	large := textPayload(1, 400<<10)
	payloads := [][]byte{textPayload(9, 3000), large, textPayload(2, 3000), large[:5000]}
	for _, impl := range inflaters {
		t.Run("zlib/"+impl.name, func(t *testing.T) {
			z := newZlibWith(impl.new)
			releaseKeepsStream(t, z, zlibMessages(t, payloads), payloads, func() (int, bool) {
				return cap(z.out), z.out != nil || z.outp != nil
			})
		})
	}
	t.Run("zstd", func(t *testing.T) {
		z := NewZstdStream().(*zstdStream)
		defer z.Close()
		releaseKeepsStream(t, z, zstdMessages(t, payloads), payloads, func() (int, bool) {
			return cap(z.out), z.out != nil || z.outp != nil
		})
	})
}

// releaseKeepsStream inflates a usual payload, a large one, Release, a usual
// one, Release, then the rest: buf reports the output buffer's capacity and
// whether the stream still holds one.
func releaseKeepsStream(t *testing.T, z Decompressor, msgs, payloads [][]byte, buf func() (capacity int, held bool)) {
	t.Helper()
	checkStream(t, z, msgs[:2], payloads[:2])
	if c, _ := buf(); c <= outInitial {
		t.Fatalf("test is void: the large payload did not grow the buffer (%d)", c)
	}
	z.Release()
	if c, held := buf(); held {
		t.Errorf("Release kept %d KiB of output buffer: an idle connection holds none", c>>10)
	}
	checkStream(t, z, msgs[2:3], payloads[2:3])
	z.Release() // a usual payload's buffer goes back to the shared pool
	if c, held := buf(); held {
		t.Errorf("Release kept %d KiB of output buffer after a small payload", c>>10)
	}
	checkStream(t, z, msgs[3:], payloads[3:])
}
