package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// maxCommandDepth bounds nesting in a command; real ones nest three deep.
const maxCommandDepth = 64

// CommandOp implements Codec. Unlike Scan it validates every term, because a
// command Discord cannot decode costs the whole connection (close 4002):
// only plain data terms (no pids, ports, refs, funs, bit strings), every map
// key a binary, floats finite, nothing after the term.
func (ETF) CommandOp(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, errors.New("empty payload")
	}
	if p[0] != etfVersion {
		return 0, fmt.Errorf("version byte is %d, want %d", p[0], etfVersion)
	}
	if len(p) < 2 || p[1] != etfMap {
		return 0, errors.New("payload is not a map")
	}
	v := etfValidator{b: p}
	end, err := v.term(1, 0)
	if err != nil {
		return 0, err
	}
	if end != len(p) {
		return 0, fmt.Errorf("%d bytes after the term", len(p)-end)
	}
	op := int64(-1)
	seen := false
	if _, err := etfFields(p, 1, func(key []byte, at int) error {
		if string(key) != "op" {
			return nil
		}
		if seen {
			return ErrDuplicateOp
		}
		seen = true
		var err error
		if op, _, err = etfInt(p, at); err != nil {
			return fmt.Errorf("op is not an integer: %w", err)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	return commandOp(op)
}

type etfValidator struct{ b []byte }

// term validates the term at i and returns the index after it.
func (v etfValidator) term(i, depth int) (int, error) {
	b := v.b
	if depth > maxCommandDepth {
		return 0, errors.New("terms nested too deep")
	}
	if !need(b, i, 1) {
		return 0, errTruncated
	}
	switch tag := b[i]; tag {
	case etfSmallInteger, etfInteger, etfSmallBig, etfLargeBig, etfNil, etfString, etfBinary:
		return etfSkip(b, i)
	case etfAtom, etfSmallAtom, etfAtomUTF8, etfSmallAtomUTF8:
		text, next, _, err := etfText(b, i)
		if err != nil {
			return 0, err
		}
		if (tag == etfAtomUTF8 || tag == etfSmallAtomUTF8) && !utf8.Valid(text) {
			return 0, fmt.Errorf("atom at offset %d is not UTF-8", i)
		}
		if utf8.RuneCount(text) > 255 {
			return 0, fmt.Errorf("atom at offset %d is longer than 255 characters", i)
		}
		return next, nil
	case etfNewFloat:
		if !need(b, i, 9) {
			return 0, errTruncated
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(b[i+1:]))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("float at offset %d is not finite", i)
		}
		return i + 9, nil
	case etfFloat:
		if !need(b, i, 32) {
			return 0, errTruncated
		}
		text := b[i+1 : i+32]
		for n, c := range text {
			if c == 0 {
				text = text[:n]
				break
			}
		}
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil || math.IsInf(f, 0) {
			return 0, fmt.Errorf("float at offset %d: bad text %q", i, text)
		}
		return i + 32, nil
	case etfSmallTuple, etfLargeTuple, etfList:
		var n int
		if tag == etfSmallTuple {
			if !need(b, i, 2) {
				return 0, errTruncated
			}
			n, i = int(b[i+1]), i+2
		} else {
			if !need(b, i, 5) {
				return 0, errTruncated
			}
			n, i = int(binary.BigEndian.Uint32(b[i+1:])), i+5
		}
		if tag == etfList {
			n++ // the tail
		}
		for ; n > 0; n-- {
			var err error
			if i, err = v.term(i, depth+1); err != nil {
				return 0, err
			}
		}
		return i, nil
	case etfMap:
		if !need(b, i, 5) {
			return 0, errTruncated
		}
		n := int(binary.BigEndian.Uint32(b[i+1:]))
		i += 5
		for ; n > 0; n-- {
			if !need(b, i, 1) {
				return 0, errTruncated
			}
			if b[i] != etfBinary {
				return 0, fmt.Errorf("map key at offset %d has tag %d, want a binary (%d)", i, b[i], etfBinary)
			}
			var err error
			if i, err = etfSkip(b, i); err != nil {
				return 0, err
			}
			if i, err = v.term(i, depth+1); err != nil {
				return 0, err
			}
		}
		return i, nil
	default:
		return 0, fmt.Errorf("term tag %d at offset %d is not allowed in a command", tag, i)
	}
}
