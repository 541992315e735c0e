package fakediscord

import (
	"bytes"
	"compress/zlib"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Compression is a transport compression mode from the gateway URL query.
type Compression string

// Transport compression modes.
const (
	CompressNone Compression = ""
	CompressZlib Compression = "zlib-stream"
	CompressZstd Compression = "zstd-stream"
)

// streamCompressor turns one payload into the bytes of one websocket
// message, keeping the compression context across messages like Discord.
type streamCompressor interface {
	compress(payload []byte) ([]byte, error)
	close()
}

func newCompressor(c Compression) (streamCompressor, error) {
	switch c {
	case CompressNone:
		return nil, nil
	case CompressZlib:
		return newDeflateStream(), nil
	case CompressZstd:
		z := &zstdStream{}
		// Small window and a single goroutine keep 2,000 connections cheap.
		w, err := zstd.NewWriter(&z.buf,
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<15),
			zstd.WithLowerEncoderMem(true),
			zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			return nil, fmt.Errorf("creating zstd writer: %w", err)
		}
		z.w = w
		return z, nil
	default:
		return nil, fmt.Errorf("unknown compression %q", c)
	}
}

// zstdStream writes one zstd frame that never ends; each message carries
// the blocks flushed for one payload.
type zstdStream struct {
	buf bytes.Buffer
	w   *zstd.Encoder
}

func (z *zstdStream) compress(p []byte) ([]byte, error) {
	z.buf.Reset()
	if _, err := z.w.Write(p); err != nil {
		return nil, fmt.Errorf("zstd write: %w", err)
	}
	if err := z.w.Flush(); err != nil {
		return nil, fmt.Errorf("zstd flush: %w", err)
	}
	return bytes.Clone(z.buf.Bytes()), nil
}

func (z *zstdStream) close() { _ = z.w.Close() }

// payloadZlib is payload compression (IDENTIFY compress: true): every
// payload is a complete zlib stream of its own, so a client inflates each
// message with a fresh reader.
type payloadZlib struct {
	buf bytes.Buffer
	w   *zlib.Writer
}

func (z *payloadZlib) compress(p []byte) []byte {
	z.buf.Reset()
	if z.w == nil {
		z.w = zlib.NewWriter(&z.buf)
	} else {
		z.w.Reset(&z.buf)
	}
	// Writes to a bytes.Buffer cannot fail.
	_, _ = z.w.Write(p)
	_ = z.w.Close()
	return bytes.Clone(z.buf.Bytes())
}
