package amqppub

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame types and the frame end octet (AMQP 0-9-1 §4.2.3).
const (
	frameMethod    = 1
	frameHeader    = 2
	frameBody      = 3
	frameHeartbeat = 8
	frameEnd       = 0xCE

	frameOverhead = 8 // type, channel, size, frame end
)

// Class and method ids used here (AMQP 0-9-1 and RabbitMQ's confirm class).
const (
	classConnection = 10
	classChannel    = 20
	classBasic      = 60
	classConfirm    = 85
)

type methodID struct{ class, method uint16 }

var (
	mConnStart     = methodID{classConnection, 10}
	mConnStartOk   = methodID{classConnection, 11}
	mConnTune      = methodID{classConnection, 30}
	mConnTuneOk    = methodID{classConnection, 31}
	mConnOpen      = methodID{classConnection, 40}
	mConnOpenOk    = methodID{classConnection, 41}
	mConnClose     = methodID{classConnection, 50}
	mConnCloseOk   = methodID{classConnection, 51}
	mConnBlocked   = methodID{classConnection, 60}
	mConnUnblocked = methodID{classConnection, 61}
	mChanOpen      = methodID{classChannel, 10}
	mChanOpenOk    = methodID{classChannel, 11}
	mChanClose     = methodID{classChannel, 40}
	mChanCloseOk   = methodID{classChannel, 41}
	mBasicPublish  = methodID{classBasic, 40}
	mBasicAck      = methodID{classBasic, 80}
	mBasicNack     = methodID{classBasic, 120}
	mConfirmSelect = methodID{classConfirm, 10}
	mConfirmOk     = methodID{classConfirm, 11}
)

func (m methodID) String() string { return fmt.Sprintf("%d.%d", m.class, m.method) }

// Basic property flags (AMQP 0-9-1 §4.2.6.1: bit 15 is the first property).
const (
	flagContentType  = 1 << 15
	flagHeaders      = 1 << 13
	flagDeliveryMode = 1 << 12
	flagTimestamp    = 1 << 6
)

// protocolHeader opens every AMQP 0-9-1 connection.
var protocolHeader = []byte{'A', 'M', 'Q', 'P', 0, 0, 9, 1}

// Properties are the basic properties a publish carries: exactly what the gateway sets.
// A zero field is left out of the frame (its flag unset), as amqp091-go does.
type Properties struct {
	ContentType  string
	Headers      []byte // an encoded field table (AppendTable...), without its length prefix
	DeliveryMode uint8  // 1 transient, 2 persistent
	Timestamp    int64  // unix seconds
}

// appendPublish appends the frames of one basic.publish on channel ch: the method, the
// content header and the body split into frames of at most frameMax bytes (an empty
// body has none). It allocates nothing when dst has room.
func appendPublish(dst []byte, ch uint16, frameMax int, exchange, key string, p *Properties, body []byte) []byte {
	dst = appendPublishHead(dst, ch, exchange, key, p, len(body))
	for len(body) > 0 {
		n := min(len(body), frameMax-frameOverhead)
		dst = appendBodyFrame(dst, ch, body[:n])
		body = body[n:]
	}
	return dst
}

// appendBodyFrame appends one body frame carrying chunk.
func appendBodyFrame(dst []byte, ch uint16, chunk []byte) []byte {
	start := len(dst)
	dst = appendFrameStart(dst, frameBody, ch)
	dst = append(dst, chunk...)
	return endFrame(dst, start)
}

// appendPublishHead appends the method frame and the content header of a publish whose
// body has size bytes.
func appendPublishHead(dst []byte, ch uint16, exchange, key string, p *Properties, size int) []byte {
	// basic.publish: reserved-1 short, exchange shortstr, routing-key shortstr,
	// mandatory/immediate bits (both off).
	start := len(dst)
	dst = appendFrameStart(dst, frameMethod, ch)
	dst = appendMethod(dst, mBasicPublish)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = appendShortStr(dst, exchange)
	dst = appendShortStr(dst, key)
	dst = append(dst, 0)
	dst = endFrame(dst, start)

	// Content header: class, weight, body size, property flags, properties in flag order.
	start = len(dst)
	dst = appendFrameStart(dst, frameHeader, ch)
	dst = binary.BigEndian.AppendUint16(dst, classBasic)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint64(dst, uint64(size))
	var flags uint16
	if p.ContentType != "" {
		flags |= flagContentType
	}
	if len(p.Headers) > 0 {
		flags |= flagHeaders
	}
	if p.DeliveryMode != 0 {
		flags |= flagDeliveryMode
	}
	if p.Timestamp != 0 {
		flags |= flagTimestamp
	}
	dst = binary.BigEndian.AppendUint16(dst, flags)
	if flags&flagContentType != 0 {
		dst = appendShortStr(dst, p.ContentType)
	}
	if flags&flagHeaders != 0 {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.Headers)))
		dst = append(dst, p.Headers...)
	}
	if flags&flagDeliveryMode != 0 {
		dst = append(dst, p.DeliveryMode)
	}
	if flags&flagTimestamp != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(p.Timestamp))
	}
	return endFrame(dst, start)
}

// appendFrameStart appends a frame header with a size placeholder that endFrame fills.
func appendFrameStart(dst []byte, typ byte, ch uint16) []byte {
	dst = append(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, ch)
	return append(dst, 0, 0, 0, 0)
}

// endFrame writes the size of the frame begun at start and appends the frame end.
func endFrame(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start+3:], uint32(len(dst)-start-7))
	return append(dst, frameEnd)
}

func appendMethod(dst []byte, m methodID) []byte {
	dst = binary.BigEndian.AppendUint16(dst, m.class)
	return binary.BigEndian.AppendUint16(dst, m.method)
}

// appendShortStr appends an AMQP short string; callers keep s within 255 bytes (the
// broker refuses longer routing keys before they get here).
// MaxShortStr is the longest AMQP short string: exchange names and routing keys.
const MaxShortStr = 255

func appendShortStr(dst []byte, s string) []byte {
	if len(s) > MaxShortStr {
		s = s[:MaxShortStr]
	}
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}

func appendLongStr(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// AppendTableInt32 appends one field-table entry holding a signed 32-bit integer ('I',
// which every client library reads), for Properties.Headers.
func AppendTableInt32(dst []byte, key string, v int32) []byte {
	dst = appendShortStr(dst, key)
	dst = append(dst, 'I')
	return binary.BigEndian.AppendUint32(dst, uint32(v))
}

// appendTableString and appendTableBool and appendTableTable build the client
// properties of connection.start-ok.
func appendTableString(dst []byte, key, v string) []byte {
	dst = appendShortStr(dst, key)
	dst = append(dst, 'S')
	return appendLongStr(dst, v)
}

func appendTableBool(dst []byte, key string, v bool) []byte {
	dst = appendShortStr(dst, key)
	b := byte(0)
	if v {
		b = 1
	}
	return append(dst, 't', b)
}

func appendTableTable(dst []byte, key string, table []byte) []byte {
	dst = appendShortStr(dst, key)
	dst = append(dst, 'F')
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(table)))
	return append(dst, table...)
}

// appendMethodFrame appends a whole method frame whose arguments args appends.
func appendMethodFrame(dst []byte, ch uint16, m methodID, args func([]byte) []byte) []byte {
	start := len(dst)
	dst = appendFrameStart(dst, frameMethod, ch)
	dst = appendMethod(dst, m)
	if args != nil {
		dst = args(dst)
	}
	return endFrame(dst, start)
}

var heartbeatFrame = []byte{frameHeartbeat, 0, 0, 0, 0, 0, 0, frameEnd}

// frame is one frame read from the server. payload aliases the reader's buffer: it is
// valid until the next read.
type frame struct {
	typ     byte
	channel uint16
	payload []byte
}

// frameReader reads frames from the server, reusing one payload buffer.
type frameReader struct {
	r        io.Reader
	hdr      [7]byte
	buf      []byte
	frameMax int // the largest frame accepted, 0 before tune: then preTuneFrameMax
}

// preTuneFrameMax bounds frames read before connection.tune agreed on a size.
const preTuneFrameMax = 1 << 20

var errFrameEnd = errors.New("frame does not end with 0xCE")

func (fr *frameReader) read() (frame, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return frame{}, err
	}
	size32 := binary.BigEndian.Uint32(fr.hdr[3:])
	limit := fr.frameMax
	if limit == 0 {
		limit = preTuneFrameMax
	}
	// Compared in 64 bits: the peer's size must not wrap an int on 32-bit platforms.
	if uint64(size32)+frameOverhead > uint64(limit) {
		return frame{}, fmt.Errorf("frame of %d bytes exceeds frame_max %d", uint64(size32)+frameOverhead, limit)
	}
	size := int(size32)
	if cap(fr.buf) < size+1 {
		fr.buf = make([]byte, size+1)
	}
	buf := fr.buf[:size+1]
	if _, err := io.ReadFull(fr.r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	if buf[size] != frameEnd {
		return frame{}, errFrameEnd
	}
	return frame{typ: fr.hdr[0], channel: binary.BigEndian.Uint16(fr.hdr[1:]), payload: buf[:size]}, nil
}

// decoder reads method arguments; the first short read sets err and every later read
// returns zero values.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("method frame too short")

func (d *decoder) take(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) shortStr() string { return string(d.take(int(d.u8()))) }

// longBytes reads a long string or a field table (both a 32-bit length and bytes).
func (d *decoder) longBytes() []byte { return d.take(int(d.u32())) }

// method splits a method frame's payload into its id and arguments.
func method(f frame) (methodID, decoder, error) {
	if f.typ != frameMethod {
		return methodID{}, decoder{}, fmt.Errorf("unexpected frame type %d on channel %d", f.typ, f.channel)
	}
	d := decoder{b: f.payload}
	m := methodID{d.u16(), d.u16()}
	if d.err != nil {
		return methodID{}, decoder{}, d.err
	}
	return m, d, nil
}
