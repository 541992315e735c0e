package codec

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// The encoders write what Discord accepts from a client: binary keys and
// strings, atoms only for nil/true/false (SMALL_ATOM_UTF8_EXT, as OTP 26+).

// AppendHeartbeat implements Codec.
func (ETF) AppendHeartbeat(dst []byte, seq int64, hasSeq bool) []byte {
	dst = append(dst, etfVersion)
	dst = etfMapHeader(dst, 2)
	dst = etfKeyInt(dst, "op", OpHeartbeat)
	dst = etfBin(dst, "d")
	if !hasSeq {
		return etfAtomText(dst, "nil")
	}
	return etfAppendInt(dst, seq)
}

// AppendIdentify implements Codec.
func (ETF) AppendIdentify(dst []byte, id Identify) []byte {
	dst = append(dst, etfVersion)
	dst = etfMapHeader(dst, 2)
	dst = etfKeyInt(dst, "op", OpIdentify)
	dst = etfBin(dst, "d")
	dst = etfMapHeader(dst, 6)
	dst = etfKeyBin(dst, "token", id.Token)
	dst = etfBin(dst, "properties")
	dst = etfMapHeader(dst, 3)
	dst = etfKeyBin(dst, "os", id.OS)
	dst = etfKeyBin(dst, "browser", id.Browser)
	dst = etfKeyBin(dst, "device", id.Device)
	dst = etfBin(dst, "compress")
	dst = etfAtomText(dst, "false")
	dst = etfKeyInt(dst, "large_threshold", int64(id.LargeThreshold))
	dst = etfBin(dst, "shard")
	dst = append(dst, etfList, 0, 0, 0, 2)
	dst = etfAppendInt(dst, int64(id.ShardID))
	dst = etfAppendInt(dst, int64(id.ShardTotal))
	dst = append(dst, etfNil)
	return etfKeyInt(dst, "intents", id.Intents)
}

// AppendResume implements Codec.
func (ETF) AppendResume(dst []byte, r Resume) []byte {
	dst = append(dst, etfVersion)
	dst = etfMapHeader(dst, 2)
	dst = etfKeyInt(dst, "op", OpResume)
	dst = etfBin(dst, "d")
	dst = etfMapHeader(dst, 3)
	dst = etfKeyBin(dst, "token", r.Token)
	dst = etfKeyBin(dst, "session_id", r.SessionID)
	return etfKeyInt(dst, "seq", r.Seq)
}

func etfMapHeader(dst []byte, pairs uint32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, etfMap), pairs)
}

func etfBin(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(append(dst, etfBinary), uint32(len(s)))
	return append(dst, s...)
}

func etfKeyBin(dst []byte, key, val string) []byte { return etfBin(etfBin(dst, key), val) }

func etfKeyInt(dst []byte, key string, v int64) []byte { return etfAppendInt(etfBin(dst, key), v) }

// etfAtomText appends a short atom (the caller passes nil, true or false).
func etfAtomText(dst []byte, name string) []byte {
	return append(append(dst, etfSmallAtomUTF8, byte(len(name))), name...)
}

// etfAppendInt uses the smallest encoding: SMALL_INTEGER_EXT, INTEGER_EXT,
// then SMALL_BIG_EXT (sign byte and little-endian magnitude).
func etfAppendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= math.MaxUint8:
		return append(dst, etfSmallInteger, byte(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return binary.BigEndian.AppendUint32(append(dst, etfInteger), uint32(int32(v)))
	}
	sign, mag := byte(0), uint64(v)
	if v < 0 {
		sign, mag = 1, -uint64(v) // also right for MinInt64
	}
	n := (bits.Len64(mag) + 7) / 8
	dst = append(dst, etfSmallBig, byte(n), sign)
	for ; n > 0; n-- {
		dst = append(dst, byte(mag))
		mag >>= 8
	}
	return dst
}
