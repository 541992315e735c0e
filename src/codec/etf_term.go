package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// External term format tags (erts/doc: "External Term Format").
const (
	etfVersion       = 131
	etfNewFloat      = 70
	etfBitBinary     = 77
	etfNewerRef      = 90
	etfNewPid        = 88
	etfNewPort       = 89
	etfSmallInteger  = 97
	etfInteger       = 98
	etfFloat         = 99
	etfAtom          = 100
	etfReference     = 101
	etfPort          = 102
	etfPid           = 103
	etfSmallTuple    = 104
	etfLargeTuple    = 105
	etfNil           = 106
	etfString        = 107
	etfList          = 108
	etfBinary        = 109
	etfSmallBig      = 110
	etfLargeBig      = 111
	etfNewFun        = 112
	etfExport        = 113
	etfNewReference  = 114
	etfSmallAtom     = 115
	etfMap           = 116
	etfAtomUTF8      = 118
	etfSmallAtomUTF8 = 119
	etfV4Port        = 120
)

var errTruncated = errors.New("truncated term")

// need reports whether b holds n more bytes at i, without overflowing.
func need(b []byte, i, n int) bool { return n >= 0 && n <= len(b)-i }

// etfText returns the text of the atom or binary at i and the index after it.
// ok is false (with no error) when the term is well formed but neither.
func etfText(b []byte, i int) (text []byte, next int, ok bool, err error) {
	if !need(b, i, 1) {
		return nil, 0, false, errTruncated
	}
	var n, hdr int
	switch b[i] {
	case etfSmallAtom, etfSmallAtomUTF8:
		if !need(b, i, 2) {
			return nil, 0, false, errTruncated
		}
		n, hdr = int(b[i+1]), 2
	case etfAtom, etfAtomUTF8:
		if !need(b, i, 3) {
			return nil, 0, false, errTruncated
		}
		n, hdr = int(binary.BigEndian.Uint16(b[i+1:])), 3
	case etfBinary:
		if !need(b, i, 5) {
			return nil, 0, false, errTruncated
		}
		n, hdr = int(binary.BigEndian.Uint32(b[i+1:])), 5
	default:
		next, err = etfSkip(b, i)
		return nil, next, false, err
	}
	if !need(b, i+hdr, n) {
		return nil, 0, false, errTruncated
	}
	return b[i+hdr : i+hdr+n], i + hdr + n, true, nil
}

// etfIsAtom reports whether the term at i is the atom named name.
func etfIsAtom(b []byte, i int, name string) bool {
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case etfAtom, etfSmallAtom, etfAtomUTF8, etfSmallAtomUTF8:
		text, _, ok, err := etfText(b, i)
		return ok && err == nil && string(text) == name
	}
	return false
}

// etfInt reads the integer at i (any integer encoding that fits int64).
func etfInt(b []byte, i int) (v int64, next int, err error) {
	if !need(b, i, 1) {
		return 0, 0, errTruncated
	}
	switch b[i] {
	case etfSmallInteger:
		if !need(b, i, 2) {
			return 0, 0, errTruncated
		}
		return int64(b[i+1]), i + 2, nil
	case etfInteger:
		if !need(b, i, 5) {
			return 0, 0, errTruncated
		}
		return int64(int32(binary.BigEndian.Uint32(b[i+1:]))), i + 5, nil
	case etfSmallBig, etfLargeBig:
		var n, hdr int
		if b[i] == etfSmallBig {
			if !need(b, i, 3) {
				return 0, 0, errTruncated
			}
			n, hdr = int(b[i+1]), 2
		} else {
			if !need(b, i, 6) {
				return 0, 0, errTruncated
			}
			n, hdr = int(binary.BigEndian.Uint32(b[i+1:])), 5
		}
		sign := b[i+hdr]
		digits := i + hdr + 1
		if !need(b, digits, n) {
			return 0, 0, errTruncated
		}
		var u uint64
		for k := n - 1; k >= 0; k-- { // little endian digits
			d := b[digits+k]
			if u > (1<<64-1)>>8 {
				return 0, 0, errors.New("integer overflows int64")
			}
			u = u<<8 | uint64(d)
		}
		next = digits + n
		switch {
		case sign == 0 && u <= 1<<63-1:
			return int64(u), next, nil
		case sign != 0 && u <= 1<<63:
			return int64(-u), next, nil // -(1<<63) wraps to itself: correct
		}
		return 0, 0, errors.New("integer overflows int64")
	}
	return 0, 0, fmt.Errorf("tag %d is not an integer", b[i])
}

// etfSkip returns the index just past the term at i. It walks iteratively
// with a count of terms still to skip, so nesting depth costs no stack, and
// every term consumes at least one byte, so the walk ends within len(b).
// Away from the end of b the common tags are skipped without per-field
// bounds checks (i may overshoot len(b); that is caught before any read).
func etfSkip(b []byte, i int) (int, error) {
	pending := 1
	for pending > 0 {
		// Each pending term takes at least one byte: an arity claiming more
		// terms than bytes left is garbage, rejected before looping on it.
		if pending > len(b)-i {
			return 0, errTruncated
		}
		pending--
		if len(b)-i >= 9 {
			h := b[i : i+9 : i+9]
			switch h[0] {
			case etfSmallInteger:
				i += 2
				continue
			case etfInteger:
				i += 5
				continue
			case etfNewFloat:
				i += 9
				continue
			case etfNil:
				i++
				continue
			case etfSmallAtom, etfSmallAtomUTF8:
				i += 2 + int(h[1])
				continue
			case etfAtom, etfAtomUTF8, etfString:
				i += 3 + int(binary.BigEndian.Uint16(h[1:3]))
				continue
			case etfBinary:
				i += 5 + int(binary.BigEndian.Uint32(h[1:5]))
				continue
			case etfSmallBig:
				i += 3 + int(h[1])
				continue
			case etfMap:
				pending += 2 * int(binary.BigEndian.Uint32(h[1:5]))
				i += 5
				continue
			case etfList:
				pending += int(binary.BigEndian.Uint32(h[1:5])) + 1
				i += 5
				continue
			}
		}
		next, children, err := etfSkipOne(b, i)
		if err != nil {
			return 0, err
		}
		i, pending = next, pending+children
	}
	if i > len(b) {
		return 0, errTruncated
	}
	return i, nil
}

// etfSkipOne skips the header and fixed-size part of the term at i, with
// every bounds check, and returns how many nested terms follow it.
func etfSkipOne(b []byte, i int) (next, children int, err error) {
	if !need(b, i, 1) {
		return 0, 0, errTruncated
	}
	tag := b[i]
	i++
	var fixed int // bytes after the header with no nested terms
	switch tag {
	case etfSmallInteger:
		fixed = 1
	case etfInteger:
		fixed = 4
	case etfNewFloat:
		fixed = 8
	case etfFloat:
		fixed = 31
	case etfNil:
	case etfSmallAtom, etfSmallAtomUTF8:
		if !need(b, i, 1) {
			return 0, 0, errTruncated
		}
		fixed = 1 + int(b[i])
	case etfAtom, etfAtomUTF8, etfString:
		if !need(b, i, 2) {
			return 0, 0, errTruncated
		}
		fixed = 2 + int(binary.BigEndian.Uint16(b[i:]))
	case etfBinary:
		if !need(b, i, 4) {
			return 0, 0, errTruncated
		}
		fixed = 4 + int(binary.BigEndian.Uint32(b[i:]))
	case etfBitBinary:
		if !need(b, i, 4) {
			return 0, 0, errTruncated
		}
		fixed = 5 + int(binary.BigEndian.Uint32(b[i:]))
	case etfSmallBig:
		if !need(b, i, 1) {
			return 0, 0, errTruncated
		}
		fixed = 2 + int(b[i])
	case etfLargeBig:
		if !need(b, i, 4) {
			return 0, 0, errTruncated
		}
		fixed = 5 + int(binary.BigEndian.Uint32(b[i:]))
	case etfSmallTuple:
		if !need(b, i, 1) {
			return 0, 0, errTruncated
		}
		children += int(b[i])
		fixed = 1
	case etfLargeTuple:
		if !need(b, i, 4) {
			return 0, 0, errTruncated
		}
		children += int(binary.BigEndian.Uint32(b[i:]))
		fixed = 4
	case etfList:
		if !need(b, i, 4) {
			return 0, 0, errTruncated
		}
		children += int(binary.BigEndian.Uint32(b[i:])) + 1 // elements and tail
		fixed = 4
	case etfMap:
		if !need(b, i, 4) {
			return 0, 0, errTruncated
		}
		children += 2 * int(binary.BigEndian.Uint32(b[i:]))
		fixed = 4
	case etfExport:
		children += 3 // module, function, arity
	case etfNewFun:
		if !need(b, i, 4) {
			return 0, 0, errTruncated
		}
		fixed = int(binary.BigEndian.Uint32(b[i:])) // Size counts itself, not the tag
		if fixed < 4 {
			return 0, 0, fmt.Errorf("fun of size %d", fixed)
		}
	case etfPid, etfNewPid, etfPort, etfNewPort, etfV4Port, etfReference:
		// A node atom, then fixed-size fields.
		var err error
		if i, err = etfSkipAtom(b, i); err != nil {
			return 0, 0, err
		}
		fixed = etfNodeTail(tag)
	case etfNewReference, etfNewerRef:
		if !need(b, i, 2) {
			return 0, 0, errTruncated
		}
		ids := int(binary.BigEndian.Uint16(b[i:]))
		var err error
		if i, err = etfSkipAtom(b, i+2); err != nil {
			return 0, 0, err
		}
		fixed = 4*ids + 1
		if tag == etfNewerRef {
			fixed += 3
		}
	default:
		return 0, 0, fmt.Errorf("unsupported term tag %d at offset %d", tag, i-1)
	}
	if !need(b, i, fixed) {
		return 0, 0, errTruncated
	}
	return i + fixed, children, nil
}

// etfNodeTail is the size of the fixed fields after the node atom of a pid,
// port or old reference.
func etfNodeTail(tag byte) int {
	switch tag {
	case etfPid:
		return 9 // id, serial, creation(1)
	case etfNewPid, etfV4Port:
		return 12
	case etfNewPort:
		return 8
	}
	return 5 // PORT_EXT, REFERENCE_EXT: id, creation(1)
}

// etfSkipAtom skips the atom at i (a node name).
func etfSkipAtom(b []byte, i int) (int, error) {
	if !need(b, i, 1) {
		return 0, errTruncated
	}
	switch b[i] {
	case etfAtom, etfSmallAtom, etfAtomUTF8, etfSmallAtomUTF8:
		_, next, _, err := etfText(b, i)
		return next, err
	}
	return 0, fmt.Errorf("tag %d at offset %d is not an atom", b[i], i)
}
