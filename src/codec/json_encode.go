package codec

import (
	"strconv"
	"unicode/utf8"
)

// AppendHeartbeat implements Codec.
func (JSON) AppendHeartbeat(dst []byte, seq int64, hasSeq bool) []byte {
	dst = append(dst, `{"op":1,"d":`...)
	if !hasSeq {
		return append(dst, `null}`...)
	}
	return append(strconv.AppendInt(dst, seq, 10), '}')
}

// AppendIdentify implements Codec.
func (JSON) AppendIdentify(dst []byte, id Identify) []byte {
	dst = append(dst, `{"op":2,"d":{"token":`...)
	dst = jsonAppendString(dst, id.Token)
	dst = append(dst, `,"properties":{"os":`...)
	dst = jsonAppendString(dst, id.OS)
	dst = append(dst, `,"browser":`...)
	dst = jsonAppendString(dst, id.Browser)
	dst = append(dst, `,"device":`...)
	dst = jsonAppendString(dst, id.Device)
	dst = append(dst, `},"compress":false,"large_threshold":`...)
	dst = strconv.AppendInt(dst, int64(id.LargeThreshold), 10)
	dst = append(dst, `,"shard":[`...)
	dst = strconv.AppendInt(dst, int64(id.ShardID), 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(id.ShardTotal), 10)
	dst = append(dst, `],"intents":`...)
	dst = strconv.AppendInt(dst, id.Intents, 10)
	return append(dst, `}}`...)
}

// AppendResume implements Codec.
func (JSON) AppendResume(dst []byte, r Resume) []byte {
	dst = append(dst, `{"op":6,"d":{"token":`...)
	dst = jsonAppendString(dst, r.Token)
	dst = append(dst, `,"session_id":`...)
	dst = jsonAppendString(dst, r.SessionID)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, r.Seq, 10)
	return append(dst, `}}`...)
}

// jsonAppendString quotes s: '"', '\\' and control bytes escaped, invalid
// UTF-8 replaced by U+FFFD (as encoding/json does).
func jsonAppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}
