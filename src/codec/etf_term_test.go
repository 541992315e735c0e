package codec

import (
	"strings"
	"testing"
)

func TestETFSkipWalksEveryTermType(t *testing.T) {
	node := atomAs(etfAtom, "n@h")
	cases := []struct {
		name    string
		term    []byte
		wantErr string
	}{
		{"PID_EXT", cat([]byte{etfPid}, node, make([]byte, 9)), ""},
		{"NEW_PID_EXT", cat([]byte{etfNewPid}, node, make([]byte, 12)), ""},
		{"PORT_EXT", cat([]byte{etfPort}, node, make([]byte, 5)), ""},
		{"NEW_PORT_EXT", cat([]byte{etfNewPort}, node, make([]byte, 8)), ""},
		{"V4_PORT_EXT", cat([]byte{etfV4Port}, node, make([]byte, 12)), ""},
		{"REFERENCE_EXT", cat([]byte{etfReference}, node, make([]byte, 5)), ""},
		{"NEW_REFERENCE_EXT", cat([]byte{etfNewReference, 0, 2}, node, make([]byte, 1+8)), ""},
		{"NEWER_REFERENCE_EXT", cat([]byte{etfNewerRef, 0, 3}, node, make([]byte, 4+12)), ""},
		{"EXPORT_EXT", cat([]byte{etfExport}, atom("erlang"), atom("abs"), smallInt(1)), ""},
		{"NEW_FUN_EXT", cat([]byte{etfNewFun, 0, 0, 0, 6}, []byte{1, 2}), ""},
		{"BIT_BINARY_EXT", []byte{etfBitBinary, 0, 0, 0, 1, 3, 0xe0}, ""},
		{"LARGE_TUPLE_EXT", cat([]byte{etfLargeTuple, 0, 0, 0, 2}, smallInt(1), atom("a")), ""},
		{"FLOAT_EXT", cat([]byte{etfFloat}, make([]byte, 31)), ""},
		{"improper list", cat([]byte{etfList, 0, 0, 0, 1}, smallInt(1), smallInt(2)), ""},
		{"pid with an integer node", cat([]byte{etfNewPid}, smallInt(1), make([]byte, 12)), "not an atom"},
		{"pid with a truncated node", []byte{etfNewPid}, "truncated"},
		{"reference truncated", []byte{etfNewerRef, 0}, "truncated"},
		{"fun smaller than its size field", []byte{etfNewFun, 0, 0, 0, 2, 0, 0, 0, 0, 0}, "fun of size"},
		{"fun truncated", []byte{etfNewFun, 0, 0, 0, 200, 0}, "truncated"},
		{"compressed term", []byte{80, 0, 0, 0, 1, 0}, "unsupported"},
		{"tuple arity beyond input", []byte{etfSmallTuple, 200, etfNil}, "truncated"},
		{"big truncated", []byte{etfLargeBig, 0, 0, 1}, "truncated"},
		{"small atom truncated", []byte{etfSmallAtom}, "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Followed by a marker term: the skip must end exactly before it.
			b := cat(c.term, []byte{etfNil})
			end, err := etfSkip(b, 0)
			if c.wantErr != "" {
				if c.wantErr == "truncated" {
					end, err = etfSkip(c.term, 0)
				}
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("end %d, err %v; want an error containing %q", end, err, c.wantErr)
				}
				return
			}
			if err != nil || end != len(c.term) {
				t.Fatalf("end %d of %d, err %v", end, len(c.term), err)
			}
			for n := range len(c.term) {
				if _, err := etfSkip(c.term[:n], 0); err == nil {
					t.Fatalf("cut to %d bytes: no error", n)
				}
			}
		})
	}
}
