package inflate

import (
	"fmt"
	"testing"
)

// BenchmarkDecompress measures Push alone on a stream of distinct
// JSON-like payloads, for each transport (and each flate implementation).
func BenchmarkDecompress(b *testing.B) {
	for _, size := range []int{300, 1500, 60 << 10} {
		count := max(16, (4<<20)/size)
		payloads := make([][]byte, count)
		for i := range payloads {
			payloads[i] = textPayload(uint64(i), size)
		}
		zl := zlibMessages(b, payloads)
		zs := zstdMessages(b, payloads)
		for _, impl := range inflaters {
			b.Run(fmt.Sprintf("%d/zlib-%s", size, impl.name), func(b *testing.B) {
				benchPush(b, zl, size, func() Decompressor { return newZlibWith(impl.new) })
			})
		}
		b.Run(fmt.Sprintf("%d/zstd", size), func(b *testing.B) { benchPush(b, zs, size, NewZstdStream) })
	}
}

func benchPush(b *testing.B, msgs [][]byte, size int, fresh func() Decompressor) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var d Decompressor
	for i := 0; i < b.N; i++ {
		k := i % len(msgs)
		if k == 0 { // a new connection, warmed with its first message untimed
			b.StopTimer()
			if d != nil {
				d.Close()
			}
			d = fresh()
			if _, _, err := d.Push(msgs[0]); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			continue
		}
		if _, complete, err := d.Push(msgs[k]); err != nil || !complete {
			b.Fatal(complete, err)
		}
	}
	b.StopTimer()
	d.Close()
}
