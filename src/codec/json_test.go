package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestJSONScanFindsEnvelopeInAnyKeyOrder(t *testing.T) {
	d := `{"content":"hé \"q\" } ] ✓","embeds":[{"fields":[]}],"n":-1.5e+3,"ok":true,"x":null}`
	cases := []struct {
		name    string
		p       string
		op      int
		seq     int64
		hasSeq  bool
		event   string
		wantD   string
		wantErr error
		errText string
	}{
		{"discord order dispatch stops at d", `{"t":"MESSAGE_CREATE","s":42,"op":0,"d":` + d + `}`, 0, 42, true, "MESSAGE_CREATE", "", nil, ""},
		{"discord order dispatch leaves d unread", `{"t":"X","s":1,"op":0,"d":{"a":[}}`, 0, 1, true, "X", "", nil, ""},
		{"discord order dispatch cut short", `{"t":"X","s":9,"op":0,"d":{"content":"abc`, 0, 0, false, "", "", nil, "unexpected end"},
		{"discord order dispatch cut after an inner object", "{\"t\":\"X\",\"s\":9,\"op\":0,\"d\":{\"a\":{}\n", 0, 0, false, "", "", nil, "unexpected end"},
		{"discord order dispatch with d not an object is scanned", `{"t":"X","s":1,"op":0,"d":[1]}`, 0, 1, true, "X", "[1]", nil, ""},
		{"discord order dispatch with a key after d is scanned", `{"t":"X","s":1,"op":0,"d":{"a":{}},"x":1}`, 0, 1, true, "X", `{"a":{}}`, nil, ""},
		{"discord order READY keeps d", `{"t":"READY","s":1,"op":0,"d":` + d + `}`, 0, 1, true, "READY", d, nil, ""},
		{"discord order HELLO keeps d", `{"t":null,"s":null,"op":10,"d":` + d + `}`, 10, 0, false, "", d, nil, ""},
		{"d before s is scanned", `{"t":"X","op":0,"d":` + d + `,"s":2}`, 0, 2, true, "X", d, nil, ""},
		{"d first", `{"d":` + d + `,"op":0,"s":1,"t":"X"}`, 0, 1, true, "X", d, nil, ""},
		{"whitespace everywhere", " \n{ \"op\" :\t0 ,\r\n \"d\" : " + d + " , \"s\" : 7 , \"t\" : \"Y\" } \n", 0, 7, true, "Y", d, nil, ""},
		{"null s and t", `{"t":null,"s":null,"op":11,"d":null}`, 11, 0, false, "", "null", nil, ""},
		{"no d", `{"op":11}`, 11, 0, false, "", "", nil, ""},
		{"64-bit seq", `{"op":0,"s":9223372036854775807,"t":"A"}`, 0, 1<<63 - 1, true, "A", "", nil, ""},
		{"escaped keys", `{"\u006fp":0,"\u0074":"B","\u0073":3}`, 0, 3, true, "B", "", nil, ""},
		{"unknown keys skipped", `{"op":0,"_trace":["a",{"b":[1,2,{}]}],"t":"C"}`, 0, 0, false, "C", "", nil, ""},
		{"escaped event name", `{"op":0,"t":"MESSAGE\u005fCREATE"}`, 0, 0, false, "", "", ErrEscapedEvent, ""},
		{"seq beyond int64", `{"op":0,"s":9223372036854775808}`, 0, 0, false, "", "", nil, "overflows"},
		{"seq a float", `{"op":0,"s":1.0}`, 0, 0, false, "", "", nil, "not an integer"},
		{"op a string", `{"op":"0"}`, 0, 0, false, "", "", nil, "expected an integer"},
		{"op with leading zero", `{"op":01}`, 0, 0, false, "", "", nil, "expected an integer"},
		{"no op", `{"t":"X"}`, 0, 0, false, "", "", nil, "no op"},
		{"not an object", `[{"op":0}]`, 0, 0, false, "", "", nil, "not an object"},
		{"trailing bytes", `{"op":0} x`, 0, 0, false, "", "", nil, "after the object"},
		{"trailing comma", `{"op":0,}`, 0, 0, false, "", "", nil, "trailing comma"},
		{"mismatched brackets in d", `{"op":0,"d":[1,2}}`, 0, 0, false, "", "", nil, "unexpected"},
		{"unterminated string", `{"op":0,"d":"abc}`, 0, 0, false, "", "", nil, "unexpected end"},
		{"bad literal", `{"op":0,"d":nul}`, 0, 0, false, "", "", nil, "invalid value"},
		{"bad escape in a key", `{"op":0,"\x":1}`, 0, 0, false, "", "", nil, "bad escape"},
		{"escaped quotes and backslash runs in d", `{"op":0,"d":["\\","\\\"]","a\\\\"]}`, 0, 0, false, "", `["\\","\\\"]","a\\\\"]`, nil, ""},
		{"missing colon", `{"op" 0}`, 0, 0, false, "", "", nil, "expected ':'"},
		{"too deep", `{"op":0,"d":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, 0, 0, false, "", "", nil, "too deep"},
		{"empty", ``, 0, 0, false, "", "", nil, "not an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := []byte(c.p)
			var f Frame
			err := JSON{}.Scan(p, &f)
			if c.wantErr != nil || c.errText != "" {
				if err == nil || (c.wantErr != nil && !errors.Is(err, c.wantErr)) || !strings.Contains(err.Error(), c.errText) {
					t.Fatalf("err = %v, want %v %q", err, c.wantErr, c.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Op != c.op || f.Seq != c.seq || f.HasSeq != c.hasSeq || string(f.T) != c.event || string(f.D) != c.wantD || (c.wantD == "") != (f.D == nil) {
				t.Errorf("got op=%d s=%d/%v t=%q d=%q", f.Op, f.Seq, f.HasSeq, f.T, f.D)
			}
			if c.event == "" && f.T != nil {
				t.Error("null t must give a nil T")
			}
		})
	}
}

func TestJSONScanDoesNotAllocate(t *testing.T) {
	for _, p := range [][]byte{jsonMessageCreate(), jsonGuildCreate(60 << 10), []byte(`{"\u006fp":0,"t":null,"s":null,"d":{}}`)} {
		var f Frame
		allocs := testing.AllocsPerRun(100, func() {
			if err := (JSON{}).Scan(p, &f); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v allocations per Scan", allocs)
		}
	}
}

func TestJSONScanAgreesWithEncodingJSONOnRealisticPayloads(t *testing.T) {
	for _, p := range [][]byte{jsonTypingStart(), jsonMessageCreate(), jsonGuildCreate(60 << 10)} {
		var f Frame
		if err := (JSON{}).Scan(p, &f); err != nil {
			t.Fatal(err)
		}
		var ref struct {
			Op int             `json:"op"`
			S  *int64          `json:"s"`
			T  *string         `json:"t"`
			D  json.RawMessage `json:"d"`
		}
		if err := json.Unmarshal(p, &ref); err != nil {
			t.Fatal(err)
		}
		if f.Op != ref.Op || f.Seq != *ref.S || string(f.T) != *ref.T {
			t.Errorf("scan %+v disagrees with encoding/json", f)
		}
		// These dispatches put d last, as Discord does: Scan stops there.
		if f.D != nil {
			t.Errorf("D = %.40q…, want nil for a dispatch in Discord's order", f.D)
		}
		// With d first, D must be exactly what encoding/json sees.
		dFirst := append(append([]byte(`{"d":`), ref.D...), `,"op":0,"s":1,"t":"READY"}`...)
		if err := (JSON{}).Scan(dFirst, &f); err != nil || !bytes.Equal(f.D, ref.D) {
			t.Errorf("d first: D differs from encoding/json (err %v)", err)
		}
	}
}

func TestJSONEncodersWriteValidEscapedJSON(t *testing.T) {
	c := JSON{}
	id := Identify{Token: "a\"b\\c\n\x01\xff✓", OS: "linux", Browser: "cordis", Device: "cordis", LargeThreshold: 250, ShardID: 3, ShardTotal: 16, Intents: 1 << 40}
	cases := []struct {
		name string
		p    []byte
		want string
	}{
		{"heartbeat", c.AppendHeartbeat(nil, 42, true), `{"op":1,"d":42}`},
		{"heartbeat null", c.AppendHeartbeat(nil, 0, false), `{"op":1,"d":null}`},
		{"identify", c.AppendIdentify(nil, id), `{"op":2,"d":{"token":"a\"b\\c\n\u0001\ufffd✓","properties":{"os":"linux","browser":"cordis","device":"cordis"},"compress":false,"large_threshold":250,"shard":[3,16],"intents":1099511627776}}`},
		{"resume", c.AppendResume([]byte("keep"), Resume{Token: "t", SessionID: "s\"", Seq: 9}), `keep{"op":6,"d":{"token":"t","session_id":"s\"","seq":9}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.p) != tc.want {
				t.Errorf("got  %s\nwant %s", tc.p, tc.want)
			}
			p := bytes.TrimPrefix(tc.p, []byte("keep"))
			if !json.Valid(p) {
				t.Error("not valid JSON")
			}
		})
	}
	var back struct {
		D struct {
			Token string `json:"token"`
		} `json:"d"`
	}
	if err := json.Unmarshal(c.AppendIdentify(nil, id), &back); err != nil || back.D.Token != "a\"b\\c\n\x01\ufffd✓" {
		t.Errorf("token round trip: %q, %v", back.D.Token, err)
	}
}

func TestJSONControlPayloads(t *testing.T) {
	c := JSON{}
	if d, err := c.HelloInterval([]byte(`{"heartbeat_interval":41250,"_trace":["x"]}`)); err != nil || d.Milliseconds() != 41250 {
		t.Errorf("HelloInterval = %v, %v", d, err)
	}
	for _, bad := range []string{`{"heartbeat_interval":"1"}`, `{}`, `{"heartbeat_interval":-5}`, `[1]`} {
		if _, err := c.HelloInterval([]byte(bad)); err == nil {
			t.Errorf("HelloInterval(%s) accepted", bad)
		}
	}
	r, err := c.Ready([]byte(`{"v":10,"user":{"id":"1"},"guilds":[{"id":"1","unavailable":true},{"id":"2"}],"session_id":"ab\u0063","resume_gateway_url":"wss:\/\/gateway.discord.gg"}`))
	if err != nil || r != (Ready{SessionID: "abc", ResumeURL: "wss://gateway.discord.gg", Guilds: 2}) {
		t.Errorf("Ready = %+v, %v", r, err)
	}
	if _, err := c.Ready([]byte(`{"session_id":"a"}`)); err == nil {
		t.Error("Ready accepted a missing resume_gateway_url")
	}
	for in, want := range map[string]bool{"true": true, " false ": false, "null": false} {
		if got, err := c.Resumable([]byte(in)); err != nil || got != want {
			t.Errorf("Resumable(%s) = %v, %v", in, got, err)
		}
	}
	if _, err := c.Resumable([]byte("1")); err == nil {
		t.Error("Resumable accepted 1")
	}
}

func TestJSONCommandOpRequiresOneValidObjectWithIntegerOp(t *testing.T) {
	cases := []struct {
		p       string
		op      int
		wantErr bool
	}{
		{`{"op":3,"d":{"status":"online","since":null,"activities":[],"afk":false}}`, 3, false},
		{` {"d":{},"op":8} `, 8, false},
		{`{"op":3.0}`, 0, true},
		{`{"op":"3"}`, 0, true},
		{`{"d":{"op":3}}`, 0, true},
		{`{"op":3}{"op":4}`, 0, true},
		{`{"op":3,"d":"` + "\x01" + `"}`, 0, true}, // raw control byte in a string
		{`{"op":3,"d":"` + "\xff" + `"}`, 0, true}, // invalid UTF-8
		{`[3]`, 0, true},
		{``, 0, true},
		{`{"op":3`, 0, true},
	}
	for _, c := range cases {
		op, err := JSON{}.CommandOp([]byte(c.p))
		if (err != nil) != c.wantErr || op != c.op {
			t.Errorf("CommandOp(%q) = %d, %v", c.p, op, err)
		}
	}
}

func TestJSONUnescapeDecodesSurrogatesAndRejectsLoneOnes(t *testing.T) {
	cases := map[string]string{
		`a\u00e9\n\/\\`:  "aé\n/\\",
		`\ud83c\udf89`:   "🎉",
		`\ud83c`:         "\ufffd",
		`\ud83cx`:        "\ufffdx",
		`\udf89\u0041`:   "\ufffdA",
		`\ud83c\u0041`:   "\ufffdA",
		`plain ✓ text`:   "plain ✓ text",
		`\"\b\f\r\t end`: "\"\b\f\r\t end",
	}
	for raw, want := range cases {
		// Cross-check with encoding/json, which must agree.
		var ref string
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &ref); err != nil || ref != want {
			t.Fatalf("encoding/json disagrees on %s: %q, %v", raw, ref, err)
		}
		if got := string(jsonUnescape(nil, []byte(raw))); got != want {
			t.Errorf("jsonUnescape(%s) = %q, want %q", raw, got, want)
		}
	}
}
