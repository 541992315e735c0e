package fakediscord

import (
	"bytes"
	"compress/zlib"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestBombKeepsTheStreamInSync decodes a payload, a 3 MiB bomb and another
// payload (which refers back into the window before it) as one stream.
func TestBombKeepsTheStreamInSync(t *testing.T) {
	p1 := bytes.Repeat([]byte(`{"op":0,"t":"MESSAGE_CREATE","d":{"content":"hello"}}`), 50)
	p2 := append([]byte(`0000`), p1...)
	for _, mode := range []Compression{CompressZlib, CompressZstd} {
		t.Run(string(mode), func(t *testing.T) {
			comp, err := newCompressor(mode)
			if err != nil {
				t.Fatal(err)
			}
			defer comp.close()
			var stream bytes.Buffer
			m1, err := comp.compress(p1)
			if err != nil {
				t.Fatal(err)
			}
			var bomb []byte
			switch z := comp.(type) {
			case *deflateStream:
				bomb, err = z.bomb(3)
			case *zstdStream:
				bomb, err = z.bomb(3)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(bomb) > 3*bombChunk/100 {
				t.Errorf("bomb is %d bytes compressed: no bomb", len(bomb))
			}
			m2, err := comp.compress(p2)
			if err != nil {
				t.Fatal(err)
			}
			stream.Write(m1)
			stream.Write(bomb)
			stream.Write(m2)
			want := append(append(append([]byte{}, p1...), bytes.Repeat([]byte{bombByte}, 3*bombChunk)...), p2...)
			var r io.Reader
			if mode == CompressZlib {
				zr, err := zlib.NewReader(&stream)
				if err != nil {
					t.Fatal(err)
				}
				r = zr
			} else {
				zr, err := zstd.NewReader(&stream)
				if err != nil {
					t.Fatal(err)
				}
				defer zr.Close()
				r = zr
			}
			got := make([]byte, len(want))
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("the stream after the bomb does not decode to the payloads")
			}
		})
	}
}
