package codec

import "testing"

// Scan alone, per payload kind and encoding.
func BenchmarkScan(b *testing.B) {
	for _, kind := range hotPathKinds {
		js := kind.json()
		etf, err := etfFromJSON(js)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []struct {
			codec Codec
			p     []byte
		}{{ETF{}, etf}, {JSON{}, js}} {
			b.Run(kind.name+"/"+c.codec.Name(), func(b *testing.B) {
				b.SetBytes(int64(len(c.p)))
				b.ReportAllocs()
				var f Frame
				for i := 0; i < b.N; i++ {
					if err := c.codec.Scan(c.p, &f); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
