package logging

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// minForm is the shortest needle searched for: shorter pieces (a token's
// timestamp segment) would match unrelated text.
const minForm = 8

// Forms returns every way secret can appear in printed output: itself, its
// last dot-separated segment (a Discord token's HMAC, the part that must
// stay secret even when the rest is known), and each of those as is,
// JSON-escaped (with and without HTML escaping) and URL-escaped, each of
// those in turn also in hex and in base64 (standard and URL alphabets, at each
// of the three byte alignments it can have inside a longer encoded value).
// The integration suite searches the gateway's output for the same forms.
func Forms(secret string) []string {
	parts := []string{secret}
	if i := strings.LastIndexByte(secret, '.'); i >= 0 && len(secret)-i-1 >= minForm {
		parts = append(parts, secret[i+1:])
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if len(s) >= minForm && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, p := range parts {
		for _, text := range []string{p, jsonEscape(p, false), jsonEscape(p, true), url.QueryEscape(p)} {
			add(text)
			add(hex.EncodeToString([]byte(text)))
			add(strings.ToUpper(hex.EncodeToString([]byte(text))))
			for skip := 0; skip < 3 && skip < len(text); skip++ {
				// Only whole 3-byte groups encode to characters that do not
				// depend on the bytes around the secret.
				b := []byte(text[skip:])
				b = b[:len(b)/3*3]
				add(base64.RawStdEncoding.EncodeToString(b))
				add(base64.RawURLEncoding.EncodeToString(b))
			}
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// jsonEscape is s as it appears inside a JSON string, with or without the
// HTML escaping of <, > and & that encoding/json does by default.
func jsonEscape(s string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if enc.Encode(s) != nil {
		return s
	}
	out := strings.TrimSpace(b.String())
	return out[1 : len(out)-1]
}
