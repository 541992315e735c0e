package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
)

// The token guard: every gateway a test starts runs at debug level and,
// when the test ends, its whole output is searched for its token. The
// search decodes what it finds instead of re-encoding the token the way
// the gateway's redacting handler does, so the two share no blind spot.

// tokenOf is the token a gateway started with vars holds (testToken when
// CORDIS_AUTH is not set: the variable is then missing on purpose).
func tokenOf(vars map[string]string) string {
	v, ok := vars["CORDIS_AUTH"]
	if !ok {
		return testToken
	}
	v = strings.TrimSpace(v)
	if len(v) > 4 && strings.EqualFold(v[:4], "bot ") {
		v = strings.TrimSpace(v[4:])
	}
	return v
}

// minSecretPart: a shorter last segment is not searched for on its own,
// only the whole token; a shorter whole token (a test's deliberately bad
// one) is not searched for at all.
const minSecretPart = 8

// secretParts are what must never show: the whole token and its last
// segment (the HMAC: with it and the public bot id, the token is known).
func secretParts(token string) []string {
	parts := []string{token}
	if i := strings.LastIndexByte(token, '.'); i >= 0 && len(token)-i-1 >= minSecretPart {
		parts = append(parts, token[i+1:])
	}
	return parts
}

// unquote undoes JSON and Go string quoting of any depth: \uXXXX escapes
// of <, > and & become the characters, and every backslash goes.
var unquote = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&", `\u0027`, "'", `\`, "")

var encodedRun = regexp.MustCompile(`[A-Za-z0-9+/_=-]{12,}`)

// tokenLeak returns how line shows token ("" when it does not): plain,
// JSON- or Go-escaped, percent-encoded, in hex, or base64 (standard or URL
// alphabet, at any alignment).
func tokenLeak(line, token string) string {
	if len(token) < minSecretPart { // a test's deliberately short bad token would match anything
		return ""
	}
	parts := secretParts(token)
	plain := unquote.Replace(line)
	for _, p := range parts {
		if q := percentEncoded(p); q != p && strings.Contains(line, q) {
			return "percent-encoded"
		}
		p = unquote.Replace(p)
		if strings.Contains(plain, p) {
			return "in plain text"
		}
		if strings.Contains(strings.ToLower(line), strings.ToLower(hex.EncodeToString([]byte(p)))) {
			return "in hex"
		}
	}
	for _, run := range encodedRun.FindAllString(line, -1) {
		run = strings.TrimRight(run, "=")
		for skip := 0; skip < 4 && skip < len(run); skip++ {
			r := run[skip:]
			if len(r)%4 == 1 { // a lone trailing character decodes to nothing
				r = r[:len(r)-1]
			}
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				b, err := enc.DecodeString(r)
				if err != nil {
					continue
				}
				b = []byte(unquote.Replace(string(b)))
				for _, p := range parts {
					if bytes.Contains(b, []byte(unquote.Replace(p))) {
						return "in base64"
					}
				}
			}
		}
	}
	return ""
}

// percentEncoded is s with every byte outside [A-Za-z0-9._~-] as %XX.
func percentEncoded(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._~-", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// checkNoToken fails the test if the gateway's stdout or stderr showed
// token in any form; it names the form and the line (with the token
// masked), never the token.
func (g *gatewayProc) checkNoToken(token string) {
	g.t.Helper()
	for stream, lines := range map[string][]string{"stderr": g.stderr(), "stdout": g.stdoutLines()} {
		for i, line := range lines {
			if how := tokenLeak(line, token); how != "" {
				g.t.Errorf("token guard: the gateway's %s line %d shows the bot token %s (DESIGN §8: the token never reaches a log): %s",
					stream, i+1, how, maskToken(line, token))
			}
		}
	}
}

// maskToken hides the plain forms of token in line, for the failure message.
func maskToken(line, token string) string {
	for _, p := range secretParts(token) {
		line = strings.ReplaceAll(line, p, "[TOKEN]")
	}
	return line
}

// withDebug is vars with CORDIS_DEBUG=true added unless it is set (to ""
// for the default level): the guard sees what debug records would print.
func withDebug(vars map[string]string) map[string]string {
	if _, ok := vars["CORDIS_DEBUG"]; ok {
		return vars
	}
	out := map[string]string{"CORDIS_DEBUG": "true"}
	for k, v := range vars {
		out[k] = v
	}
	return out
}

// lineWriter is an io.Writer (a gateway's stdout) that hands each
// complete line to line; flush hands over the rest.
type lineWriter struct {
	mu      sync.Mutex
	line    func(string)
	partial []byte
}

func newLineWriter(line func(string)) *lineWriter { return &lineWriter{line: line} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.line(string(w.partial))
		w.partial = nil
	}
}

func (g *gatewayProc) addStdout(line string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.out = append(g.out, line)
}

func (g *gatewayProc) stdoutLines() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.out...)
}
