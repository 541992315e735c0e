package codec

import (
	"strings"
	"testing"
)

// Issue 8 point 7: a command with op twice is refused in both encodings
// (decoders disagree on which op wins), and every refusal has a reason.
func TestValidateCommandNamesEveryRefusal(t *testing.T) {
	big := payload(mapOf(bin("op"), smallInt(3), bin("d"), bin(strings.Repeat("x", MaxCommandSize))))
	cases := []struct {
		name   string
		c      Codec
		p      []byte
		reason string // "" = accepted
	}{
		{"json presence", JSON{}, []byte(`{"op":3,"d":{}}`), ""},
		{"json op inside d is not a duplicate", JSON{}, []byte(`{"op":8,"d":{"op":1}}`), ""},
		{"json duplicate op, gateway op last", JSON{}, []byte(`{"op":3,"d":{},"op":2}`), RefusedDuplicateOp},
		{"json duplicate op, same value", JSON{}, []byte(`{"op":3,"op":3}`), RefusedDuplicateOp},
		{"json duplicate op, escaped key", JSON{}, []byte(`{"op":3,"o\u0070":6}`), RefusedDuplicateOp},
		{"json heartbeat", JSON{}, []byte(`{"op":1,"d":null}`), RefusedGatewayOp},
		{"json garbage", JSON{}, []byte(`{"op":3`), RefusedUndecodable},
		{"json too large", JSON{}, []byte(`{"op":3,"d":"` + strings.Repeat("x", MaxCommandSize) + `"}`), RefusedTooLarge},
		{"etf presence", ETF{}, payload(mapOf(bin("op"), smallInt(3))), ""},
		{"etf op inside d is not a duplicate", ETF{}, payload(mapOf(bin("op"), smallInt(8), bin("d"), mapOf(bin("op"), smallInt(2)))), ""},
		{"etf duplicate op, gateway op last", ETF{}, payload(mapOf(bin("op"), smallInt(3), bin("op"), smallInt(2))), RefusedDuplicateOp},
		{"etf duplicate op, same value", ETF{}, payload(mapOf(bin("op"), smallInt(3), bin("d"), atom("nil"), bin("op"), smallInt(3))), RefusedDuplicateOp},
		{"etf resume", ETF{}, ETF{}.AppendResume(nil, Resume{}), RefusedGatewayOp},
		{"etf atom keys", ETF{}, payload(mapOf(atom("op"), smallInt(3))), RefusedUndecodable},
		{"etf too large", ETF{}, big, RefusedTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ValidateCommand(c.c, c.p)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want refused as %s", c.reason)
			}
			if got := RefusalReason(err); got != c.reason {
				t.Fatalf("reason %s (%v), want %s", got, err, c.reason)
			}
		})
	}
}
