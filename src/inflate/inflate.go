// Package inflate undoes Discord's transport compression: zlib-stream and
// zstd-stream, each one decompression context per websocket connection.
package inflate

import (
	"errors"
	"fmt"
)

// MaxPayload bounds one inflated payload: 32 MiB, far above Discord's
// largest real payloads (a GUILD_CREATE of a very large guild is a few MiB).
// A payload past it is decompressed to keep the stream in sync but its
// output is discarded, so one hostile payload costs at most MaxPayload of
// memory and never ends the connection (a resume would replay it forever).
const MaxPayload = 32 << 20

// retainBuffer is the largest buffer kept between payloads: buffers grown
// by a rare large payload are released at the next Push, so memory returns
// to the idle level instead of staying at the peak for the connection's life.
const retainBuffer = 4 << 20

// idleBuffer is the largest buffer of a kind usually small (zstd's output,
// zlib's pending bytes of a split payload) that Release keeps while the
// connection waits for its next message.
const idleBuffer = 64 << 10

// ErrTooLarge is returned, wrapped, by Push when a payload inflates past
// the bound: that payload is dropped, and unlike every other error the
// stream stays in sync and usable.
var ErrTooLarge = errors.New("payload too large")

// TooLargeError reports a dropped payload and how big it inflated to.
type TooLargeError struct {
	Mode  string
	Size  int64 // inflated size
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("inflate %s: payload of %d bytes is over the %d MiB bound; dropped", e.Mode, e.Size, e.Limit>>20)
}

func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// Decompressor turns websocket messages back into gateway payloads. One per
// connection; never shared, never reused across connections.
type Decompressor interface {
	// Push takes the next websocket message. When it completes a payload,
	// Push returns it; the slice is valid until the next Push or Close. An
	// error wrapping ErrTooLarge means that one payload was dropped and the
	// stream goes on; any other error means the stream is corrupt and the
	// connection must be dropped.
	Push(msg []byte) (payload []byte, complete bool, err error)
	// Release says the caller is done with the last payload and waits for
	// the next message: buffers grown past their usual size by a large
	// payload are let go now, not held while the connection idles (with
	// 1,000 shards that is most of the memory). The stream's state is kept.
	// It invalidates the last payload and message given to Push.
	Release()
	// Close releases the context (and any goroutine it owns).
	Close() error
}

// Modes accepted by New, as sent in the compress query parameter.
const (
	None       = ""
	ZlibStream = "zlib-stream"
	ZstdStream = "zstd-stream"
)

// New returns a fresh decompressor for mode.
func New(mode string) (Decompressor, error) {
	switch mode {
	case None:
		return passthrough{}, nil
	case ZlibStream:
		return NewZlibStream(), nil
	case ZstdStream:
		return NewZstdStream(), nil
	}
	return nil, fmt.Errorf("unknown transport compression %q", mode)
}

type passthrough struct{}

func (passthrough) Push(msg []byte) ([]byte, bool, error) { return msg, true, nil }
func (passthrough) Release()                              {}
func (passthrough) Close() error                          { return nil }
