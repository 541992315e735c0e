package codec

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/cordis-gateway/cordis/src/inflate"
)

// The gateway's hot path: one websocket message -> transport decompression
// -> Scan. Each benchmark runs a stream of distinct payloads of one kind
// (snowflakes re-randomised per payload, so the window does not make every
// payload a copy of the previous one).

type payloadKind struct {
	name string
	json func() []byte
}

var hotPathKinds = []payloadKind{
	{"TYPING_START", jsonTypingStart},
	{"MESSAGE_CREATE", jsonMessageCreate},
	{"GUILD_CREATE", func() []byte { return jsonGuildCreate(60 << 10) }},
}

// variants returns n versions of js with every run of 10+ digits replaced
// by random digits (new snowflakes, timestamps) and the message content
// rewritten with random words, so payloads differ as real ones do.
func variants(js []byte, n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"the", "gateway", "shard", "is", "ready", "lol", "anyone", "here", "🎉", "ok", "why", "release", "when", "👍", "discord", "bot"}
	out := make([][]byte, n)
	for k := range out {
		v := bytes.Clone(js)
		if at := bytes.Index(v, []byte(`"content":"`)); at >= 0 {
			at += len(`"content":"`)
			end := at + bytes.IndexByte(v[at:], '"')
			var text []byte
			for len(text) < end-at {
				text = append(append(text, words[r.IntN(len(words))]...), ' ')
			}
			v = append(append(v[:at:at], text...), v[end:]...)
		}
		for i := 0; i < len(v); {
			j := i
			for j < len(v) && v[j] >= '0' && v[j] <= '9' {
				j++
			}
			if j-i >= 10 {
				for x := i + 1; x < j; x++ {
					v[x] = byte('0' + r.IntN(10))
				}
			}
			i = j + 1
		}
		out[k] = v
	}
	return out
}

func compressStream(tb testing.TB, mode string, payloads [][]byte) [][]byte {
	var buf bytes.Buffer
	var flush func() error
	var write func([]byte) (int, error)
	switch mode {
	case inflate.ZlibStream:
		buf.Write([]byte{0x78, 0x9c})
		w, err := flate.NewWriter(&buf, flate.DefaultCompression)
		if err != nil {
			tb.Fatal(err)
		}
		write, flush = w.Write, w.Flush
	case inflate.ZstdStream:
		w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			tb.Fatal(err)
		}
		write, flush = w.Write, w.Flush
	default:
		return payloads
	}
	msgs := make([][]byte, len(payloads))
	for i, p := range payloads {
		if _, err := write(p); err != nil {
			tb.Fatal(err)
		}
		if err := flush(); err != nil {
			tb.Fatal(err)
		}
		msgs[i] = bytes.Clone(buf.Bytes())
		buf.Reset()
	}
	return msgs
}

func BenchmarkHotPath(b *testing.B) {
	for _, kind := range hotPathKinds {
		base := kind.json()
		count := max(16, (4<<20)/len(base))
		jsonPayloads := variants(base, count)
		etfPayloads := make([][]byte, count)
		for i, p := range jsonPayloads {
			var err error
			if etfPayloads[i], err = etfFromJSON(p); err != nil {
				b.Fatal(err)
			}
		}
		for _, enc := range []struct {
			c        Codec
			payloads [][]byte
		}{{ETF{}, etfPayloads}, {JSON{}, jsonPayloads}} {
			for _, mode := range []string{inflate.ZlibStream, inflate.ZstdStream, inflate.None} {
				name := fmt.Sprintf("%s/%s/%s", kind.name, enc.c.Name(), map[string]string{"": "none"}[mode]+mode)
				b.Run(name, func(b *testing.B) { benchStream(b, enc.c, mode, enc.payloads) })
			}
		}
	}
}

func benchStream(b *testing.B, c Codec, mode string, payloads [][]byte) {
	msgs := compressStream(b, mode, payloads)
	var total, wire int
	for i := range payloads {
		total += len(payloads[i])
		wire += len(msgs[i])
	}
	b.SetBytes(int64(total / len(payloads)))
	var d inflate.Decompressor
	var f Frame
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(msgs)
		if k == 0 { // a new connection, its buffers warmed by the first message untimed
			b.StopTimer()
			if d != nil {
				d.Close()
			}
			var err error
			if d, err = inflate.New(mode); err != nil {
				b.Fatal(err)
			}
			if _, _, err := d.Push(msgs[0]); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			continue
		}
		p, complete, err := d.Push(msgs[k])
		if err != nil || !complete {
			b.Fatal(complete, err)
		}
		if err := c.Scan(p, &f); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	d.Close()
	b.ReportMetric(float64(wire)/float64(len(msgs)), "wireB/msg")
}
