package config

import "fmt"

// Error is one configuration problem: which variable, the value it had and
// what would have been accepted. Error() is one line an operator can act on.
type Error struct {
	Var      string
	Value    string // "" = unset; never the token, URLs have their userinfo redacted
	Accepted string
}

func (e *Error) Error() string {
	switch {
	case e.Var == varAuth && e.Value != "":
		// Belt and braces: whatever was put in Value, the token is never shown.
		return fmt.Sprintf("%s=[redacted]: accepted: %s", e.Var, e.Accepted)
	case e.Value == "":
		return fmt.Sprintf("%s is not set: accepted: %s", e.Var, e.Accepted)
	default:
		return fmt.Sprintf("%s=%q: accepted: %s", e.Var, e.Value, e.Accepted)
	}
}
