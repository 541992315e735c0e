package fakediscord

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
)

// Hostile input for fault tests: messages no real Discord sends, built
// inside the connection's compression context so that the stream stays
// valid and the messages after them still decode.

// bombChunk is the unit a compression bomb is built from.
const bombChunk = 1 << 20

// bombByte is what a bomb inflates to.
const bombByte = '0'

// SendBomb writes to shard one message that inflates to size bytes of '0'
// (rounded up to whole MiB) in the connection's zlib-stream or zstd-stream
// context: a compression bomb. Its compressed size is about size/1000
// (zlib) or far less (zstd); neither side ever holds the inflated bytes.
// The stream stays in sync: later payloads decode normally.
func (s *Server) SendBomb(shard int, size int64) error {
	chunks := max(1, (size+bombChunk-1)/bombChunk)
	return s.each(shard, func(c *conn) error {
		if c.compress == CompressNone {
			return errors.New("SendBomb needs a compressed connection")
		}
		c.enqueue(outMsg{kind: outHostile, hostile: func(mode Compression, comp streamCompressor) ([]byte, error) {
			switch z := comp.(type) {
			case *deflateStream:
				return z.bomb(chunks)
			case *zstdStream:
				return z.bomb(chunks)
			}
			return nil, fmt.Errorf("no %s compression context for a bomb", mode)
		}})
		return nil
	})
}

// bomb returns chunks MiB of bombByte as deflate blocks ending in a sync
// flush, then makes the stream's history what the client now has (the
// last window of the bomb), so the next message's back references match.
func (z *deflateStream) bomb(chunks int64) ([]byte, error) {
	if !z.started {
		return nil, errors.New("bomb before the first message")
	}
	zeros := bytes.Repeat([]byte{bombByte}, bombChunk)
	// The first chunk refers only to itself; the others may refer up to a
	// window back, which is bombByte once the first is out.
	first, err := flushedDeflate(nil, zeros)
	if err != nil {
		return nil, err
	}
	next, err := flushedDeflate(zeros[:deflateWindow], zeros)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(first)+int(chunks-1)*len(next))
	out = append(out, first...)
	for range chunks - 1 {
		out = append(out, next...)
	}
	end := z.histPos + int64(len(z.hist)) + chunks*bombChunk
	z.hist = append(z.hist[:0], zeros[:deflateWindow]...)
	z.histPos = end - deflateWindow
	return out, nil
}

// flushedDeflate compresses p (with dict as the preceding window) into
// non-final deflate blocks ending in a sync flush.
func flushedDeflate(dict, p []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := flate.NewWriterDict(&buf, flate.BestCompression, dict)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(p); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// bomb returns chunks MiB of bombByte through the connection's encoder,
// flushed like any payload: blocks of the one never-ending frame.
func (z *zstdStream) bomb(chunks int64) ([]byte, error) {
	zeros := bytes.Repeat([]byte{bombByte}, bombChunk)
	z.buf.Reset()
	for range chunks {
		if _, err := z.w.Write(zeros); err != nil {
			return nil, fmt.Errorf("zstd write: %w", err)
		}
	}
	if err := z.w.Flush(); err != nil {
		return nil, fmt.Errorf("zstd flush: %w", err)
	}
	return bytes.Clone(z.buf.Bytes()), nil
}
