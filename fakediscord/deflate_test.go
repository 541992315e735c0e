package fakediscord

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func TestZlibStreamDecodesWithTheStandardInflaterAcrossMessages(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	msg, _ := EncodePayload(EncodingJSON, 0, SampleMessageCreate(), 1, "MESSAGE_CREATE")
	guild, _ := EncodePayload(EncodingETF, 0, SampleGuildCreate(NewSnowflake(), 120), 2, "GUILD_CREATE")
	cases := []struct {
		name string
		msgs [][]byte
	}{
		{"one byte", [][]byte{{'x'}}},
		{"empty message", [][]byte{{}, []byte("after empty")}},
		{"json payloads", [][]byte{msg, msg, msg}},
		{"large etf payload over the window", [][]byte{guild, msg, guild}},
		{"random data", [][]byte{random(100), random(70000), random(3)}},
		{"long runs", [][]byte{bytes.Repeat([]byte("a"), 100000), bytes.Repeat([]byte("ab"), 5000)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			z := newDeflateStream()
			var stream, want []byte
			for _, m := range tc.msgs {
				out, err := z.compress(m)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
					t.Fatalf("message does not end with a sync flush: %x", out[max(0, len(out)-8):])
				}
				stream = append(stream, out...)
				want = append(want, m...)
			}
			r, err := zlib.NewReader(bytes.NewReader(stream))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("inflated %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

func TestZlibStreamReferencesEarlierMessages(t *testing.T) {
	// Snowflakes and timestamps are random, so try many messages. A repeat is
	// back references only: at most 258 bytes each, a few bytes apiece, so it
	// compresses well over 20x even when a hash collision cuts a match short.
	for i := range 200 {
		z := newDeflateStream()
		msg, _ := EncodePayload(EncodingJSON, 0, SampleMessageCreate(), 1, "MESSAGE_CREATE")
		first, _ := z.compress(msg)
		second, _ := z.compress(msg)
		if len(second)*20 > len(msg) || len(second)*10 > len(first) {
			t.Fatalf("message %d: first %d bytes, repeat %d bytes (payload %d)", i, len(first), len(second), len(msg))
		}
	}
}
