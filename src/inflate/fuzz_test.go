package inflate

import (
	"bytes"
	"testing"
	"time"
)

// splitMessages cuts data into websocket messages at the cut points taken
// from the fuzzer's bytes.
func splitMessages(data, cuts []byte) [][]byte {
	var msgs [][]byte
	for _, c := range cuts {
		n := int(c) % (len(data) + 1)
		msgs = append(msgs, data[:n])
		data = data[n:]
	}
	return append(msgs, data)
}

// FuzzZlibStream: arbitrary bytes split arbitrarily never panic, and a
// valid stream cut anywhere still yields its payloads in order.
func FuzzZlibStream(f *testing.F) {
	payloads := [][]byte{textPayload(1, 200), textPayload(2, 3000), {}}
	var all []byte
	for _, m := range zlibMessages(f, payloads) {
		all = append(all, m...)
	}
	f.Add(all, []byte{10, 200})
	f.Add([]byte{0x78, 0x9c, 0, 0, 0, 0xff, 0xff}, []byte{})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		z := NewZlibStream()
		defer z.Close()
		var out []byte
		for _, m := range splitMessages(data, cuts) {
			p, _, err := z.Push(m)
			if err != nil {
				return
			}
			out = append(out, p...)
		}
		if bytes.Equal(data, all) && !bytes.Equal(out, bytes.Join(payloads, nil)) {
			t.Fatal("valid stream decoded wrongly")
		}
	})
}

// FuzzZstdStream: arbitrary bytes never panic nor hang the decoder.
func FuzzZstdStream(f *testing.F) {
	for _, m := range zstdMessages(f, [][]byte{textPayload(1, 200), textPayload(2, 3000)}) {
		f.Add(m, []byte{3})
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			z := NewZstdStream()
			defer z.Close()
			for _, m := range splitMessages(data, cuts) {
				if _, _, err := z.Push(m); err != nil {
					return
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("decoder hung")
		}
	})
}
