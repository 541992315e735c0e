package logging

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// Redacted replaces a secret wherever Redact finds it.
const Redacted = "[redacted]"

// Redact wraps h so that no form of any non-empty secret (see Forms)
// reaches it: in the message, and in attribute values of every kind (in
// groups too, and in attributes added with With). Strings are scrubbed in
// place. Any other value (a struct such as an IDENTIFY payload, a map, a
// slice, []byte, an error, a Stringer) is rendered the ways a handler can
// print it (JSON, %+v, %#v, Error, String); if any rendering holds a
// secret, the value is replaced by its scrubbed JSON (or text) rendering.
// It is the last line of defence: the token's own type never prints.
func Redact(h slog.Handler, secrets ...string) slog.Handler {
	var forms []string
	for _, s := range secrets {
		if s != "" {
			forms = append(forms, Forms(s)...)
		}
	}
	if len(forms) == 0 {
		return h
	}
	return &redactHandler{inner: h, forms: forms}
}

type redactHandler struct {
	inner slog.Handler
	forms []string // longest first
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
	return &redactHandler{inner: h.inner.WithAttrs(clean), forms: h.forms}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{inner: h.inner.WithGroup(h.scrub(name)), forms: h.forms}
}

// attr returns a with every secret masked; values without one are passed
// on untouched (errors stay errors, structs stay structs).
func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	key := h.scrub(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(key, h.scrub(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]slog.Attr, len(group))
		for i, g := range group {
			clean[i] = h.attr(g)
		}
		return slog.Attr{Key: key, Value: slog.GroupValue(clean...)}
	case slog.KindAny:
		if x := v.Any(); x != nil {
			if clean, leaked := h.value(x); leaked {
				return slog.Attr{Key: key, Value: clean}
			}
		}
	}
	return slog.Attr{Key: key, Value: v}
}

// value renders x every way a handler may print it and, if one rendering
// holds a secret, returns the scrubbed rendering to log instead.
func (h *redactHandler) value(x any) (slog.Value, bool) {
	var shown string // what the JSON handler would write
	isJSON := false
	if err, ok := x.(error); ok {
		shown = err.Error()
	} else if b, err := json.Marshal(x); err == nil {
		shown, isJSON = string(b), true
	} else {
		shown = fmt.Sprintf("%+v", x)
	}
	leaked := h.has(shown)
	if !leaked {
		renderings := []string{fmt.Sprintf("%+v", x), fmt.Sprintf("%#v", x)}
		if s, ok := x.(fmt.Stringer); ok {
			renderings = append(renderings, s.String())
		}
		if b, ok := x.([]byte); ok {
			renderings = append(renderings, string(b))
		}
		for _, r := range renderings {
			if h.has(r) {
				leaked = true
				break
			}
		}
	}
	if !leaked {
		return slog.Value{}, false
	}
	if s, ok := x.(fmt.Stringer); ok {
		if _, isErr := x.(error); !isErr {
			return slog.StringValue(h.scrub(s.String())), true
		}
	}
	clean := h.scrub(shown)
	if isJSON && json.Valid([]byte(clean)) {
		return slog.AnyValue(json.RawMessage(clean)), true
	}
	return slog.StringValue(clean), true
}

func (h *redactHandler) has(s string) bool {
	for _, f := range h.forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

func (h *redactHandler) scrub(s string) string {
	for _, f := range h.forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Redacted)
		}
	}
	return s
}
