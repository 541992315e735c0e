package logging

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/cordis-gateway/cordis/src/codec"
)

// leakIn reports where out shows secret (or its last segment) in any form
// a reader could recover: plain, JSON-escaped, hex, or base64 of any
// alignment. It decodes what it finds rather than re-encoding the secret
// the way Forms does, so the two cannot share a blind spot.
func leakIn(out, secret string) string {
	part := norm(secret[strings.LastIndexByte(secret, '.')+1:])
	if strings.Contains(norm(out), part) {
		return "plain: " + out
	}
	for _, run := range regexp.MustCompile(`[A-Za-z0-9+/_=-]{8,}`).FindAllString(out, -1) {
		run = strings.TrimRight(run, "=")
		for skip := range 4 {
			if skip >= len(run) {
				break
			}
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				r := run[skip:]
				r = r[:len(r)/4*4]
				if b, err := enc.DecodeString(r); err == nil && strings.Contains(norm(string(b)), part) {
					return "base64: " + run
				}
			}
		}
		if b, err := hex.DecodeString(run[:len(run)/2*2]); err == nil && strings.Contains(norm(string(b)), part) {
			return "hex: " + run
		}
		if len(run) > 1 {
			if b, err := hex.DecodeString(run[1 : 1+(len(run)-1)/2*2]); err == nil && strings.Contains(norm(string(b)), part) {
				return "hex: " + run
			}
		}
	}
	return ""
}

// norm undoes JSON and Go quoting (any depth): HTML escapes become the
// characters, backslashes go.
func norm(s string) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&", `\`, "").Replace(s)
}

type gatewayState struct {
	Shard   int
	Payload codec.Resume
	private codec.Identify // fmt prints unexported fields too
}

type stringerPayload struct{ r codec.Resume }

func (s stringerPayload) String() string { return fmt.Sprintf("resume %+v", s.r) }

// The RESUME and IDENTIFY payloads hold the token as a plain string; a
// debug line logging them (as a struct, a pointer, inside a map, encoded
// to bytes, wrapped in an error) must not show it in any form.
func TestRedactMasksTheTokenInsidePayloadsAtDebug(t *testing.T) {
	for _, secret := range []string{token, `MTIzNDU2.GAbCdE.s3cr<3t>&"t0k\3n`} {
		resume := codec.Resume{Token: secret, SessionID: "session-1", Seq: 42}
		identify := codec.Identify{Token: secret, OS: "linux", Browser: "cordis", Device: "cordis", ShardID: 1, ShardTotal: 2, Intents: 513}
		jsonResume := codec.JSON{}.AppendResume(nil, resume)
		etfIdentify := codec.ETF{}.AppendIdentify(nil, identify)
		cases := []struct {
			name string
			v    any
		}{
			{"resume struct", resume},
			{"resume pointer", &resume},
			{"identify struct", identify},
			{"nested and unexported", gatewayState{Shard: 1, Payload: resume, private: identify}},
			{"map", map[string]any{"op": 6, "d": map[string]any{"token": secret}}},
			{"slice", []any{"x", resume}},
			{"encoded JSON payload as []byte", jsonResume},
			{"encoded ETF payload as []byte", etfIdentify},
			{"ETF payload shifted by one byte", append([]byte{0}, etfIdentify...)},
			{"ETF payload shifted by two bytes", append([]byte{0, 0}, etfIdentify...)},
			{"json.RawMessage", json.RawMessage(jsonResume)},
			{"error wrapping a payload", fmt.Errorf("send %+v: %w", resume, errors.New("closed"))},
			{"stringer", stringerPayload{resume}},
			{"hex string", hex.EncodeToString([]byte(secret))},
			{"base64 string", base64.StdEncoding.EncodeToString([]byte("x" + secret))},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
					func(b *bytes.Buffer) slog.Handler {
						return slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
					},
					func(b *bytes.Buffer) slog.Handler {
						return slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
					},
				} {
					var buf bytes.Buffer
					log := slog.New(Redact(newHandler(&buf), secret))
					log.Debug("sending", "payload", tc.v)
					log.With("held", tc.v).Debug("with")
					log.Debug("grouped", slog.Group("g", slog.Any("payload", tc.v)))
					if where := leakIn(buf.String(), secret); where != "" {
						t.Errorf("token leaked (%s) in:\n%s", where, buf.String())
					}
					if !strings.Contains(buf.String(), Redacted) {
						t.Errorf("no %s marker: %s", Redacted, buf.String())
					}
				}
			})
		}
	}
}

// A payload without the token is logged as it is: structure kept.
func TestRedactKeepsCleanStructs(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, true, token).Debug("m", "payload", codec.Resume{Token: "other", SessionID: "s", Seq: 1})
	if !strings.Contains(buf.String(), `"payload":{"Token":"other","SessionID":"s","Seq":1}`) {
		t.Errorf("clean struct changed: %s", buf.String())
	}
}

// A struct holding the token keeps its JSON structure, with only the
// token replaced.
func TestRedactKeepsTheStructureOfAStructWithTheToken(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, true, token).Debug("m", "payload", codec.Resume{Token: "Bot " + token, SessionID: "s", Seq: 1})
	if !strings.Contains(buf.String(), `"payload":{"Token":"Bot [redacted]","SessionID":"s","Seq":1}`) {
		t.Errorf("got %s", buf.String())
	}
}

func TestFormsCoverEveryAlignment(t *testing.T) {
	forms := Forms(token)
	for pad := range 3 {
		blob := append(bytes.Repeat([]byte{'x'}, pad), token...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			encoded := enc.EncodeToString(blob)
			found := false
			for _, f := range forms {
				if strings.Contains(encoded, f) {
					found = true
				}
			}
			if !found {
				t.Errorf("no form found in base64 of the token after %d bytes: %s", pad, encoded)
			}
		}
	}
	for _, f := range Forms("ab.cd") {
		if len(f) < minForm {
			t.Errorf("form %q is too short to search for", f)
		}
	}
}
