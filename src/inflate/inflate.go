// Package inflate undoes Discord's transport compression: zlib-stream and
// zstd-stream, each one decompression context per websocket connection.
package inflate

import "fmt"

// Decompressor turns websocket messages back into gateway payloads. One per
// connection; never shared, never reused across connections.
type Decompressor interface {
	// Push takes the next websocket message. When it completes a payload,
	// Push returns it; the slice is valid until the next Push or Close. An
	// error means the stream is corrupt and the connection must be dropped.
	Push(msg []byte) (payload []byte, complete bool, err error)
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
func (passthrough) Close() error                          { return nil }
