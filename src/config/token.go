package config

import "strings"

const acceptedToken = `a Discord bot token (printable ASCII without spaces), optionally prefixed with "Bot "`

// token reads CORDIS_AUTH. The value is never put in an error: a bad one
// is reported as [redacted].
func (l *loader) token() Secret {
	v, ok := l.get(varAuth)
	if !ok {
		l.fail(varAuth, "", acceptedToken)
		return Secret{}
	}
	t := stripBot(v)
	l.secret = t
	if !validToken(t) {
		l.fail(varAuth, "[redacted]", acceptedToken)
		return Secret{}
	}
	return NewSecret(t)
}

// stripBot removes the "Bot " prefix operators often copy along with the
// token; the gateway adds it back where Discord wants it.
func stripBot(v string) string {
	if strings.EqualFold(v, "bot") {
		return ""
	}
	if len(v) > 4 && strings.EqualFold(v[:4], "bot ") {
		return strings.TrimSpace(v[4:])
	}
	return v
}

// validToken refuses what cannot go into an HTTP header or would be a
// copy-paste accident (spaces, quotes around nothing, control characters).
func validToken(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return false
		}
	}
	return true
}
