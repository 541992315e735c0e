package fakediscord

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"unicode/utf8"
)

// ETF tags (https://www.erlang.org/doc/apps/erts/erl_ext_dist.html).
const (
	etfVersion        = 131
	tagNewFloat       = 70
	tagSmallInteger   = 97
	tagInteger        = 98
	tagFloat          = 99
	tagAtom           = 100
	tagSmallTuple     = 104
	tagLargeTuple     = 105
	tagNil            = 106
	tagString         = 107
	tagList           = 108
	tagBinary         = 109
	tagSmallBig       = 110
	tagLargeBig       = 111
	tagSmallAtom      = 115
	tagMap            = 116
	tagAtomUTF8       = 118
	tagSmallAtomUTF8  = 119
	maxETFDepth       = 256
	maxSmallAtomBytes = 255
)

// Atom is encoded as an ETF atom (and as a plain string in JSON). The
// decoder returns atoms other than nil/true/false as Atom so a test can tell
// them from binaries.
type Atom string

// RawJSON is a JSON document used as-is in the JSON encoding and converted
// to the equivalent term in ETF.
type RawJSON []byte

// MarshalJSON returns the document unchanged.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// MarshalETF encodes v the way Discord sends it: map keys are atoms, nil,
// true and false are atoms, strings are binaries. Maps are written with
// sorted keys, which is also what Erlang does for maps of up to 32 keys.
func MarshalETF(v any) ([]byte, error) {
	e := etfEncoder{buf: make([]byte, 0, 256), atomKeys: true}
	e.buf = append(e.buf, etfVersion)
	if err := e.encode(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// MarshalETFClient encodes v the way a client must send it: map keys are
// binaries (Discord closes with 4002 on atom keys).
func MarshalETFClient(v any) ([]byte, error) {
	e := etfEncoder{buf: make([]byte, 0, 256)}
	e.buf = append(e.buf, etfVersion)
	if err := e.encode(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type etfEncoder struct {
	buf      []byte
	atomKeys bool
}

func (e *etfEncoder) encode(v any, depth int) error {
	if depth > maxETFDepth {
		return errors.New("etf: value nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		e.atom("nil")
	case bool:
		if x {
			e.atom("true")
		} else {
			e.atom("false")
		}
	case Atom:
		e.atom(string(x))
	case string:
		e.binary(x)
	case Snowflake:
		e.uint(uint64(x))
	case []byte:
		e.binary(string(x))
	case int:
		e.int(int64(x))
	case int8:
		e.int(int64(x))
	case int16:
		e.int(int64(x))
	case int32:
		e.int(int64(x))
	case int64:
		e.int(x)
	case uint:
		e.uint(uint64(x))
	case uint8:
		e.int(int64(x))
	case uint16:
		e.int(int64(x))
	case uint32:
		e.int(int64(x))
	case uint64:
		e.uint(x)
	case float32:
		e.float(float64(x))
	case float64:
		e.float(x)
	case json.Number:
		return e.encode(normalizeNumber(x), depth)
	case *big.Int:
		e.bigInt(x)
	case map[string]any:
		return e.mapValue(x, depth)
	case []any:
		return e.list(x, depth)
	case RawJSON:
		n, err := decodeJSONValue(x)
		if err != nil {
			return fmt.Errorf("etf: converting RawJSON: %w", err)
		}
		return e.encode(n, depth)
	default:
		// Anything else (structs, typed slices and maps) goes through its
		// JSON form, so both encodings carry the same value.
		js, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("etf: cannot encode %T: %w", v, err)
		}
		n, err := decodeJSONValue(js)
		if err != nil {
			return fmt.Errorf("etf: cannot encode %T: %w", v, err)
		}
		if reflect.TypeOf(n) == reflect.TypeOf(v) {
			return fmt.Errorf("etf: cannot encode %T", v)
		}
		return e.encode(n, depth)
	}
	return nil
}

func (e *etfEncoder) atom(s string) {
	if len(s) <= maxSmallAtomBytes {
		e.buf = append(e.buf, tagSmallAtomUTF8, byte(len(s)))
	} else {
		e.buf = append(e.buf, tagAtomUTF8)
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(len(s)))
	}
	e.buf = append(e.buf, s...)
}

func (e *etfEncoder) binary(s string) {
	e.buf = append(e.buf, tagBinary)
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *etfEncoder) int(n int64) {
	switch {
	case n >= 0 && n <= 255:
		e.buf = append(e.buf, tagSmallInteger, byte(n))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		e.buf = append(e.buf, tagInteger)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(int32(n)))
	case n < 0:
		e.smallBig(uint64(-(n+1))+1, true)
	default:
		e.smallBig(uint64(n), false)
	}
}

func (e *etfEncoder) uint(n uint64) {
	if n <= math.MaxInt32 {
		e.int(int64(n))
		return
	}
	e.smallBig(n, false)
}

func (e *etfEncoder) smallBig(mag uint64, neg bool) {
	var digits [8]byte
	n := 0
	for mag > 0 {
		digits[n] = byte(mag)
		mag >>= 8
		n++
	}
	sign := byte(0)
	if neg {
		sign = 1
	}
	e.buf = append(e.buf, tagSmallBig, byte(n), sign)
	e.buf = append(e.buf, digits[:n]...)
}

func (e *etfEncoder) bigInt(x *big.Int) {
	if x.IsInt64() {
		e.int(x.Int64())
		return
	}
	mag := new(big.Int).Abs(x).Bytes() // big-endian
	e.buf = append(e.buf, tagSmallBig, byte(len(mag)))
	if x.Sign() < 0 {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
	for i := len(mag) - 1; i >= 0; i-- {
		e.buf = append(e.buf, mag[i])
	}
}

func (e *etfEncoder) float(f float64) {
	e.buf = append(e.buf, tagNewFloat)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

func (e *etfEncoder) mapValue(m map[string]any, depth int) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.buf = append(e.buf, tagMap)
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(keys)))
	for _, k := range keys {
		if e.atomKeys {
			if len(k) > maxSmallAtomBytes || !utf8.ValidString(k) {
				return fmt.Errorf("etf: map key %q cannot be an atom", k)
			}
			e.atom(k)
		} else {
			e.binary(k)
		}
		if err := e.encode(m[k], depth+1); err != nil {
			return err
		}
	}
	return nil
}

// list writes []any. Like Erlang's term_to_binary, a list whose elements are
// all integers 0..255 becomes STRING_EXT (Discord sends shard: [0, 1] so).
func (e *etfEncoder) list(l []any, depth int) error {
	if len(l) == 0 {
		e.buf = append(e.buf, tagNil)
		return nil
	}
	if s, ok := byteList(l); ok {
		e.buf = append(e.buf, tagString)
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(len(s)))
		e.buf = append(e.buf, s...)
		return nil
	}
	e.buf = append(e.buf, tagList)
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(l)))
	for _, x := range l {
		if err := e.encode(x, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, tagNil)
	return nil
}

func byteList(l []any) ([]byte, bool) {
	if len(l) > math.MaxUint16 {
		return nil, false
	}
	out := make([]byte, 0, len(l))
	for _, x := range l {
		var n int64
		switch v := x.(type) {
		case int:
			n = int64(v)
		case int64:
			n = v
		case int32:
			n = int64(v)
		case uint64:
			if v > 255 {
				return nil, false
			}
			n = int64(v)
		case uint8:
			n = int64(v)
		default:
			return nil, false
		}
		if n < 0 || n > 255 {
			return nil, false
		}
		out = append(out, byte(n))
	}
	return out, true
}

// UnmarshalJSON keeps the document as-is.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}
