package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// etfFromJSON re-encodes a JSON payload the way Discord encodes ETF: atom
// keys, t an atom, null an atom nil, strings binaries, and snowflakes
// (digit strings of 17+ characters) as integers. Key order is kept.
func etfFromJSON(js []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	out := []byte{etfVersion}
	var value func(key string) error
	value = func(key string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '[' {
				var elems [][]byte
				saved := out
				for dec.More() {
					out = nil
					if err := value(""); err != nil {
						return err
					}
					elems = append(elems, out)
				}
				out = saved
				if _, err := dec.Token(); err != nil {
					return err
				}
				if len(elems) == 0 {
					out = append(out, etfNil)
					return nil
				}
				out = binary.BigEndian.AppendUint32(append(out, etfList), uint32(len(elems)))
				for _, e := range elems {
					out = append(out, e...)
				}
				out = append(out, etfNil)
				return nil
			}
			var pairs [][]byte
			saved := out
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				out = atom(k.(string))
				if err := value(k.(string)); err != nil {
					return err
				}
				pairs = append(pairs, out)
			}
			out = saved
			if _, err := dec.Token(); err != nil {
				return err
			}
			out = binary.BigEndian.AppendUint32(append(out, etfMap), uint32(len(pairs)))
			for _, p := range pairs {
				out = append(out, p...)
			}
			return nil
		case nil:
			out = append(out, atom("nil")...)
		case bool:
			out = append(out, atom(strconv.FormatBool(v))...)
		case json.Number:
			if i, err := v.Int64(); err == nil {
				out = etfAppendInt(out, i)
				return nil
			}
			f, err := v.Float64()
			if err != nil {
				return err
			}
			out = binary.BigEndian.AppendUint64(append(out, etfNewFloat), math.Float64bits(f))
		case string:
			if key == "t" {
				out = append(out, atom(v)...)
				return nil
			}
			if i, err := strconv.ParseInt(v, 10, 64); err == nil && len(v) >= 17 {
				out = etfAppendInt(out, i)
				return nil
			}
			out = append(out, bin(v)...)
		default:
			return fmt.Errorf("unexpected token %v", tok)
		}
		return nil
	}
	if err := value(""); err != nil {
		return nil, err
	}
	return out, nil
}
