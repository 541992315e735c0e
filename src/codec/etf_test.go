package codec

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestETFScanReadsKeysAndEventInEveryEncoding(t *testing.T) {
	d := mapOf(bin("content"), bin("hi"))
	cases := []struct {
		name    string
		p       []byte
		op      int
		seq     int64
		hasSeq  bool
		event   string
		wantD   []byte
		wantErr string
	}{
		{"SMALL_ATOM_EXT keys and t", payload(mapOf(atomAs(etfSmallAtom, "op"), smallInt(0), atomAs(etfSmallAtom, "t"), atomAs(etfSmallAtom, "READY"), atomAs(etfSmallAtom, "s"), smallInt(1), atomAs(etfSmallAtom, "d"), d)), 0, 1, true, "READY", d, ""},
		{"ATOM_UTF8_EXT keys and t", payload(mapOf(atomAs(etfAtomUTF8, "d"), d, atomAs(etfAtomUTF8, "t"), atomAs(etfAtomUTF8, "X_Y"), atomAs(etfAtomUTF8, "s"), smallInt(9), atomAs(etfAtomUTF8, "op"), smallInt(0))), 0, 9, true, "X_Y", d, ""},
		{"binary t", payload(mapOf(bin("t"), bin("GUILD_CREATE"), bin("op"), smallInt(0), bin("s"), smallInt(2), bin("d"), d)), 0, 2, true, "GUILD_CREATE", d, ""},
		{"binary t spelled nil is an event name", payload(mapOf(bin("op"), smallInt(0), bin("t"), bin("nil"))), 0, 0, false, "nil", nil, ""},
		{"unknown keys skipped, non-text keys skipped", payload(mapOf(atom("x"), listOf(smallInt(1), smallInt(2)), smallInt(5), atom("s"), atom("op"), smallInt(11))), 11, 0, false, "", nil, ""},
		{"LARGE_BIG_EXT seq", payload(mapOf(atom("op"), smallInt(0), atom("s"), []byte{etfLargeBig, 0, 0, 0, 2, 0, 0x01, 0x02})), 0, 0x0201, true, "", nil, ""},
		{"negative INTEGER_EXT seq", payload(mapOf(atom("op"), smallInt(0), atom("s"), []byte{etfInteger, 0xff, 0xff, 0xff, 0xfe})), 0, -2, true, "", nil, ""},
		{"seq beyond int64", payload(mapOf(atom("op"), smallInt(0), atom("s"), []byte{etfSmallBig, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0x80})), 0, 0, false, "", nil, "overflows"},
		{"seq of nine bytes", payload(mapOf(atom("op"), smallInt(0), atom("s"), []byte{etfSmallBig, 9, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1})), 0, 0, false, "", nil, "overflows"},
		{"op is a binary", payload(mapOf(atom("op"), bin("0"))), 0, 0, false, "", nil, "not an integer"},
		{"op is negative", payload(mapOf(atom("op"), []byte{etfInteger, 0xff, 0xff, 0xff, 0xff})), 0, 0, false, "", nil, "out of range"},
		{"t is an integer", payload(mapOf(atom("op"), smallInt(0), atom("t"), smallInt(1))), 0, 0, false, "", nil, "neither atom nor binary"},
		{"no op", payload(mapOf(atom("t"), atom("X"))), 0, 0, false, "", nil, "no op"},
		{"trailing byte", append(payload(mapOf(atom("op"), smallInt(0))), 0), 0, 0, false, "", nil, "after the term"},
		{"wrong version byte", append([]byte{130}, mapOf(atom("op"), smallInt(0))...), 0, 0, false, "", nil, "version byte"},
		{"not a map", payload(listOf(atom("op"), smallInt(0))), 0, 0, false, "", nil, "not a map"},
		{"empty", nil, 0, 0, false, "", nil, "empty"},
		{"unknown tag in d", payload(mapOf(atom("op"), smallInt(0), atom("d"), []byte{200})), 0, 0, false, "", nil, "unsupported term tag"},
		{"atom cache reference in d", payload(mapOf(atom("op"), smallInt(0), atom("d"), []byte{82, 0})), 0, 0, false, "", nil, "unsupported term tag"},
		{"list arity beyond the input", payload(mapOf(atom("op"), smallInt(0), atom("d"), []byte{etfList, 0xff, 0xff, 0xff, 0xff, etfNil})), 0, 0, false, "", nil, "truncated"},
		{"map arity beyond the input", payload([]byte{etfMap, 0xff, 0xff, 0xff, 0xff}, atom("op"), smallInt(0)), 0, 0, false, "", nil, "truncated"},
		{"binary length beyond the input", payload(mapOf(atom("op"), smallInt(0), atom("d"), []byte{etfBinary, 0x7f, 0xff, 0xff, 0xff, 'x'})), 0, 0, false, "", nil, "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f Frame
			err := ETF{}.Scan(c.p, &f)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Op != c.op || f.Seq != c.seq || f.HasSeq != c.hasSeq || string(f.T) != c.event || !bytes.Equal(f.D, c.wantD) {
				t.Errorf("got %+v", f)
			}
		})
	}
}

func TestETFScanRejectsEveryTruncationOfEveryVector(t *testing.T) {
	for _, v := range loadETFVectors(t) {
		for n := 0; n < len(v.payload); n++ {
			var f Frame
			if err := (ETF{}).Scan(v.payload[:n], &f); err == nil {
				t.Fatalf("%s cut to %d of %d bytes: no error", v.name, n, len(v.payload))
			}
			if n > 2000 { // the big vectors: the first 2000 cuts and a stride
				n += 997
			}
		}
	}
}

func TestETFEncodersWriteBinaryKeysAndRoundTrip(t *testing.T) {
	c := ETF{}
	id := Identify{Token: "tok\"en", OS: "linux", Browser: "cordis", Device: "cordis", LargeThreshold: 250, ShardID: 3, ShardTotal: 16, Intents: 53608447}
	cases := []struct {
		name string
		p    []byte
		op   int
		want []byte // expected d, hand-built
	}{
		{"heartbeat with seq", c.AppendHeartbeat(nil, 42, true), OpHeartbeat, smallInt(42)},
		{"heartbeat null", c.AppendHeartbeat(nil, 0, false), OpHeartbeat, atom("nil")},
		{"heartbeat 64-bit seq", c.AppendHeartbeat(nil, 1<<40, true), OpHeartbeat, []byte{etfSmallBig, 6, 0, 0, 0, 0, 0, 0, 1}},
		{"identify", c.AppendIdentify(nil, id), OpIdentify, mapOf(
			bin("token"), bin("tok\"en"),
			bin("properties"), mapOf(bin("os"), bin("linux"), bin("browser"), bin("cordis"), bin("device"), bin("cordis")),
			bin("compress"), atom("false"),
			bin("large_threshold"), smallInt(250),
			bin("shard"), listOf(smallInt(3), smallInt(16)),
			bin("intents"), []byte{etfInteger, 0x03, 0x31, 0xff, 0xff})},
		{"resume", c.AppendResume(nil, Resume{Token: "t", SessionID: "abc", Seq: 300}), OpResume, mapOf(
			bin("token"), bin("t"), bin("session_id"), bin("abc"), bin("seq"), []byte{etfInteger, 0, 0, 1, 0x2c})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op, err := c.CommandOp(tc.p) // checks binary keys at every depth
			if err != nil || op != tc.op {
				t.Fatalf("CommandOp = %d, %v", op, err)
			}
			var f Frame
			if err := c.Scan(tc.p, &f); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.D, tc.want) {
				t.Errorf("d = %v\nwant %v", f.D, tc.want)
			}
		})
	}
}

func TestETFIntegerEncodingPicksSmallestForm(t *testing.T) {
	cases := []struct {
		v    int64
		want []byte
	}{
		{0, []byte{etfSmallInteger, 0}},
		{255, []byte{etfSmallInteger, 255}},
		{256, []byte{etfInteger, 0, 0, 1, 0}},
		{-1, []byte{etfInteger, 0xff, 0xff, 0xff, 0xff}},
		{1<<31 - 1, []byte{etfInteger, 0x7f, 0xff, 0xff, 0xff}},
		{1 << 31, []byte{etfSmallBig, 4, 0, 0, 0, 0, 0x80}},
		{-1 << 31, []byte{etfInteger, 0x80, 0, 0, 0}},
		{-1<<31 - 1, []byte{etfSmallBig, 4, 1, 1, 0, 0, 0x80}},
		{-1 << 63, []byte{etfSmallBig, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0x80}},
		{1<<63 - 1, []byte{etfSmallBig, 8, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
	}
	for _, c := range cases {
		got := etfAppendInt(nil, c.v)
		if !bytes.Equal(got, c.want) {
			t.Errorf("%d: got %v, want %v", c.v, got, c.want)
		}
		if back, next, err := etfInt(got, 0); err != nil || back != c.v || next != len(got) {
			t.Errorf("%d: read back %d, %d, %v", c.v, back, next, err)
		}
	}
}

// TestETFEncodersDecodeInErlang has real Erlang decode what the encoders
// write and print it back; skipped where erl is not installed.
func TestETFEncodersDecodeInErlang(t *testing.T) {
	if _, err := exec.LookPath("escript"); err != nil {
		t.Skip("escript not installed")
	}
	c := ETF{}
	dir := t.TempDir()
	files := map[string][]byte{
		"identify": c.AppendIdentify(nil, Identify{Token: "Bot ünï", OS: "linux", Browser: "cordis", Device: "cordis", LargeThreshold: 50, ShardID: 1, ShardTotal: 2, Intents: 1 << 40}),
		"resume":   c.AppendResume(nil, Resume{Token: "t", SessionID: "s", Seq: -5}),
		"hb":       c.AppendHeartbeat(nil, 0, false),
	}
	for name, p := range files {
		if err := os.WriteFile(filepath.Join(dir, name), p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "decode.escript")
	if err := os.WriteFile(script, []byte(`
main([F]) -> io:setopts([{encoding, unicode}]), {ok, B} = file:read_file(F), io:format("~tp~n", [binary_to_term(B, [safe])]).
`), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"identify": `#{<<"d">> => #{<<"compress">> => false,<<"intents">> => 1099511627776,<<"large_threshold">> => 50,<<"properties">> => #{<<"browser">> => <<"cordis">>,<<"device">> => <<"cordis">>,<<"os">> => <<"linux">>},<<"shard">> => [1,2],<<"token">> => <<"Bot ünï"/utf8>>},<<"op">> => 2}`,
		"resume":   `#{<<"d">> => #{<<"seq">> => -5,<<"session_id">> => <<"s">>,<<"token">> => <<"t">>},<<"op">> => 6}`,
		"hb":       `#{<<"d">> => nil,<<"op">> => 1}`,
	}
	for name := range files {
		out, err := exec.Command("escript", script, filepath.Join(dir, name)).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: erlang could not decode: %v\n%s", name, err, out)
		}
		got := strings.Join(strings.Fields(string(out)), "")
		if got != strings.Join(strings.Fields(want[name]), "") {
			t.Errorf("%s: erlang decoded\n%s\nwant\n%s", name, out, want[name])
		}
	}
}

func TestETFCommandOpAcceptsOnlyBinaryKeyedData(t *testing.T) {
	presence := mapOf(bin("since"), atom("nil"), bin("activities"), listOf(mapOf(bin("name"), bin("x"), bin("type"), smallInt(0))), bin("status"), bin("online"), bin("afk"), atom("false"))
	cases := []struct {
		name    string
		p       []byte
		op      int
		wantErr string
	}{
		{"presence update", payload(mapOf(bin("op"), smallInt(3), bin("d"), presence)), 3, ""},
		{"request guild members, op after d", payload(mapOf(bin("d"), mapOf(bin("guild_id"), []byte{etfSmallBig, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8}, bin("limit"), smallInt(0), bin("query"), bin("")), bin("op"), smallInt(8))), 8, ""},
		{"floats, tuples and strings as values", payload(mapOf(bin("op"), smallInt(4), bin("d"), listOf([]byte{etfNewFloat, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, []byte{etfSmallTuple, 1, etfNil}, []byte{etfString, 0, 1, 'a'}))), 4, ""},
		{"atom key at top", payload(mapOf(atom("op"), smallInt(3))), 0, "want a binary"},
		{"atom key nested", payload(mapOf(bin("op"), smallInt(3), bin("d"), mapOf(bin("a"), mapOf(atom("k"), smallInt(1))))), 0, "want a binary"},
		{"integer key", payload(mapOf(bin("op"), smallInt(3), smallInt(1), smallInt(1))), 0, "want a binary"},
		{"op is a binary", payload(mapOf(bin("op"), bin("3"))), 0, "not an integer"},
		{"op missing", payload(mapOf(bin("d"), atom("nil"))), 0, "no integer op"},
		{"op is an atom key only", payload(mapOf(bin("d"), atom("op"))), 0, "no integer op"},
		{"trailing bytes", append(payload(mapOf(bin("op"), smallInt(3))), etfNil), 0, "after the term"},
		{"truncated", payload(mapOf(bin("op"), smallInt(3)))[:8], 0, "truncated"},
		{"wrong version", append([]byte{0}, mapOf(bin("op"), smallInt(3))...), 0, "version byte"},
		{"not a map", payload(listOf(bin("op"), smallInt(3))), 0, "not a map"},
		{"empty", nil, 0, "empty"},
		{"pid value", payload(mapOf(bin("op"), smallInt(3), bin("d"), cat([]byte{etfNewPid}, atom("n@h"), make([]byte, 12)))), 0, "not allowed"},
		{"NaN float", payload(mapOf(bin("op"), smallInt(3), bin("d"), []byte{etfNewFloat, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1})), 0, "not finite"},
		{"bad FLOAT_EXT text", payload(mapOf(bin("op"), smallInt(3), bin("d"), cat([]byte{etfFloat}, []byte("not-a-float-at-all-31-bytes-xx\x00")))), 0, "bad text"},
		{"UTF-8 atom with bad UTF-8", payload(mapOf(bin("op"), smallInt(3), bin("d"), []byte{etfSmallAtomUTF8, 1, 0xff})), 0, "not UTF-8"},
		{"deep nesting", payload(mapOf(bin("op"), smallInt(3), bin("d"), cat(bytes.Repeat([]byte{etfSmallTuple, 1}, 100), []byte{etfNil}))), 0, "too deep"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op, err := ETF{}.CommandOp(c.p)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || op != c.op {
				t.Fatalf("CommandOp = %d, %v; want %d", op, err, c.op)
			}
		})
	}
}

func TestValidateCommandAppliesSizeLimitAndRefusedOps(t *testing.T) {
	big := payload(mapOf(bin("op"), smallInt(3), bin("d"), bin(strings.Repeat("x", MaxCommandSize))))
	cases := []struct {
		name    string
		c       Codec
		p       []byte
		refused bool
		wantErr bool
	}{
		{"etf presence passes", ETF{}, payload(mapOf(bin("op"), smallInt(3))), false, false},
		{"etf heartbeat refused", ETF{}, payload(mapOf(bin("op"), smallInt(1))), true, true},
		{"etf identify refused", ETF{}, ETF{}.AppendIdentify(nil, Identify{}), true, true},
		{"etf resume refused", ETF{}, ETF{}.AppendResume(nil, Resume{}), true, true},
		{"etf over 4096 bytes", ETF{}, big, false, true},
		{"json voice state passes", JSON{}, []byte(`{"op":4,"d":{"guild_id":"1","channel_id":null,"self_mute":false,"self_deaf":false}}`), false, false},
		{"json resume refused", JSON{}, []byte(`{"op":6,"d":{}}`), true, true},
		{"json garbage", JSON{}, []byte(`{"op":3`), false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ValidateCommand(c.c, c.p)
			if (err != nil) != c.wantErr || errors.Is(err, ErrRefusedOp) != c.refused {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestETFControlPayloadErrors(t *testing.T) {
	c := ETF{}
	if _, err := c.HelloInterval(mapOf(atom("heartbeat_interval"), bin("41250"))); err == nil {
		t.Error("HelloInterval accepted a binary interval")
	}
	if _, err := c.HelloInterval(mapOf(atom("other"), smallInt(1))); err == nil {
		t.Error("HelloInterval accepted a missing interval")
	}
	if _, err := c.HelloInterval(mapOf(atom("heartbeat_interval"), smallInt(0))); err == nil {
		t.Error("HelloInterval accepted 0")
	}
	if _, err := c.Ready(mapOf(atom("session_id"), bin("s"))); err == nil {
		t.Error("Ready accepted a missing resume_gateway_url")
	}
	if _, err := c.Ready(mapOf(atom("session_id"), smallInt(1), atom("resume_gateway_url"), bin("u"))); err == nil {
		t.Error("Ready accepted an integer session_id")
	}
	if r, err := c.Ready(mapOf(bin("session_id"), atom("s"), bin("resume_gateway_url"), bin("u"), bin("guilds"), []byte{etfNil})); err != nil || r != (Ready{SessionID: "s", ResumeURL: "u"}) {
		t.Errorf("Ready with binary keys, atom session id, empty guilds = %+v, %v", r, err)
	}
	if _, err := c.Resumable(smallInt(1)); err == nil {
		t.Error("Resumable accepted an integer")
	}
}

func TestETFCodecDescribesItself(t *testing.T) {
	c, err := ForEncoding("etf")
	if err != nil || c.Name() != "etf" || c.ContentType() != "application/x-erlang-binary" || !c.Binary() {
		t.Errorf("etf codec: %v %v", c, err)
	}
	c, err = ForEncoding("json")
	if err != nil || c.Name() != "json" || c.ContentType() != "application/json" || c.Binary() {
		t.Errorf("json codec: %v %v", c, err)
	}
	if _, err := ForEncoding("xml"); err == nil {
		t.Error("unknown encoding accepted")
	}
}
