package fakediscord

import (
	"bytes"
	"reflect"
	"testing"
)

func TestEveryDKindEncodesToTheSameValueInBothEncodings(t *testing.T) {
	type member struct {
		Nick  string   `json:"nick"`
		Roles []string `json:"roles"`
	}
	want := map[string]any{"nick": "n", "roles": []any{"1", "2"}}
	for _, tc := range []struct {
		name string
		d    any
		want any
	}{
		{"map", map[string]any{"a": 1, "b": "x", "c": nil, "d": true, "e": 1.5}, map[string]any{"a": int64(1), "b": "x", "c": nil, "d": true, "e": 1.5}},
		{"list", []any{1, "x", false}, []any{int64(1), "x", false}},
		{"uint64 above int64", uint64(1 << 63), uint64(1 << 63)},
		{"negative int", -7, int64(-7)},
		{"RawJSON", RawJSON(`{"nick":"n","roles":["1","2"]}`), want},
		{"struct through its JSON form", member{Nick: "n", Roles: []string{"1", "2"}}, want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, enc := range []Encoding{EncodingJSON, EncodingETF} {
				b, err := EncodePayload(enc, OpDispatch, tc.d, 1, "X")
				if err != nil {
					t.Fatal(err)
				}
				p, _, err := DecodePayload(enc, b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(p["d"], tc.want) {
					t.Fatalf("%s: d = %#v", enc, p["d"])
				}
			}
		})
	}
}

func TestPayloadsAreReproducibleByteForByte(t *testing.T) {
	d := map[string]any{"z": 1, "a": map[string]any{"y": 2, "b": 3}, "m": []any{"x"}}
	for _, enc := range []Encoding{EncodingJSON, EncodingETF} {
		first, _ := EncodePayload(enc, OpDispatch, d, 9, "T")
		for range 20 {
			again, _ := EncodePayload(enc, OpDispatch, d, 9, "T")
			if !bytes.Equal(first, again) {
				t.Fatalf("%s: encoding differs between runs", enc)
			}
		}
	}
	got, _ := EncodePayload(EncodingJSON, OpHello, map[string]any{"heartbeat_interval": 41250}, 0, "")
	if string(got) != `{"t":null,"s":null,"op":10,"d":{"heartbeat_interval":41250}}` {
		t.Fatalf("HELLO = %s", got)
	}
}
