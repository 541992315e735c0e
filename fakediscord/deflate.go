package fakediscord

import "encoding/binary"

// deflateStream is a small zlib-stream compressor: LZ77 over a 32 KB
// history shared by every message of the connection, fixed Huffman codes,
// and a sync flush after each message. It exists because compress/flate
// keeps over 1 MB per writer, which 2,000 connections cannot afford; back
// references still cross message boundaries, as with Discord's zlib.
type deflateStream struct {
	hist    []byte  // the last window bytes before the current message, then the message
	histPos int64   // stream offset of hist[0]
	table   []int64 // hash of 4 bytes -> stream offset + 1 (0: empty)
	started bool
	out     []byte
	bits    uint64
	nbits   uint
}

const (
	deflateWindow     = 32 << 10
	deflateHashBits   = 12
	deflateMinMatch   = 4
	deflateMaxMatch   = 258
	deflateMaxKeep    = 256 << 10 // shrink hist's array after a huge message
	deflateEndOfBlock = 256
)

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint32{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

	// Fixed Huffman codes (RFC 1951 3.2.6), bit-reversed for LSB-first output.
	fixedLitCode [288]uint16
	fixedLitLen  [288]uint8
	fixedDist    [30]uint16
)

func init() {
	for v := range 288 {
		var code, n int
		switch {
		case v < 144:
			code, n = 0x30+v, 8
		case v < 256:
			code, n = 0x190+v-144, 9
		case v < 280:
			code, n = v-256, 7
		default:
			code, n = 0xc0+v-280, 8
		}
		fixedLitCode[v], fixedLitLen[v] = reverseBits(uint16(code), n), uint8(n)
	}
	for d := range 30 {
		fixedDist[d] = reverseBits(uint16(d), 5)
	}
}

func reverseBits(code uint16, n int) uint16 {
	var r uint16
	for range n {
		r = r<<1 | code&1
		code >>= 1
	}
	return r
}

func newDeflateStream() *deflateStream {
	return &deflateStream{table: make([]int64, 1<<deflateHashBits)}
}

func (z *deflateStream) writeBits(v uint64, n uint) {
	z.bits |= v << z.nbits
	z.nbits += n
	for z.nbits >= 8 {
		z.out = append(z.out, byte(z.bits))
		z.bits >>= 8
		z.nbits -= 8
	}
}

func (z *deflateStream) literal(v int) {
	z.writeBits(uint64(fixedLitCode[v]), uint(fixedLitLen[v]))
}

func (z *deflateStream) match(length, dist int) {
	li := 0
	for li < 28 && int(lengthBase[li+1]) <= length {
		li++
	}
	z.literal(257 + li)
	z.writeBits(uint64(length-int(lengthBase[li])), uint(lengthExtra[li]))
	di := 0
	for di < 29 && int(distBase[di+1]) <= dist {
		di++
	}
	z.writeBits(uint64(fixedDist[di]), 5)
	z.writeBits(uint64(dist-int(distBase[di])), uint(distExtra[di]))
}

func hash4(b []byte) uint32 {
	return (binary.LittleEndian.Uint32(b) * 2654435761) >> (32 - deflateHashBits)
}

// compress returns the bytes of one websocket message: (the zlib header
// on the first message,) one fixed-Huffman block and a sync flush.
func (z *deflateStream) compress(p []byte) ([]byte, error) {
	z.out = z.out[:0]
	if !z.started {
		z.out = append(z.out, 0x78, 0x01) // deflate, 32 KB window, no dictionary
		z.started = true
	}
	start := len(z.hist)
	z.hist = append(z.hist, p...)
	h := z.hist
	z.writeBits(0b010, 3) // BFINAL=0, BTYPE=01 (fixed Huffman)
	for i := start; i < len(h); {
		if len(h)-i >= deflateMinMatch {
			key := hash4(h[i:])
			cand := z.table[key] - 1
			abs := z.histPos + int64(i)
			z.table[key] = abs + 1
			if cand >= z.histPos && abs-cand <= deflateWindow {
				j := int(cand - z.histPos)
				n := 0
				for n < deflateMaxMatch && i+n < len(h) && h[j+n] == h[i+n] {
					n++
				}
				if n >= deflateMinMatch {
					z.match(n, int(abs-cand))
					for k := i + 1; k < i+n && k+deflateMinMatch <= len(h); k++ {
						z.table[hash4(h[k:])] = z.histPos + int64(k) + 1
					}
					i += n
					continue
				}
			}
		}
		z.literal(int(h[i]))
		i++
	}
	z.literal(deflateEndOfBlock)
	// Sync flush: an empty stored block, byte-aligned, 00 00 ff ff.
	z.writeBits(0, 3)
	if z.nbits > 0 {
		z.writeBits(0, 8-z.nbits)
	}
	z.out = append(z.out, 0, 0, 0xff, 0xff)

	// Keep only the window for the next message.
	if drop := len(z.hist) - deflateWindow; drop > 0 {
		if cap(z.hist) > deflateMaxKeep {
			z.hist = append(make([]byte, 0, 2*deflateWindow), z.hist[drop:]...)
		} else {
			z.hist = z.hist[:copy(z.hist, z.hist[drop:])]
		}
		z.histPos += int64(drop)
	}
	out := make([]byte, len(z.out))
	copy(out, z.out)
	if cap(z.out) > deflateMaxKeep {
		z.out = nil
	}
	return out, nil
}

func (z *deflateStream) close() {}
