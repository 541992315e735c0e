package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

const token = "MTIzNDU2.GAbCdE.s3cr3t-t0k3n"

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("Bot " + token) }

func TestRedactMasksTheToken(t *testing.T) {
	wrapped := fmt.Errorf("dial: %w", &url.Error{Op: "Get", URL: "https://x/?t=" + token, Err: errors.New("refused")})
	for _, tc := range []struct {
		name string
		log  func(*slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.Info("token is " + token) }},
		{"string attr", func(l *slog.Logger) { l.Info("m", "auth", "Bot "+token) }},
		{"error attr", func(l *slog.Logger) { l.Error("m", "err", wrapped) }},
		{"error as slog.Any", func(l *slog.Logger) { l.Error("m", slog.Any("error", errors.New("bad token "+token))) }},
		{"stringer", func(l *slog.Logger) { l.Info("m", "s", stringer{token}) }},
		{"log valuer", func(l *slog.Logger) { l.Info("m", "v", valuer{}) }},
		{"group", func(l *slog.Logger) { l.Info("m", slog.Group("g", "inner", token, slog.Group("h", "err", wrapped))) }},
		{"With attrs", func(l *slog.Logger) { l.With("auth", token).Info("m") }},
		{"With then group", func(l *slog.Logger) { l.WithGroup("g").With("auth", token).Info("m", "x", token) }},
		{"twice in one value", func(l *slog.Logger) { l.Info("m", "s", token+"/"+token) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(New(&buf, true, token))
			out := buf.String()
			if strings.Contains(out, "s3cr3t") {
				t.Errorf("token logged: %s", out)
			}
			if !strings.Contains(out, Redacted) {
				t.Errorf("no %s marker: %s", Redacted, out)
			}
		})
	}
}

func TestRedactLeavesOtherValuesAlone(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, false, token).Info("hello", slog.Int("n", 3), slog.String("s", "plain"), slog.Any("err", errors.New("boom")), ShardAttr(2))
	want := `"msg":"hello","n":3,"s":"plain","err":"boom","shard_id":2}`
	if !strings.HasSuffix(strings.TrimSpace(buf.String()), want) {
		t.Errorf("got %s\nwant suffix %s", buf.String(), want)
	}
}

func TestRedactWithoutSecretsIsTheHandlerItself(t *testing.T) {
	h := slog.NewJSONHandler(&bytes.Buffer{}, nil)
	if got := Redact(h, "", ""); got != slog.Handler(h) {
		t.Errorf("Redact with only empty secrets wrapped the handler: %T", got)
	}
}

func TestRedactKeepsLevelFiltering(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, false, token).Debug("hidden " + token)
	if buf.Len() != 0 {
		t.Errorf("debug record written at info level: %s", buf.String())
	}
}
