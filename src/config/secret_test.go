package config

import (
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestTokenNeverInConfigOutput(t *testing.T) {
	c, err := Load(env(map[string]string{varAuth: "Bot " + testToken, varRedisURL: "redis://:hunter2@cache:6379/0",
		varAMQPHost: "amqp://user:hunter2@rabbit/"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Token.Reveal() != testToken {
		t.Fatalf("token not loaded")
	}
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("config", "ptr", c)        // LogValue
	log.Info("config", "value", *c)     // plain struct, marshalled as JSON
	log.Info("token", "token", c.Token) // the Secret itself
	jsonOut, _ := json.Marshal(c)
	for name, out := range map[string]string{
		"%v":        fmt.Sprintf("%v", c),
		"%+v":       fmt.Sprintf("%+v", c),
		"%#v":       fmt.Sprintf("%#v", c),
		"%v value":  fmt.Sprintf("%v", *c),
		"%+v value": fmt.Sprintf("%+v", *c),
		"%#v value": fmt.Sprintf("%#v", *c),
		"%s token":  fmt.Sprintf("%s", c.Token), //nolint:staticcheck // the %s verb is what is tested
		"%q token":  fmt.Sprintf("%q", c.Token),
		"%x token":  fmt.Sprintf("%x", c.Token),
		"json":      string(jsonOut),
		"slog json": logged.String(),
	} {
		if strings.Contains(out, testToken) || strings.Contains(out, "s3cr3t") {
			t.Errorf("%s shows the token: %s", name, out)
		}
	}
}

// The Secret type hides itself in every container and through every
// printer, not only at the top level: a struct, map or slice holding the
// token, any fmt verb, JSON, text, gob and slog.
func TestSecretHidesItselfInsideAnyValue(t *testing.T) {
	s := NewSecret(testToken)
	type payload struct {
		Token   Secret
		Ptr     *Secret
		Session string
		hidden  Secret // fmt prints unexported fields without their methods
	}
	p := payload{Token: s, Ptr: &s, Session: "abc", hidden: s}
	values := map[string]any{
		"secret":         s,
		"pointer":        &s,
		"struct":         p,
		"struct pointer": &p,
		"map":            map[string]Secret{"token": s},
		"map key":        map[Secret]int{s: 1},
		"slice":          []Secret{s, s},
		"any slice":      []any{s, p},
		"nested":         map[string]any{"d": map[string]any{"token": s}},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v", "%10.3s"}
	for name, v := range values {
		var outs []string
		for _, verb := range verbs {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: json: %v", name, err)
		}
		outs = append(outs, string(j))
		var gobBuf bytes.Buffer
		if err := gob.NewEncoder(&gobBuf).Encode(v); err == nil {
			outs = append(outs, gobBuf.String())
		}
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("m", "v", v)
		slog.New(slog.NewTextHandler(&logged, nil)).Info("m", "v", v)
		outs = append(outs, logged.String())
		for _, out := range outs {
			if strings.Contains(out, "s3cr3t") || strings.Contains(out, hex.EncodeToString([]byte("s3cr3t"))) {
				t.Errorf("%s shows the token: %s", name, out)
			}
		}
	}
	if s.Reveal() != testToken {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
}

func TestLogValueMasksURLPasswords(t *testing.T) {
	c, err := Load(env(map[string]string{varRedisURL: "redis://:hunter2@cache:6379/0", varAMQPHost: "amqp://user:hunter2@rabbit/",
		varIntents: "guilds,guildMessages"}))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "config", c)
	var rec struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(logged.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"amqp_url":     "amqp://user:xxxxx@rabbit/",
		"redis_url":    "redis://:xxxxx@cache:6379/0",
		"intents":      float64(513),
		"intent_names": []any{"guilds", "guildMessages"},
		"encoding":     "etf",
	} {
		if got := rec.Config[key]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if strings.Contains(logged.String(), "hunter2") || strings.Contains(logged.String(), "s3cr3t") {
		t.Errorf("secret in log: %s", logged.String())
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	for _, tc := range []struct {
		name, token string
		want        string // "" = accepted
	}{
		{"with space inside", "Bot abc def" + testToken, "CORDIS_AUTH=[redacted]: accepted: a Discord bot token"},
		{"control character", testToken + "\x01", "CORDIS_AUTH=[redacted]: accepted: a Discord bot token"},
		{"non-ASCII", testToken + "é", "CORDIS_AUTH=[redacted]: accepted: a Discord bot token"},
		{"only the prefix", "Bot ", "CORDIS_AUTH=[redacted]: accepted: a Discord bot token"},
		{"prefix without space", "Bot", "CORDIS_AUTH=[redacted]: accepted: a Discord bot token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// other bad values too, so the token is not lost among them
			_, err := Load(env(map[string]string{varAuth: tc.token, varDebug: "x", varIntents: "x"}))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, out := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(out, "s3cr3t") {
					t.Errorf("token in error: %s", out)
				}
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %q, want prefix %q", err.Error(), tc.want)
			}
		})
	}
}

func TestTokenPastedIntoAnotherVariableIsHidden(t *testing.T) {
	_, err := Load(env(map[string]string{varDebug: testToken, varIntents: "guilds," + testToken}))
	if err == nil {
		t.Fatal("accepted")
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("token in error: %s", err)
	}
	if !strings.HasPrefix(err.Error(), `CORDIS_DEBUG="[redacted]": accepted:`) {
		t.Errorf("got %s", err)
	}
}

func TestErrorNeverPrintsAuthValue(t *testing.T) {
	e := &Error{Var: varAuth, Value: testToken, Accepted: "x"}
	if got := e.Error(); strings.Contains(got, testToken) {
		t.Errorf("Error() = %q", got)
	}
}
