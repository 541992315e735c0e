package inflate

import "io"

// msgSource hands one message's compressed bytes to flate. It implements
// io.ByteReader so flate reads it directly instead of wrapping it in a
// read-ahead bufio.Reader: flate then never consumes a byte it does not
// need, and "source drained" means "every byte of the message was used".
//
// It also gets flate past the one place where a zlib-stream payload's end
// is not where flate stops (see zlibStream.inflate): when flate asks for
// the next block's header after a message whose last bytes were a stored
// block (the sync flush), the stream sits on a byte-aligned block
// boundary, and instead of io.EOF (which flate would keep as a sticky
// error) the source hands it synthetic blocks, in two steps:
//
//  1. an empty stored block, whose flush hands out any output flate still
//     holds (possible only for a stored block that is not the sync flush);
//     when there is some, flate returns it and stops as at any payload end;
//  2. when there was none, a block that copies the last hist bytes of
//     output (all flate's window holds) once, then an empty final stored
//     block: flate emits its own window, which zlibStream restarts it with.
//
// So no second copy of the window is kept: the rare restart reads it out of
// flate itself.
type msgSource struct {
	data []byte
	pos  int
	// endedByRead records that the last byte was taken by Read, which flate
	// only uses for stored blocks: the stream then sits on a byte-aligned
	// block boundary.
	endedByRead bool
	// phase is 0 while data is the message, 1 and 2 while it is the
	// synthetic blocks of step 1 and 2 above.
	phase int
	// hist is how much history flate holds: all output so far, at most a
	// window (zlibStream keeps it up to date).
	hist int
}

func (s *msgSource) set(data []byte) { s.data, s.pos, s.endedByRead, s.phase = data, 0, false, 0 }

func (s *msgSource) drained() bool { return s.pos >= len(s.data) }

// emitting reports that flate was handed step 2: what it outputs now is
// its window, not payload.
func (s *msgSource) emitting() bool { return s.phase == 2 }

func (s *msgSource) ReadByte() (byte, error) {
	if s.pos >= len(s.data) {
		if !s.endedByRead || s.phase == 2 {
			return 0, io.EOF
		}
		// flate wants the next block header after a stored block that
		// ended the message: at a block boundary, with nothing to read.
		if s.phase == 0 {
			s.data, s.phase = emptyStoredBlock, 1
		} else {
			s.data, s.phase = fullWindowBlocks, 2
			if s.hist < windowSize { // early in the stream: rarer still
				s.data = windowBlocks(s.hist)
			}
		}
		s.pos = 0
	}
	c := s.data[s.pos]
	s.pos++
	s.endedByRead = false
	return c, nil
}

func (s *msgSource) Read(p []byte) (int, error) {
	if s.pos >= len(s.data) {
		return 0, io.EOF
	}
	n := copy(p, s.data[s.pos:])
	s.pos += n
	s.endedByRead = s.pos == len(s.data)
	return n, nil
}

// emptyStoredBlock is a non-final stored block of no bytes, starting on a
// byte boundary (step 1): header bits 0 (not final), 00 (stored), padding,
// then LEN 0 and NLEN 0xffff.
var emptyStoredBlock = []byte{0x00, 0x00, 0x00, 0xff, 0xff}

// windowBlocks is step 2 for a window of n bytes: a block with fixed
// Huffman codes copying 258-byte runs from distance n until at least n
// bytes are out (the first n bytes of output are the window, oldest
// first), then an empty final stored block, which ends flate's stream with
// io.EOF. With n == 0 only the final block.
func windowBlocks(n int) []byte {
	// 26 bits per copy, the block headers and the stored block's 4 bytes.
	w := bitWriter{buf: make([]byte, 0, (n/258+1)*26/8+16)}
	if n > 0 {
		w.bits(0, 1) // not final
		w.bits(1, 2) // fixed Huffman codes
		code, extra, base := distCode(n)
		for out := 0; out < n; out += 258 {
			w.huff(0b11000101, 8) // length 258: code 285, no extra bits
			w.huff(uint32(code), 5)
			w.bits(uint32(n-base), extra)
		}
		w.huff(0, 7) // end of block: code 256
	}
	w.bits(1, 1) // final
	w.bits(0, 2) // stored
	w.flush()    // to a byte boundary
	return append(w.buf, 0x00, 0x00, 0xff, 0xff)
}

// fullWindowBlocks are the window blocks once flate's window is full, as it
// is for all but a connection's first 32 KiB of output: made once.
var fullWindowBlocks = windowBlocks(windowSize)

// distCode is deflate's distance code for distance d (1..32768), with its
// extra bit count and base distance (RFC 1951 3.2.5).
func distCode(d int) (code int, extra uint, base int) {
	if d <= 4 {
		return d - 1, 0, d
	}
	// Codes 2k and 2k+1 (k >= 2) have k-1 extra bits and start at
	// 2^k+1 and 2^k+2^(k-1)+1.
	base = 5
	for code = 4; ; code++ {
		extra = uint(code/2 - 1)
		if d < base+1<<extra {
			return code, extra, base
		}
		base += 1 << extra
	}
}

// bitWriter packs deflate's bit stream: LSB first, Huffman codes MSB first.
type bitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

func (w *bitWriter) bits(v uint32, n uint) {
	w.acc |= uint64(v) << w.n
	w.n += n
	for w.n >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

func (w *bitWriter) huff(code uint32, n uint) {
	var r uint32
	for i := range n {
		r |= (code >> i & 1) << (n - 1 - i)
	}
	w.bits(r, n)
}

func (w *bitWriter) flush() {
	if w.n > 0 {
		w.bits(0, 8-w.n)
	}
}
