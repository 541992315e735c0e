package codec

import (
	"bytes"
	"testing"

	"github.com/cordis-gateway/cordis/src/inflate"
)

// TestScanAfterEveryTransportSeesTheWireBytes runs the Erlang vectors
// through each transport: what comes out is byte for byte what went in,
// and scans to the same envelope.
func TestScanAfterEveryTransportSeesTheWireBytes(t *testing.T) {
	vs := loadETFVectors(t)
	payloads := make([][]byte, len(vs))
	for i, v := range vs {
		payloads[i] = v.payload
	}
	for name, mode := range map[string]string{"zlib-stream": inflate.ZlibStream, "zstd-stream": inflate.ZstdStream, "none": inflate.None} {
		t.Run(name, func(t *testing.T) {
			d, err := inflate.New(mode)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for i, m := range compressStream(t, mode, payloads) {
				p, complete, err := d.Push(m)
				if err != nil || !complete {
					t.Fatalf("%s: complete=%v err=%v", vs[i].name, complete, err)
				}
				if !bytes.Equal(p, vs[i].payload) {
					t.Fatalf("%s: payload changed in transit", vs[i].name)
				}
				var f Frame
				if err := (ETF{}).Scan(p, &f); err != nil || string(f.T) != vs[i].t || f.Seq != vs[i].seq {
					t.Fatalf("%s: scan %+v, %v", vs[i].name, f, err)
				}
			}
		})
	}
}
