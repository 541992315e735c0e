package inflate

import (
	"bytes"
	"fmt"
	"testing"
)

// TestZlibStreamRestartsWithEveryWindowLength: an empty payload makes flate
// ask past the sync flush with nothing to hand out, so zlibStream restarts it
// from the window flate emits (msgSource, step 2). The payload after it
// repeats the text before it, so it decodes only if the restart kept exactly
// the history there was, whatever its length: short (distance codes without
// and with extra bits, runs shorter than one 258-byte copy) or a whole
// window.
func TestZlibStreamRestartsWithEveryWindowLength(t *testing.T) {
	lengths := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 257, 258, 259, 516, 1000, 24576, 24577, windowSize - 1, windowSize, windowSize + 1, 3*windowSize + 7}
	for _, impl := range inflaters {
		for _, n := range lengths {
			t.Run(fmt.Sprintf("%s/%d", impl.name, n), func(t *testing.T) {
				text := textPayload(uint64(n), n)
				payloads := [][]byte{text, {}, text, {}, {}, text}
				z := newZlibWith(impl.new)
				checkStream(t, releasing{z}, zlibMessages(t, payloads), payloads)
				if z.restarts < 3 {
					t.Errorf("%d restarts, want at least 3 (one per empty payload)", z.restarts)
				}
			})
		}
	}
}

// TestZlibStreamStoredBlockEndingLikeASyncFlush: a message may end with a
// stored block whose data ends in 00 00 ff ff (not an empty one): flate then
// still holds that data when it asks for more. Step 1 of msgSource flushes
// it, the payload is complete and the stream goes on, back-references into
// it included.
func TestZlibStreamStoredBlockEndingLikeASyncFlush(t *testing.T) {
	first := []byte("hello\x00\x00\xff\xff")
	msg1 := append([]byte{0x78, 0x01, 0x00, byte(len(first)), 0x00, ^byte(len(first)), 0xff}, first...)
	msg2 := append([]byte{0x00, 0x05, 0x00, 0xfa, 0xff}, "world"...)
	msg2 = append(msg2, 0x00, 0x00, 0x00, 0xff, 0xff)
	// A fixed-Huffman block copying "hello" (length 5, distance 14), then
	// the sync flush.
	var w bitWriter
	w.bits(0, 1)
	w.bits(1, 2)
	w.huff(0b0000011, 7) // length 5: code 259
	code, extra, base := distCode(14)
	w.huff(uint32(code), 5)
	w.bits(uint32(14-base), extra)
	w.huff(0, 7) // end of block
	w.bits(0, 3) // not final, stored
	w.flush()
	msg3 := append(w.buf, 0x00, 0x00, 0xff, 0xff)
	for _, impl := range inflaters {
		t.Run(impl.name, func(t *testing.T) {
			checkStream(t, newZlibWith(impl.new), [][]byte{msg1, msg2, msg3}, [][]byte{first, []byte("world"), []byte("hello")})
		})
	}
}

// TestDistCodeMatchesRFC1951 checks the distance code table at every
// code's first and last distance.
func TestDistCodeMatchesRFC1951(t *testing.T) {
	// RFC 1951 3.2.5: code, extra bits, first distance.
	table := [30][2]int{
		{0, 1}, {0, 2}, {0, 3}, {0, 4}, {1, 5}, {1, 7}, {2, 9}, {2, 13}, {3, 17}, {3, 25},
		{4, 33}, {4, 49}, {5, 65}, {5, 97}, {6, 129}, {6, 193}, {7, 257}, {7, 385}, {8, 513}, {8, 769},
		{9, 1025}, {9, 1537}, {10, 2049}, {10, 3073}, {11, 4097}, {11, 6145}, {12, 8193}, {12, 12289}, {13, 16385}, {13, 24577},
	}
	for c, row := range table {
		for _, d := range []int{row[1], row[1] + 1<<row[0] - 1} {
			code, extra, base := distCode(d)
			if code != c || int(extra) != row[0] || base != row[1] {
				t.Errorf("distCode(%d) = %d, %d, %d; want %d, %d, %d", d, code, extra, base, c, row[0], row[1])
			}
		}
	}
	if last := table[29][1] + 1<<13 - 1; last != windowSize {
		t.Fatalf("the table ends at %d, not the window", last)
	}
}

// TestZlibStreamKeepsNoWindowOfItsOwn: between payloads a connection holds
// flate's state only (its window is the one copy of the history); what a
// restart needs is read out of flate when it happens.
func TestZlibStreamKeepsNoWindowOfItsOwn(t *testing.T) {
	payloads := [][]byte{textPayload(1, 3*windowSize), {}, textPayload(2, 500)}
	z := NewZlibStream().(*zlibStream)
	for i, m := range zlibMessages(t, payloads) {
		z.Release()
		got, _, err := z.Push(m)
		if err != nil || !bytes.Equal(got, payloads[i]) {
			t.Fatalf("payload %d: %v", i, err)
		}
	}
	z.Release()
	if z.out != nil || len(z.src.data) != 0 {
		t.Errorf("released stream holds out (%d bytes) or a message (%d bytes)", cap(z.out), len(z.src.data))
	}
	allocs := testing.AllocsPerRun(1, func() { z.Release() })
	if allocs != 0 {
		t.Errorf("Release allocates")
	}
}
