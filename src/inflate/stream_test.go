package inflate

import (
	"bytes"
	"compress/flate"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// zlibMessages compresses payloads the way Discord does: one zlib stream,
// a sync flush after each payload, one websocket message per payload.
func zlibMessages(t testing.TB, payloads [][]byte) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	buf.Write([]byte{0x78, 0x9c}) // zlib header, default compression
	w, err := flate.NewWriter(&buf, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	return flushedMessages(t, &buf, w, payloads)
}

// zstdMessages compresses payloads the way Discord does: one zstd frame
// that never ends, flushed after each payload.
func zstdMessages(t testing.TB, payloads [][]byte) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	return flushedMessages(t, &buf, w, payloads)
}

// flushedMessages writes each payload to w, flushes, and takes what w wrote
// to buf since the previous message as one message.
func flushedMessages(t testing.TB, buf *bytes.Buffer, w interface {
	io.Writer
	Flush() error
}, payloads [][]byte) [][]byte {
	t.Helper()
	msgs := make([][]byte, 0, len(payloads))
	for _, p := range payloads {
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, bytes.Clone(buf.Bytes()))
		buf.Reset()
	}
	return msgs
}
