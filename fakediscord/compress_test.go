package fakediscord

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

func TestCompressedStreamsStartOnceAndNeverEnd(t *testing.T) {
	for _, tc := range []struct {
		comp   Compression
		header []byte
	}{
		{CompressZlib, []byte{0x78}},
		{CompressZstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	} {
		t.Run(string(tc.comp), func(t *testing.T) {
			s := startServer(t, Options{})
			c := dial(t, s, EncodingETF, tc.comp)
			c.handshake(s, 0, 1)
			for range 3 {
				if _, err := s.Dispatch(0, "TYPING_START", SampleTypingStart()); err != nil {
					t.Fatal(err)
				}
				c.expectDispatch("TYPING_START")
			}
			// c.compressed is every message concatenated; the header must
			// appear exactly once, at the start.
			if !bytes.HasPrefix(c.compressed, tc.header) {
				t.Fatalf("stream starts with %x", c.compressed[:4])
			}
			if tc.comp == CompressZstd && bytes.Count(c.compressed, tc.header) != 1 {
				t.Fatal("more than one zstd frame")
			}
		})
	}
}

func TestDropClosesWithoutACloseFrame(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, EncodingJSON, CompressNone)
	c.handshake(s, 0, 1)
	if err := s.DropShard(0); err != nil {
		t.Fatal(err)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ws.ReadMessage()
	// The library reports a connection that ended without a close frame
	// as 1006, a code that never travels on the wire.
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseAbnormalClosure {
		t.Fatalf("want a dropped connection, got %v", err)
	}
	snap, _ := s.WaitFor(ctxT(t), func(sn *Snapshot) bool { return !sn.Connections[0].Open() })
	if ci := snap.Connections[0]; ci.ClosedBy != "drop" || ci.CloseCode != 0 {
		t.Fatalf("conn = %+v", ci)
	}
}
