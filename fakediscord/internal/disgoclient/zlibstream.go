package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/gorilla/websocket"
)

// disgo v0.18 has no zlib-stream (transport compression), so zlibStreamDialer
// gives it one the way libraries that have it work: the gateway URL asks
// for compress=zlib-stream, and one inflate context per connection turns
// the binary messages (each ending in a sync flush) back into the text
// messages disgo reads. disgo's own code and models then see every payload.
// A stream that does not inflate goes to broken as well as to disgo (which
// would only log it at debug level and reconnect).
func zlibStreamDialer(broken func(error)) *websocket.Dialer {
	d := *websocket.DefaultDialer
	var nd net.Dialer
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := nd.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newZlibStreamConn(c, broken), nil
	}
	return &d
}

// zlibStreamConn rewrites the upgrade request to ask for zlib-stream and
// rewrites the server's binary data frames into text frames of the
// inflated payloads. Control frames pass unchanged, after the data before
// them.
type zlibStreamConn struct {
	net.Conn
	asked  bool // the upgrade request was rewritten
	broken func(error)

	mu   sync.Mutex
	cond *sync.Cond
	out  bytes.Buffer // bytes for the client to read
	err  error        // after out is drained
}

func newZlibStreamConn(c net.Conn, broken func(error)) *zlibStreamConn {
	z := &zlibStreamConn{Conn: c, broken: broken}
	z.cond = sync.NewCond(&z.mu)
	go z.pump()
	return z
}

func (z *zlibStreamConn) Write(p []byte) (int, error) {
	if !z.asked {
		z.asked = true
		q := []byte("encoding=json ")
		if i := bytes.Index(p, q); i >= 0 {
			rewritten := append(append(append([]byte{}, p[:i]...), "encoding=json&compress=zlib-stream "...), p[i+len(q):]...)
			if _, err := z.Conn.Write(rewritten); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return z.Conn.Write(p)
}

func (z *zlibStreamConn) Read(p []byte) (int, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for z.out.Len() == 0 && z.err == nil {
		z.cond.Wait()
	}
	if z.out.Len() > 0 {
		return z.out.Read(p)
	}
	return 0, z.err
}

func (z *zlibStreamConn) emit(b []byte, err error) {
	z.mu.Lock()
	z.out.Write(b)
	if err != nil && z.err == nil {
		z.err = err
	}
	z.mu.Unlock()
	z.cond.Broadcast()
}

// pump passes the HTTP response through, then translates frames until the
// connection ends.
func (z *zlibStreamConn) pump() {
	r := bufio.NewReader(z.Conn)
	for { // the 101 response, up to the blank line
		line, err := r.ReadBytes('\n')
		z.emit(line, nil)
		if err != nil {
			z.emit(nil, err)
			return
		}
		if bytes.Equal(line, []byte("\r\n")) {
			break
		}
	}
	pr, pw := io.Pipe()
	inflated := make(chan struct{})
	go func() { // one inflate context for the whole connection
		defer close(inflated)
		zr, err := zlib.NewReader(pr)
		if err != nil {
			_ = pr.CloseWithError(err)
			return
		}
		dec := json.NewDecoder(zr)
		for {
			var m json.RawMessage
			if err := dec.Decode(&m); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, net.ErrClosed) {
					err = fmt.Errorf("zlib-stream: %w", err)
					z.broken(err)
					z.emit(nil, err)
				}
				_ = pr.CloseWithError(err)
				return
			}
			z.emit(frame(websocket.TextMessage, m), nil)
		}
	}()
	for {
		op, payload, err := readFrame(r)
		if err != nil {
			_ = pw.CloseWithError(err)
			<-inflated
			z.emit(nil, err)
			return
		}
		switch op {
		case websocket.BinaryMessage, 0: // data and continuation
			if _, err := pw.Write(payload); err != nil {
				z.emit(nil, err)
				return
			}
		case websocket.TextMessage:
			err := errors.New("zlib-stream: text frame on a compressed connection")
			z.broken(err)
			z.emit(nil, err)
			return
		default: // control: after everything inflated so far
			if op == websocket.CloseMessage {
				_ = pw.Close()
				<-inflated
			}
			z.emit(frame(op, payload), nil)
		}
	}
}

// readFrame reads one server frame (never masked); fragmented messages
// are fine because data frames only feed the inflater.
func readFrame(r *bufio.Reader) (int, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	op := int(h[0] & 0x0f)
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if h[1]&0x80 != 0 || n > 1<<26 {
		return 0, nil, fmt.Errorf("zlib-stream: bad server frame header % x (length %d)", h, n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return op, payload, nil
}

// frame encodes one unfragmented, unmasked frame.
func frame(op int, payload []byte) []byte {
	b := []byte{0x80 | byte(op)}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}
