package config

import (
	"fmt"
	"log/slog"
)

// redacted is what a Secret shows instead of itself.
const redacted = "[redacted]"

// Secret holds a value (the bot token) that never prints. Every fmt verb
// (%v, %+v, %#v, %s, %q, %x, ...), JSON (as a value or a map key), text
// and binary marshalling and slog show a placeholder. The value sits
// behind a pointer in an unexported field, so even reflection-based
// printers that ignore these methods (fmt on an unexported struct field,
// json) show at most an address. Only Reveal gives the value, for the
// places that must send it.
type Secret struct{ v *string }

// NewSecret wraps s; an empty s gives the zero Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{v: &s}
}

// Reveal returns the secret itself, for the places that send or derive
// from it (the Authorization header, IDENTIFY/RESUME, the Redis bot id).
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

func (Secret) String() string                 { return redacted }
func (Secret) GoString() string               { return redacted }
func (Secret) LogValue() slog.Value           { return slog.StringValue(redacted) }
func (Secret) MarshalText() ([]byte, error)   { return []byte(redacted), nil }
func (Secret) MarshalJSON() ([]byte, error)   { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalBinary() ([]byte, error) { return []byte(redacted), nil }
func (Secret) GobEncode() ([]byte, error)     { return []byte(redacted), nil }
func (Secret) Format(f fmt.State, _ rune)     { _, _ = f.Write([]byte(redacted)) }
