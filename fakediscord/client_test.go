package fakediscord

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/klauspost/compress/zstd"
)

// testClient is a minimal gateway client for the tests: it keeps the
// whole compressed stream and decompresses it from the start for each
// message, which is slow but proves the stream is one continuous context.
type testClient struct {
	t          testing.TB
	ws         *websocket.Conn
	enc        Encoding
	comp       Compression
	compressed []byte
	plainSeen  int
}

func startServer(t testing.TB, o Options) *Server {
	t.Helper()
	s := New(o)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func dialURL(t testing.TB, url string, enc Encoding, comp Compression) *testClient {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return &testClient{t: t, ws: ws, enc: enc, comp: comp}
}

func dial(t testing.TB, s *Server, enc Encoding, comp Compression) *testClient {
	t.Helper()
	url := fmt.Sprintf("%s/?v=10&encoding=%s", s.GatewayURL(), enc)
	if comp != CompressNone {
		url += "&compress=" + string(comp)
	}
	return dialURL(t, url, enc, comp)
}

// quietDial and quietHandshake report errors instead of failing, for
// use from worker goroutines.
func quietDial(s *Server, comp Compression) (*testClient, error) {
	url := fmt.Sprintf("%s/?v=10&encoding=json", s.GatewayURL())
	if comp != CompressNone {
		url += "&compress=" + string(comp)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return &testClient{ws: ws, enc: EncodingJSON, comp: comp}, nil
}

func (c *testClient) quietHandshake(s *Server, shard, total int) error {
	if _, err := c.readPlain(); err != nil {
		return fmt.Errorf("reading HELLO: %w", err)
	}
	b, _ := marshalJSON(map[string]any{"op": OpIdentify, "d": identifyD(s.Options().Token, shard, total, 513)})
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("sending IDENTIFY: %w", err)
	}
	b, err := c.readPlain()
	if err != nil {
		return fmt.Errorf("reading READY: %w", err)
	}
	if !bytes.Contains(b, []byte(`"t":"READY"`)) {
		return fmt.Errorf("want READY, got %.100s", b)
	}
	return nil
}

func (c *testClient) encode(op int, d any) []byte {
	c.t.Helper()
	p := map[string]any{"op": op, "d": d}
	var b []byte
	var err error
	if c.enc == EncodingETF {
		b, err = MarshalETFClient(p)
	} else {
		b, err = marshalJSON(p)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *testClient) send(op int, d any) {
	c.t.Helper()
	c.sendRaw(c.encode(op, d))
}

func (c *testClient) sendRaw(b []byte) {
	c.t.Helper()
	mt := websocket.TextMessage
	if c.enc == EncodingETF {
		mt = websocket.BinaryMessage
	}
	if err := c.ws.WriteMessage(mt, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readPlain reads one websocket message and returns the payload bytes
// after transport decompression.
func (c *testClient) readPlain() ([]byte, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if c.comp == CompressNone {
		return msg, nil
	}
	c.compressed = append(c.compressed, msg...)
	var r io.Reader
	switch c.comp {
	case CompressZlib:
		if !bytes.HasSuffix(msg, []byte{0, 0, 0xff, 0xff}) {
			return nil, errors.New("zlib-stream message does not end with 00 00 ff ff")
		}
		zr, err := zlib.NewReader(bytes.NewReader(c.compressed))
		if err != nil {
			return nil, err
		}
		r = zr
	case CompressZstd:
		zr, err := zstd.NewReader(bytes.NewReader(c.compressed), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	all, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	if len(all) <= c.plainSeen {
		return nil, fmt.Errorf("message decompressed to nothing (%d bytes so far)", len(all))
	}
	out := all[c.plainSeen:]
	c.plainSeen = len(all)
	return out, nil
}

// next reads and decodes one payload.
func (c *testClient) next() (map[string]any, []byte) {
	c.t.Helper()
	b, err := c.readPlain()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	p, _, err := DecodePayload(c.enc, b)
	if err != nil {
		c.t.Fatalf("decode %q: %v", b, err)
	}
	return p, b
}

// expectOp reads payloads, skipping heartbeat ACKs unless op is 11, until
// one with op arrives; anything else fails the test.
func (c *testClient) expectOp(op int) map[string]any {
	c.t.Helper()
	for {
		p, _ := c.next()
		got, _ := asInt64(p["op"])
		if int(got) == op {
			return p
		}
		if got == OpHeartbeatACK {
			continue
		}
		c.t.Fatalf("want op %d, got %v", op, p)
	}
}

// expectDispatch reads until a dispatch t arrives.
func (c *testClient) expectDispatch(t string) (map[string]any, []byte) {
	c.t.Helper()
	for {
		p, raw := c.next()
		if op, _ := asInt64(p["op"]); op == OpDispatch && fmt.Sprint(p["t"]) == t {
			return p, raw
		}
	}
}

// expectClose reads until the server closes and checks the code.
func (c *testClient) expectClose(code int) {
	c.t.Helper()
	for {
		_, err := c.readPlain()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("want close %d, got %v", code, err)
		}
		if ce.Code != code {
			c.t.Fatalf("want close %d, got %d %q", code, ce.Code, ce.Text)
		}
		return
	}
}

func identifyD(token string, shard, total int, intents int64) map[string]any {
	return map[string]any{
		"token":           token,
		"properties":      map[string]any{"os": "linux", "browser": "test", "device": "test"},
		"compress":        false,
		"large_threshold": 250,
		"shard":           []any{shard, total},
		"intents":         intents,
	}
}

// handshake reads HELLO, identifies and returns READY's d.
func (c *testClient) handshake(s *Server, shard, total int) map[string]any {
	c.t.Helper()
	c.expectOp(OpHello)
	c.send(OpIdentify, identifyD(s.Options().Token, shard, total, 513))
	p, _ := c.expectDispatch("READY")
	return p["d"].(map[string]any)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
