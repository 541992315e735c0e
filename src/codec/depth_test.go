package codec

import (
	"bytes"
	"strings"
	"testing"
)

// Hostile nesting from Discord must end in a clear error or a linear walk,
// never a stack overflow: the JSON scanner keeps its open containers in a
// fixed bit set (jsonMaxDepth), the ETF walk counts pending terms instead
// of recursing, and command validation bounds its recursion.

func TestJSONScanRefusesNestingPastItsBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		depth int
		ok    bool
	}{
		{"at the bound", jsonMaxDepth, true},
		{"one past", jsonMaxDepth + 1, false},
		{"a million deep", 1 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := `{"op":0,"s":1,"t":"X","d":` + strings.Repeat("[", tc.depth) + "0" + strings.Repeat("]", tc.depth) + `}`
			var f Frame
			err := JSON{}.Scan([]byte(p), &f)
			if tc.ok && err != nil {
				t.Fatalf("depth %d: %v", tc.depth, err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "too deep")) {
				t.Fatalf("depth %d: got %v, want a too-deep error", tc.depth, err)
			}
		})
	}
	if jsonMaxDepth != 1024 {
		t.Errorf("jsonMaxDepth = %d, documented as 1024", jsonMaxDepth)
	}
}

func TestETFScanWalksAMillionDeepTermWithoutRecursing(t *testing.T) {
	const depth = 1 << 20
	// [[[...nil...]]]: each level a one-element list with a nil tail.
	var d bytes.Buffer
	for range depth {
		d.Write([]byte{etfList, 0, 0, 0, 1})
	}
	d.WriteByte(etfNil)
	for range depth {
		d.WriteByte(etfNil)
	}
	p := payload(mapOf(atom("op"), smallInt(0), atom("s"), smallInt(1), atom("t"), atom("X"), atom("d"), d.Bytes()))
	var f Frame
	if err := (ETF{}).Scan(p, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.D) != d.Len() {
		t.Errorf("d is %d bytes, want %d", len(f.D), d.Len())
	}
	// Cut short, the same term is refused, not walked past the end.
	if err := (ETF{}).Scan(p[:len(p)-depth/2], &f); err == nil {
		t.Error("a truncated deep term was accepted")
	}
}

func TestCommandNestingIsBounded(t *testing.T) {
	deepJSON := `{"op":3,"d":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	if _, err := (JSON{}).CommandOp([]byte(deepJSON)); err == nil {
		t.Error("JSON command nested 100,000 deep was accepted")
	}
	deepETF := payload(mapOf(bin("op"), smallInt(3), bin("d"), cat(bytes.Repeat([]byte{etfSmallTuple, 1}, 100000), []byte{etfNil})))
	if _, err := (ETF{}).CommandOp(deepETF); err == nil || !strings.Contains(err.Error(), "too deep") {
		t.Errorf("ETF command nested 100,000 deep: got %v, want a too-deep error", err)
	}
}
