package inflate

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	kflate "github.com/klauspost/compress/flate"
)

// inflaters are the flate implementations zlibStream can run on; every
// zlib test runs on both so the benchmark comparison compares equals.
var inflaters = []struct {
	name string
	new  func(io.Reader) io.ReadCloser
}{
	{"stdlib", flate.NewReader},
	{"klauspost", kflate.NewReader},
}

func newZlibWith(newInflater func(io.Reader) io.ReadCloser) *zlibStream {
	return &zlibStream{newInflater: newInflater, max: MaxPayload}
}

// textPayload is deterministic JSON-like text: compressible, with
// back-references, like gateway traffic.
func textPayload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{`"id":"`, `"content":"`, `hello`, `world`, `"author":{`, `},`, `1234567890`, `"embeds":[]`, ` `, `Ünïcødé ✓`}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, "%d", r.Uint64())
		}
	}
	return b.Bytes()[:n]
}

// randomPayload is incompressible: deflate stores it in stored blocks.
func randomPayload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func checkStream(t *testing.T, d Decompressor, msgs, payloads [][]byte) {
	t.Helper()
	for i, m := range msgs {
		got, complete, err := d.Push(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !complete {
			t.Fatalf("message %d: not complete", i)
		}
		if !bytes.Equal(got, payloads[i]) {
			t.Fatalf("message %d: got %d bytes, want %d (equal prefix %d)", i, len(got), len(payloads[i]), commonPrefix(got, payloads[i]))
		}
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// streamCases are payload sequences every transport must round-trip.
func streamCases() map[string][][]byte {
	small := make([][]byte, 200)
	for i := range small {
		small[i] = textPayload(uint64(i), 50+i*13)
	}
	repeated := make([][]byte, 20)
	for i := range repeated {
		repeated[i] = textPayload(7, 3000) // later copies are pure back-references
	}
	// Output totals landing exactly on window multiples, in Huffman and in
	// stored blocks: the flush at such a boundary has nothing to hand out.
	boundary := [][]byte{
		textPayload(1, windowSize), textPayload(2, 100), textPayload(3, windowSize-100),
		randomPayload(4, windowSize), randomPayload(5, 2*windowSize), textPayload(6, 3*windowSize),
		{}, textPayload(8, 10), {}, randomPayload(9, windowSize-10),
	}
	return map[string][][]byte{
		"single small":        {textPayload(0, 300)},
		"many small":          small,
		"repeated payloads":   repeated,
		"window boundaries":   boundary,
		"large payloads":      {textPayload(10, 3<<20), randomPayload(11, 1<<20+17), textPayload(12, 1500)},
		"empty payload first": {{}, textPayload(13, 500)},
	}
}

func TestZlibStreamRoundTripsEveryPayloadSequence(t *testing.T) {
	for _, impl := range inflaters {
		for name, payloads := range streamCases() {
			// The shard releases between payloads: the history must survive it.
			for _, release := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/release=%v", impl.name, name, release), func(t *testing.T) {
					z := newZlibWith(impl.new)
					var d Decompressor = z
					if release {
						d = releasing{z}
					}
					checkStream(t, d, zlibMessages(t, payloads), payloads)
					if name == "window boundaries" && z.restarts == 0 {
						t.Error("no flush landed on a window boundary: the restart path went untested")
					}
				})
			}
		}
	}
}

// releasing calls Release before every Push, as the shard does.
type releasing struct{ Decompressor }

func (r releasing) Push(msg []byte) ([]byte, bool, error) {
	r.Release()
	return r.Decompressor.Push(msg)
}

func TestZlibStreamBuffersPayloadSplitAcrossMessages(t *testing.T) {
	payloads := [][]byte{textPayload(1, 5000), textPayload(2, 70000), textPayload(3, 20)}
	msgs := zlibMessages(t, payloads)
	for _, impl := range inflaters {
		// Cut each message at every position in its last 8 bytes (so the
		// sync-flush suffix itself is split) and a few in the middle.
		for cut := 1; cut <= 8; cut++ {
			t.Run(fmt.Sprintf("%s/cut %d from end", impl.name, cut), func(t *testing.T) {
				z := newZlibWith(impl.new)
				for i, m := range msgs {
					a := min(len(m)/3, len(m)-cut)
					parts := [][]byte{m[:a], m[a : len(m)-cut], m[len(m)-cut:]}
					for j, p := range parts {
						got, complete, err := z.Push(bytes.Clone(p))
						if err != nil {
							t.Fatalf("payload %d part %d: %v", i, j, err)
						}
						if last := j == len(parts)-1; complete != last {
							t.Fatalf("payload %d part %d: complete=%v", i, j, complete)
						}
						if complete && !bytes.Equal(got, payloads[i]) {
							t.Fatalf("payload %d: wrong bytes", i)
						}
					}
				}
			})
		}
	}
}

func TestZlibStreamRejectsCorruptData(t *testing.T) {
	good := zlibMessages(t, [][]byte{textPayload(1, 2000), textPayload(2, 2000)})
	flipped := bytes.Clone(good[1])
	for i := 0; i < len(flipped)-4; i++ {
		flipped[i] ^= 0x55
	}
	cases := []struct {
		name string
		msgs [][]byte
	}{
		{"header not deflate", [][]byte{append([]byte{0x79, 0x9c}, good[0][2:]...)}},
		{"header check bits", [][]byte{append([]byte{0x78, 0x9d}, good[0][2:]...)}},
		{"preset dictionary", [][]byte{append([]byte{0x78, 0xbb}, good[0][2:]...)}},
		{"too short", [][]byte{append([]byte{0x78}, syncFlush...)}},
		{"garbage block", [][]byte{good[0], flipped}},
		{"stream not starting with header", [][]byte{good[1]}},
	}
	for _, impl := range inflaters {
		for _, c := range cases {
			t.Run(impl.name+"/"+c.name, func(t *testing.T) {
				z := newZlibWith(impl.new)
				var err error
				for _, m := range c.msgs {
					if _, _, err = z.Push(m); err != nil {
						break
					}
				}
				if err == nil {
					t.Fatal("corrupt stream accepted")
				}
				if _, _, again := z.Push(good[0]); again == nil {
					t.Error("error is not sticky")
				}
			})
		}
	}
}

func TestZlibStreamContextIsPerConnection(t *testing.T) {
	a := [][]byte{textPayload(1, 4000), textPayload(1, 4000)}
	b := [][]byte{textPayload(2, 4000), textPayload(1, 4000)}
	ma, mb := zlibMessages(t, a), zlibMessages(t, b)
	za, zb := NewZlibStream(), NewZlibStream()
	for i := range a {
		checkStream(t, za, ma[i:i+1], a[i:i+1])
		checkStream(t, zb, mb[i:i+1], b[i:i+1])
	}
	// A new connection must start with a fresh context: the second message
	// of a stream alone is refused (no header).
	if _, _, err := NewZlibStream().Push(ma[1]); err == nil {
		t.Error("fresh decompressor accepted a mid-stream message")
	}
}

func TestZlibStreamSteadyStateDoesNotAllocate(t *testing.T) {
	payloads := make([][]byte, 400)
	for i := range payloads {
		payloads[i] = textPayload(uint64(i%5), 1500)
	}
	msgs := zlibMessages(t, payloads)
	for _, impl := range inflaters {
		z := newZlibWith(impl.new)
		checkStream(t, z, msgs[:200], payloads[:200])
		i := 200
		allocs := testing.AllocsPerRun(150, func() {
			if _, _, err := z.Push(msgs[i]); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per message", impl.name, allocs)
		}
	}
}

func TestZlibStreamCloseEndsIt(t *testing.T) {
	z := NewZlibStream()
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := z.Push(zlibMessages(t, [][]byte{{1}})[0]); err == nil {
		t.Error("Push after Close succeeded")
	}
}
