package inflate

import "io"

// msgSource hands one message's compressed bytes to flate. It implements
// io.ByteReader so flate reads it directly instead of wrapping it in a
// read-ahead bufio.Reader: flate then never consumes a byte it does not
// need, and "source drained" means "every byte of the message was used".
type msgSource struct {
	data []byte
	pos  int
	// endedByRead records that the last byte was taken by Read, which flate
	// only uses for stored blocks: the stream then sits on a byte-aligned
	// block boundary (see zlibStream.inflate).
	endedByRead bool
}

func (s *msgSource) set(data []byte) { s.data, s.pos, s.endedByRead = data, 0, false }

func (s *msgSource) drained() bool { return s.pos >= len(s.data) }

func (s *msgSource) ReadByte() (byte, error) {
	if s.pos >= len(s.data) {
		return 0, io.EOF
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
