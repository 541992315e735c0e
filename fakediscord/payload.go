package fakediscord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Encoding is the gateway payload encoding from the URL query.
type Encoding string

// Payload encodings.
const (
	EncodingJSON Encoding = "json"
	EncodingETF  Encoding = "etf"
)

// Gateway opcodes.
const (
	OpDispatch       = 0
	OpHeartbeat      = 1
	OpIdentify       = 2
	OpPresenceUpdate = 3
	OpVoiceState     = 4
	OpResume         = 6
	OpReconnect      = 7
	OpRequestMembers = 8
	OpInvalidSession = 9
	OpHello          = 10
	OpHeartbeatACK   = 11
	OpSoundboard     = 31
	OpChannelInfo    = 43
)

// Snowflake is a Discord id: a string in JSON and an integer in ETF, the
// way Discord sends ids in each encoding.
type Snowflake uint64

// MarshalJSON writes the id as a quoted decimal string.
func (s Snowflake) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatUint(uint64(s), 10)), nil
}

// String returns the decimal id.
func (s Snowflake) String() string { return strconv.FormatUint(uint64(s), 10) }

// EncodePayload encodes {op, d, s, t} as Discord sends it. seq <= 0 and
// t == "" are written as null.
func EncodePayload(enc Encoding, op int, d any, seq int64, t string) ([]byte, error) {
	switch enc {
	case EncodingETF:
		p := map[string]any{"op": op, "d": d, "s": nil, "t": nil}
		if seq > 0 {
			p["s"] = seq
		}
		if t != "" {
			p["t"] = Atom(t)
		}
		b, err := MarshalETF(p)
		if err != nil {
			return nil, fmt.Errorf("encoding op %d %s as etf: %w", op, t, err)
		}
		return b, nil
	case EncodingJSON, "":
		db, err := marshalJSON(d)
		if err != nil {
			return nil, fmt.Errorf("encoding op %d %s as json: %w", op, t, err)
		}
		var buf bytes.Buffer
		buf.Grow(len(db) + 48)
		buf.WriteString(`{"t":`)
		if t == "" {
			buf.WriteString("null")
		} else {
			tb, _ := json.Marshal(t)
			buf.Write(tb)
		}
		buf.WriteString(`,"s":`)
		if seq > 0 {
			buf.WriteString(strconv.FormatInt(seq, 10))
		} else {
			buf.WriteString("null")
		}
		buf.WriteString(`,"op":`)
		buf.WriteString(strconv.Itoa(op))
		buf.WriteString(`,"d":`)
		buf.Write(db)
		buf.WriteByte('}')
		return buf.Bytes(), nil
	default:
		return nil, fmt.Errorf("unknown encoding %q", enc)
	}
}

// DecodePayload decodes a payload in either encoding into a map; numbers
// come out as int64 (uint64 when larger) or float64 in both encodings.
// atomKeys reports ETF maps keyed by atoms.
func DecodePayload(enc Encoding, data []byte) (p map[string]any, atomKeys bool, err error) {
	var v any
	switch enc {
	case EncodingETF:
		v, atomKeys, err = decodeETF(data)
	default:
		v, err = decodeJSONValue(data)
	}
	if err != nil {
		return nil, false, err
	}
	p, ok := v.(map[string]any)
	if !ok {
		return nil, atomKeys, fmt.Errorf("payload is %T, not a map", v)
	}
	return p, atomKeys, nil
}

// asInt64 reads an integer from a decoded value.
func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		if x <= 1<<63-1 {
			return int64(x), true
		}
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	}
	return 0, false
}
