package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Redacted replaces a secret wherever Redact finds it.
const Redacted = "[redacted]"

// Redact wraps h so that no occurrence of any non-empty secret reaches it:
// the message, string values, errors and Stringers (in groups too, and in
// attributes added with With) have the secret replaced by [redacted].
// It is a last line of defence, for a token echoed back inside an error
// from a library; the token's own type already never prints.
// Other kinds of values (structs marshalled as JSON) are not inspected.
func Redact(h slog.Handler, secrets ...string) slog.Handler {
	var keep []string
	for _, s := range secrets {
		if s != "" {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		return h
	}
	return &redactHandler{inner: h, secrets: keep}
}

type redactHandler struct {
	inner   slog.Handler
	secrets []string
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.attr(a)
	}
	return &redactHandler{inner: h.inner.WithAttrs(clean), secrets: h.secrets}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{inner: h.inner.WithGroup(name), secrets: h.secrets}
}

// attr returns a with every secret masked; values without one are passed
// on untouched (errors stay errors).
func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); h.has(s) {
			return slog.String(a.Key, h.scrub(s))
		}
	case slog.KindGroup:
		group := v.Group()
		clean := make([]slog.Attr, len(group))
		for i, g := range group {
			clean[i] = h.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			return slog.Attr{Key: a.Key, Value: v}
		}
		if h.has(s) {
			return slog.String(a.Key, h.scrub(s))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *redactHandler) has(s string) bool {
	for _, secret := range h.secrets {
		if strings.Contains(s, secret) {
			return true
		}
	}
	return false
}

func (h *redactHandler) scrub(s string) string {
	for _, secret := range h.secrets {
		if strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, Redacted)
		}
	}
	return s
}
