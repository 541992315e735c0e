package codec

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON strings: finding their end, reading their raw contents, decoding
// escapes (only for the few strings the gateway reads: keys, READY fields).

// jsonStringEnd returns the index after the string starting at b[i] == '"'.
// A quote ends the string unless an odd run of backslashes precedes it;
// escapes are not otherwise checked (skipping judges structure only).
func jsonStringEnd(b []byte, i int) (int, error) {
	start := i + 1
	j := start
	for {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return 0, errJSONEnd
		}
		j += q
		k := j - 1
		for k >= start && b[k] == '\\' {
			k--
		}
		if (j-1-k)%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

// jsonString returns the raw contents of the string starting at b[i] == '"',
// whether it holds escapes, and the index after the closing quote.
func jsonString(b []byte, i int) (raw []byte, escaped bool, next int, err error) {
	if i >= len(b) || b[i] != '"' {
		return nil, false, 0, fmt.Errorf("expected a string at offset %d", i)
	}
	start := i + 1
	i = start
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return nil, false, 0, errJSONEnd
		}
		bs := bytes.IndexByte(b[i:i+q], '\\')
		if bs < 0 {
			return b[start : i+q], escaped, i + q + 1, nil
		}
		escaped = true
		i += bs + 1
		if i >= len(b) {
			return nil, false, 0, errJSONEnd
		}
		switch b[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			if i+5 > len(b) || !isHex4(b[i+1:i+5]) {
				return nil, false, 0, fmt.Errorf("bad \\u escape at offset %d", i-1)
			}
			i += 5
		default:
			return nil, false, 0, fmt.Errorf("bad escape at offset %d", i-1)
		}
	}
}

func isHex4(h []byte) bool {
	for _, c := range h {
		if hexVal(c) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// jsonUnescape appends the decoded contents of a raw string that
// jsonString accepted (escapes are known to be well formed).
func jsonUnescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i+1:])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2 = hex4(raw[i+3:])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
		i++
	}
	return dst
}

func hex4(h []byte) rune {
	if len(h) < 4 {
		return utf8.RuneError
	}
	return hexVal(h[0])<<12 | hexVal(h[1])<<8 | hexVal(h[2])<<4 | hexVal(h[3])
}

// jsonKeyIs compares a raw (possibly escaped) key with an ASCII name
// without allocating: escaped keys are decoded into a small stack buffer.
func jsonKeyIs(raw []byte, escaped bool, name string) bool {
	if !escaped {
		return string(raw) == name
	}
	if len(raw) > 6*len(name)+6 {
		return false
	}
	var buf [64]byte
	return string(jsonUnescape(buf[:0], raw)) == name
}
