package codec

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The fuzz targets prove that no input makes Scan or CommandOp panic or
// loop, and that what Scan returns is consistent: D is exactly one value.

func FuzzScanETF(f *testing.F) {
	for _, v := range loadETFVectors(f) {
		f.Add(v.payload)
	}
	f.Add(payload(mapOf(atomAs(etfSmallAtom, "op"), smallInt(0), atomAs(etfAtomUTF8, "t"), atom("X"))))
	f.Add(ETF{}.AppendIdentify(nil, Identify{Token: "t", ShardTotal: 1, Intents: 1 << 40}))
	f.Fuzz(func(t *testing.T, p []byte) {
		orig := bytes.Clone(p)
		var fr Frame
		if err := (ETF{}).Scan(p, &fr); err == nil && fr.D != nil {
			if end, err := etfSkip(fr.D, 0); err != nil || end != len(fr.D) {
				t.Fatalf("D is not one term: end %d of %d, %v", end, len(fr.D), err)
			}
		}
		_, _ = ETF{}.CommandOp(p)
		if len(p) > 1 {
			_, _ = ETF{}.HelloInterval(p[1:])
			_, _ = ETF{}.Ready(p[1:])
		}
		if !bytes.Equal(p, orig) {
			t.Fatal("input modified")
		}
	})
}

func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{
		`{"t":"MESSAGE_CREATE","s":42,"op":0,"d":{"a":[1,2.5e3,"x\u00e9\"",true,false,null,{}]}}`,
		`{"op":11,"t":null,"s":null,"d":null}`,
		`{"\u006fp":0,"t":"A"}`,
		`{"op":0,"d":[[[[]]]]}`,
		`{"op":10,"d":{"heartbeat_interval":41250}}`,
	} {
		f.Add([]byte(s))
	}
	f.Add(jsonMessageCreate())
	f.Add(jsonTypingStart())
	f.Fuzz(func(t *testing.T, p []byte) {
		orig := bytes.Clone(p)
		var fr Frame
		if err := (JSON{}).Scan(p, &fr); err == nil && fr.D != nil {
			if end, err := jsonSkip(fr.D, 0); err != nil || end != len(fr.D) {
				t.Fatalf("D is not one value: end %d of %d, %v", end, len(fr.D), err)
			}
			// On valid JSON, D must be exactly what encoding/json sees as d.
			var m map[string]json.RawMessage
			if json.Valid(p) && json.Unmarshal(p, &m) == nil && !bytes.Equal(m["d"], fr.D) {
				t.Fatalf("D = %q, encoding/json says %q", fr.D, m["d"])
			}
		}
		_, _ = JSON{}.CommandOp(p)
		_, _ = JSON{}.HelloInterval(p)
		_, _ = JSON{}.Ready(p)
		_, _ = JSON{}.Resumable(p)
		if !bytes.Equal(p, orig) {
			t.Fatal("input modified")
		}
	})
}
