package inflate

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"

	"github.com/cordis-gateway/cordis/src/freelist"
)

// zstdStream is Discord's zstd-stream: one zstd frame for the whole
// connection, never ended; after each payload the server flushes, so each
// message carries whole blocks of exactly one payload.
//
// klauspost's streaming decoder pulls from an io.Reader and turns any error,
// io.EOF included, into a sticky one, so it cannot be told "no more input
// yet". It therefore runs in its own goroutine, reading from a source that
// blocks between messages. With concurrency 1 the decoder works
// synchronously, without read-ahead, and WriteTo hands every block to the
// sink before reading the next block's header: so when the source is asked
// for input beyond the current message, every byte decoded from that
// message has been written out and the payload is complete.
type zstdStream struct {
	in   chan []byte   // Push -> decoder goroutine: next message
	done chan error    // decoder goroutine -> Push: message consumed (nil) or failed
	quit chan struct{} // closed by Close
	exit chan struct{} // closed when the goroutine has returned
	out  []byte        // written by the goroutine between in and done only
	outp *[]byte       // out's outPool handle while out is outPool's buffer (as out)
	size int64         // inflated size of the current payload (goroutine, as out)
	max  int           // inflated payload bound (MaxPayload; tests lower it)
	err  error
}

// NewZstdStream returns a decompressor for compress=zstd-stream.
func NewZstdStream() Decompressor {
	z := &zstdStream{
		in:   make(chan []byte),
		done: make(chan error),
		quit: make(chan struct{}),
		exit: make(chan struct{}),
		max:  MaxPayload,
	}
	go z.run()
	return z
}

func (z *zstdStream) Push(msg []byte) ([]byte, bool, error) {
	if z.err != nil {
		return nil, false, z.err
	}
	if cap(z.out) > retainBuffer {
		z.releaseOut() // grown by a large payload: let it go
	}
	if z.out == nil {
		// Between payloads the output buffer is zstdOutPool's (see
		// Release). With none there (a burst holds them all) outSink
		// grows one to the payload's size.
		if z.outp = zstdOutPool.Get(); z.outp != nil {
			z.out = *z.outp
		}
	}
	z.out, z.size = z.out[:0], 0
	select {
	case z.in <- msg:
	case <-z.exit:
		z.err = errors.New("inflate zstd-stream: decoder stopped")
		return nil, false, z.err
	}
	if err := <-z.done; err != nil {
		z.err = fmt.Errorf("inflate zstd-stream: %w", err)
		return nil, false, z.err
	}
	if z.size > int64(z.max) {
		z.releaseOut() // no payload to hand out: let the grown buffer go now
		return nil, false, &TooLargeError{Mode: ZstdStream, Size: z.size, Limit: z.max}
	}
	return z.out, true, nil
}

// Release hands the output buffer back to zstdOutPool (one grown past
// outInitial by a large payload to the GC): an idle connection holds none.
// The decoder goroutine only writes out between Push's send and its reply.
func (z *zstdStream) Release() { z.releaseOut() }

func (z *zstdStream) releaseOut() {
	if c := cap(z.out); c > 0 && c <= outInitial {
		if z.outp == nil {
			z.outp = new([]byte)
		}
		*z.outp = z.out[:0]
		zstdOutPool.Put(z.outp)
	}
	z.out, z.outp = nil, nil
}

// zstdOutPool holds zstd-stream output buffers of at most outInitial between
// payloads, as outPool does for zlib-stream; unlike zlib's, they are sized
// by the payloads that grew them (zstd needs no minimum room).
var zstdOutPool = freelist.New[[]byte](freelist.PerCPU())

func (z *zstdStream) Close() error {
	select {
	case <-z.quit:
	default:
		close(z.quit)
	}
	<-z.exit
	if z.err == nil {
		z.err = errors.New("inflate zstd-stream: closed")
	}
	return nil
}

// errClosed ends the decoder when the stream is closed.
var errClosed = errors.New("closed")

// run is the decoder goroutine.
func (z *zstdStream) run() {
	defer close(z.exit)
	src := &blockingSource{z: z}
	// Wait for the first message before the decoder may read, so that any
	// failure is reported to the Push that brought the bad bytes.
	if !src.next() {
		return
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
	if err == nil {
		err = dec.Reset(src)
	}
	if err != nil {
		z.fail(err)
		return
	}
	defer dec.Close()
	// WriteTo hands each decoded block straight to the sink, in this
	// goroutine; it returns only when the source or the data fails.
	_, err = dec.WriteTo(outSink{z})
	if errors.Is(err, errClosed) {
		return
	}
	if err == nil {
		err = errors.New("stream ended")
	}
	z.fail(err)
}

// maxWindow bounds the history a frame may ask the decoder to keep: the
// limit libzstd itself applies by default (window log 27), where
// klauspost's default would allow 512 MiB per connection.
const maxWindow = 128 << 20

// outSink appends decoded bytes to out. Only the decoder goroutine writes,
// and only between receiving a message and reporting it consumed. Past
// z.max the payload's output is discarded: the decoder keeps its own
// history, so the stream stays in sync.
type outSink struct{ z *zstdStream }

func (s outSink) Write(p []byte) (int, error) {
	z := s.z
	z.size += int64(len(p))
	if z.size > int64(z.max) {
		z.out = z.out[:0]
		return len(p), nil
	}
	if need := len(z.out) + len(p); need > cap(z.out) {
		// Double, but never past the bound: append's gentler growth of
		// large slices would allocate several times the bound on the way.
		grown := make([]byte, len(z.out), min(max(2*cap(z.out), need, 64<<10), z.max))
		copy(grown, z.out)
		z.out = grown
		if z.outp != nil { // the pooled buffer is free again
			*z.outp = (*z.outp)[:0]
			zstdOutPool.Put(z.outp)
			z.outp = nil
		}
	}
	z.out = append(z.out, p...)
	return len(p), nil
}

// fail reports err to the Push waiting for the current message.
func (z *zstdStream) fail(err error) {
	select {
	case z.done <- err:
	case <-z.quit:
	}
}

// blockingSource feeds the decoder message by message.
type blockingSource struct {
	z    *zstdStream
	data []byte
}

// next waits for the next message; false when closed.
func (s *blockingSource) next() bool {
	select {
	case s.data = <-s.z.in:
		return true
	case <-s.z.quit:
		return false
	}
}

func (s *blockingSource) Read(p []byte) (int, error) {
	for len(s.data) == 0 {
		// The decoder wants more than this message holds: every byte it
		// decoded from it is in out. Complete the Push, wait for the next.
		select {
		case s.z.done <- nil:
		case <-s.z.quit:
			return 0, errClosed
		}
		if !s.next() {
			return 0, errClosed
		}
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}
