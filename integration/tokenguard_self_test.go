package integration

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"testing"
)

// The token guard itself: it must see the token in every form a log line
// can carry it, and nothing else.
func TestTokenGuardSeesEveryFormOfTheToken(t *testing.T) {
	odd := `MTIzNDU2.GhIjKl.s3cr<t>&"x\y'z`
	part := "cordis-integration-secret-token"
	jsonOf := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, tc := range []struct {
		name, token, line string
		leak              bool
	}{
		{"whole token", testToken, `{"msg":"auth","v":"Bot ` + testToken + `"}`, true},
		{"secret segment alone", testToken, `{"msg":"x","hmac":"` + part + `"}`, true},
		{"JSON-escaped with HTML escapes", odd, jsonOf(map[string]string{"t": odd}), true},
		{"JSON inside JSON", odd, jsonOf(map[string]string{"payload": jsonOf(map[string]string{"token": odd})}), true},
		{"Go-quoted", odd, strconv.Quote(odd), true},
		{"hex", testToken, fmt.Sprintf("%x", testToken), true},
		{"upper hex of the segment", testToken, fmt.Sprintf("%X", part), true},
		{"percent-encoded", odd, url.QueryEscape(odd), true},
		{"base64", testToken, base64.StdEncoding.EncodeToString([]byte(testToken)), true},
		{"base64 one byte in", testToken, base64.StdEncoding.EncodeToString([]byte("x" + testToken)), true},
		{"base64 two bytes in, URL alphabet", testToken, base64.URLEncoding.EncodeToString([]byte("xy" + part)), true},
		{"base64 of a JSON payload ([]byte in a JSON log)", odd, jsonOf([]byte(`{"op":6,"d":{"token":` + jsonOf(odd) + `}}`)), true},
		{"redacted", testToken, `{"msg":"identify","token":"[redacted]"}`, false},
		{"the public bot id segment", testToken, `{"bot":"MTIzNDU2Nzg5MDEyMzQ1Njc4"}`, false},
		{"another bot's token", testToken, `{"t":"` + newTestBot().token + `"}`, false},
		{"hex of something else", testToken, hex.EncodeToString([]byte("cordis-integration")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tokenLeak(tc.line, tc.token); (got != "") != tc.leak {
				t.Errorf("tokenLeak = %q, want leak=%v in %s", got, tc.leak, tc.line)
			}
		})
	}
}

func TestTokenOfReadsCORDISAUTH(t *testing.T) {
	for vars, want := range map[*map[string]string]string{
		{"CORDIS_AUTH": "Bot abc.def.ghi"}: "abc.def.ghi",
		{"CORDIS_AUTH": "  bot  xyz "}:     "xyz",
		{"CORDIS_AUTH": "plain"}:           "plain",
		{}:                                 testToken,
	} {
		if got := tokenOf(*vars); got != want {
			t.Errorf("tokenOf(%v) = %q, want %q", *vars, got, want)
		}
	}
}

func TestLineWriterSplitsStdoutIntoLines(t *testing.T) {
	var got []string
	w := newLineWriter(func(l string) { got = append(got, l) })
	for _, chunk := range []string{"a", "b\nc\n", "\nd"} {
		_, _ = w.Write([]byte(chunk))
	}
	w.flush()
	if fmt.Sprint(got) != fmt.Sprint([]string{"ab", "c", "", "d"}) {
		t.Errorf("lines %q", got)
	}
}

func TestEveryGatewayLogsAtDebugUnlessTheTestSetsTheLevel(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{nil, "true"},
		{map[string]string{"CORDIS_AUTH": "x"}, "true"},
		{map[string]string{"CORDIS_DEBUG": ""}, ""},
		{map[string]string{"CORDIS_DEBUG": "false"}, "false"},
	} {
		if got := withDebug(tc.vars)["CORDIS_DEBUG"]; got != tc.want {
			t.Errorf("withDebug(%v): CORDIS_DEBUG=%q, want %q", tc.vars, got, tc.want)
		}
	}
}
