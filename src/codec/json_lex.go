package codec

import (
	"bytes"
	"errors"
	"fmt"
)

// jsonMaxDepth bounds nesting while skipping; the open containers are kept
// in a fixed bit stack so skipping never allocates.
const jsonMaxDepth = 1024

var errJSONEnd = errors.New("unexpected end of JSON")

func jsonWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// jsonInt parses an integer number (no fraction, no exponent) at i.
func jsonInt(b []byte, i int) (v int64, next int, err error) {
	start := i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	var u uint64
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if u > (1<<63)/10 {
			return 0, 0, fmt.Errorf("integer at offset %d overflows int64", start)
		}
		u = u*10 + uint64(b[i]-'0')
		digits++
	}
	if digits == 0 || (digits > 1 && b[start+btoi(neg)] == '0') {
		return 0, 0, fmt.Errorf("expected an integer at offset %d", start)
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, 0, fmt.Errorf("number at offset %d is not an integer", start)
	}
	if (!neg && u > 1<<63-1) || u > 1<<63 {
		return 0, 0, fmt.Errorf("integer at offset %d overflows int64", start)
	}
	if neg {
		return -int64(u), i, nil
	}
	return int64(u), i, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// jsonNumber skips a number per RFC 8259 grammar.
func jsonNumber(b []byte, i int) (int, error) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, fmt.Errorf("invalid value at offset %d", start)
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, fmt.Errorf("invalid number at offset %d", start)
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, fmt.Errorf("invalid number at offset %d", start)
		}
	}
	return i, nil
}

// jsonSkip returns the index after the value starting at i (after optional
// whitespace). It checks structure but not string contents (escapes,
// control bytes, UTF-8): Scan forwards bytes, it does not judge them.
func jsonSkip(b []byte, i int) (int, error) {
	var stack [jsonMaxDepth / 64]uint64 // bit set: object, clear: array
	depth := 0
	for {
		i = jsonWS(b, i)
		if i >= len(b) {
			return 0, errJSONEnd
		}
		switch c := b[i]; c {
		case '{', '[':
			i = jsonWS(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' and ']' are two past
				i++
				break
			}
			if depth == jsonMaxDepth {
				return 0, errors.New("JSON nested too deep")
			}
			if c == '{' {
				stack[depth/64] |= 1 << (depth % 64)
				var err error
				if i, err = jsonKeyColon(b, i); err != nil {
					return 0, err
				}
			} else {
				stack[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			continue
		case '"':
			next, err := jsonStringEnd(b, i)
			if err != nil {
				return 0, err
			}
			i = next
		case 't':
			if !bytes.HasPrefix(b[i:], []byte("true")) {
				return 0, fmt.Errorf("invalid value at offset %d", i)
			}
			i += 4
		case 'f':
			if !bytes.HasPrefix(b[i:], []byte("false")) {
				return 0, fmt.Errorf("invalid value at offset %d", i)
			}
			i += 5
		case 'n':
			if !bytes.HasPrefix(b[i:], []byte("null")) {
				return 0, fmt.Errorf("invalid value at offset %d", i)
			}
			i += 4
		default:
			var err error
			if i, err = jsonNumber(b, i); err != nil {
				return 0, err
			}
		}
		// After a value: close containers or move to the next element.
		for {
			if depth == 0 {
				return i, nil
			}
			i = jsonWS(b, i)
			if i >= len(b) {
				return 0, errJSONEnd
			}
			inObject := stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			switch {
			case b[i] == ',':
				i++
				if inObject {
					var err error
					if i, err = jsonKeyColon(b, jsonWS(b, i)); err != nil {
						return 0, err
					}
				}
			case b[i] == '}' && inObject, b[i] == ']' && !inObject:
				i++
				depth--
				continue
			default:
				return 0, fmt.Errorf("unexpected %q at offset %d", b[i], i)
			}
			break
		}
	}
}

// jsonKeyColon skips `"key" :` at i.
func jsonKeyColon(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, fmt.Errorf("expected a string at offset %d", i)
	}
	i, err := jsonStringEnd(b, i)
	if err != nil {
		return 0, err
	}
	i = jsonWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, fmt.Errorf("expected ':' at offset %d", i)
	}
	return i + 1, nil
}

// jsonFields calls visit for each key of the object at i (after optional
// whitespace) with the index of its value, skips the value, and returns the
// index after the object.
func jsonFields(b []byte, i int, visit func(raw []byte, escaped bool, v int) error) (int, error) {
	i = jsonWS(b, i)
	if i >= len(b) || b[i] != '{' {
		return 0, fmt.Errorf("expected an object at offset %d", i)
	}
	i = jsonWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		raw, esc, next, err := jsonString(b, i)
		if err != nil {
			return 0, err
		}
		i = jsonWS(b, next)
		if i >= len(b) || b[i] != ':' {
			return 0, fmt.Errorf("expected ':' at offset %d", i)
		}
		i = jsonWS(b, i+1)
		if err := visit(raw, esc, i); err != nil {
			return 0, fmt.Errorf("field %q: %w", raw, err)
		}
		if i, err = jsonSkip(b, i); err != nil {
			return 0, err
		}
		i = jsonWS(b, i)
		if i >= len(b) {
			return 0, errJSONEnd
		}
		switch b[i] {
		case ',':
			i = jsonWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, fmt.Errorf("unexpected %q at offset %d", b[i], i)
		}
	}
}
