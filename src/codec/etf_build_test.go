package codec

import "encoding/binary"

// Hand-built ETF terms for tests: encodings OTP does not emit any more
// (SMALL_ATOM_EXT) and malformed inputs.

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func payload(terms ...[]byte) []byte { return cat(append([][]byte{{etfVersion}}, terms...)...) }

func atomAs(tag byte, name string) []byte {
	switch tag {
	case etfSmallAtom, etfSmallAtomUTF8:
		return cat([]byte{tag, byte(len(name))}, []byte(name))
	}
	return cat([]byte{tag}, binary.BigEndian.AppendUint16(nil, uint16(len(name))), []byte(name))
}

func atom(name string) []byte { return atomAs(etfSmallAtomUTF8, name) }

func bin(s string) []byte {
	return cat([]byte{etfBinary}, binary.BigEndian.AppendUint32(nil, uint32(len(s))), []byte(s))
}

func smallInt(v byte) []byte { return []byte{etfSmallInteger, v} }

func mapOf(kv ...[]byte) []byte {
	return cat(append([][]byte{{etfMap}, binary.BigEndian.AppendUint32(nil, uint32(len(kv)/2))}, kv...)...)
}

func listOf(elems ...[]byte) []byte {
	return cat(append(append([][]byte{{etfList}, binary.BigEndian.AppendUint32(nil, uint32(len(elems)))}, elems...), []byte{etfNil})...)
}
