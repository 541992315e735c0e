package fakediscord

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
)

// UnmarshalETF decodes one ETF term (with its leading version byte).
// Binaries become string, atoms nil/true/false become nil/bool, other atoms
// Atom, integers int64 (uint64 or *big.Int when larger), floats float64,
// lists and tuples []any, maps map[string]any (atom or binary keys).
func UnmarshalETF(data []byte) (any, error) {
	v, _, err := decodeETF(data)
	return v, err
}

// decodeETF also reports whether any map key was an atom, which Discord
// refuses from clients.
func decodeETF(data []byte) (v any, atomKeys bool, err error) {
	if len(data) == 0 || data[0] != etfVersion {
		return nil, false, errors.New("etf: missing version byte 131")
	}
	d := etfDecoder{data: data, pos: 1}
	v, err = d.value(0)
	if err != nil {
		return nil, false, err
	}
	if d.pos != len(data) {
		return nil, false, fmt.Errorf("etf: %d trailing bytes", len(data)-d.pos)
	}
	return v, d.atomKeys, nil
}

type etfDecoder struct {
	data     []byte
	pos      int
	atomKeys bool
}

var errETFShort = errors.New("etf: unexpected end of data")

func (d *etfDecoder) take(n int) ([]byte, error) {
	if n < 0 || len(d.data)-d.pos < n {
		return nil, errETFShort
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *etfDecoder) u8() (int, error) {
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

func (d *etfDecoder) u16() (int, error) {
	b, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint16(b)), nil
}

// elements reads the n terms of a list or tuple at depth.
func (d *etfDecoder) elements(n, depth int) ([]any, error) {
	l := make([]any, n)
	for i := range l {
		var err error
		if l[i], err = d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// count reads the length of a term with a small (1-byte) or large (4-byte)
// form: tuples and bignums.
func (d *etfDecoder) count(small bool) (int, error) {
	if small {
		return d.u8()
	}
	return d.u32()
}

func (d *etfDecoder) u32() (int, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(b)
	// Every element takes at least one byte, so a count larger than what is
	// left is corrupt; checking here keeps allocations bounded.
	if int64(n) > int64(len(d.data)-d.pos) {
		return 0, errETFShort
	}
	return int(n), nil
}

func (d *etfDecoder) value(depth int) (any, error) {
	if depth > maxETFDepth {
		return nil, errors.New("etf: nested too deeply")
	}
	tag, err := d.u8()
	if err != nil {
		return nil, err
	}
	switch tag {
	case tagSmallInteger:
		n, err := d.u8()
		return int64(n), err
	case tagInteger:
		b, err := d.take(4)
		if err != nil {
			return nil, err
		}
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case tagNewFloat:
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case tagFloat:
		b, err := d.take(31)
		if err != nil {
			return nil, err
		}
		var f float64
		if _, err := fmt.Sscanf(string(trimNUL(b)), "%g", &f); err != nil {
			return nil, fmt.Errorf("etf: bad FLOAT_EXT: %w", err)
		}
		return f, nil
	case tagAtom, tagAtomUTF8:
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		return d.atom(n)
	case tagSmallAtom, tagSmallAtomUTF8:
		n, err := d.u8()
		if err != nil {
			return nil, err
		}
		return d.atom(n)
	case tagBinary:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		return string(b), err
	case tagString:
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		if err != nil {
			return nil, err
		}
		l := make([]any, n)
		for i, c := range b {
			l[i] = int64(c)
		}
		return l, nil
	case tagNil:
		return []any{}, nil
	case tagList:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		l, err := d.elements(n, depth)
		if err != nil {
			return nil, err
		}
		tail, err := d.u8()
		if err != nil {
			return nil, err
		}
		if tail != tagNil {
			return nil, errors.New("etf: improper list")
		}
		return l, nil
	case tagSmallTuple, tagLargeTuple:
		n, err := d.count(tag == tagSmallTuple)
		if err != nil {
			return nil, err
		}
		return d.elements(n, depth)
	case tagSmallBig, tagLargeBig:
		n, err := d.count(tag == tagSmallBig)
		if err != nil {
			return nil, err
		}
		sign, err := d.u8()
		if err != nil {
			return nil, err
		}
		digits, err := d.take(n)
		if err != nil {
			return nil, err
		}
		return bigValue(digits, sign != 0), nil
	case tagMap:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, min(n, 64))
		for range n {
			k, err := d.key()
			if err != nil {
				return nil, err
			}
			if m[k], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return m, nil
	default:
		return nil, fmt.Errorf("etf: unsupported tag %d", tag)
	}
}

func (d *etfDecoder) atom(n int) (any, error) {
	b, err := d.take(n)
	if err != nil {
		return nil, err
	}
	switch s := string(b); s {
	case "nil":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return Atom(s), nil
	}
}

// key reads a map key, which must be an atom or a binary.
func (d *etfDecoder) key() (string, error) {
	tag, err := d.u8()
	if err != nil {
		return "", err
	}
	var n int
	switch tag {
	case tagBinary:
		n, err = d.u32()
	case tagAtom, tagAtomUTF8:
		d.atomKeys = true
		n, err = d.u16()
	case tagSmallAtom, tagSmallAtomUTF8:
		d.atomKeys = true
		n, err = d.u8()
	default:
		return "", fmt.Errorf("etf: map key with tag %d", tag)
	}
	if err != nil {
		return "", err
	}
	b, err := d.take(n)
	return string(b), err
}

func bigValue(littleEndian []byte, neg bool) any {
	if len(littleEndian) <= 8 {
		var u uint64
		for i := len(littleEndian) - 1; i >= 0; i-- {
			u = u<<8 | uint64(littleEndian[i])
		}
		switch {
		case !neg && u <= math.MaxInt64:
			return int64(u)
		case !neg:
			return u
		case u <= 1<<63:
			return -int64(u-1) - 1
		}
	}
	be := make([]byte, len(littleEndian))
	for i, c := range littleEndian {
		be[len(be)-1-i] = c
	}
	x := new(big.Int).SetBytes(be)
	if neg {
		x.Neg(x)
	}
	return x
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
