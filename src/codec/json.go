package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// JSON is the gateway's text encoding.
type JSON struct{}

// ErrEscapedEvent is returned by JSON.Scan when t contains escapes: Frame.T
// must alias the payload, and an event name is a plain identifier, so an
// escaped one is refused rather than decoded into a copy.
var ErrEscapedEvent = errors.New("event name contains escapes")

// Name implements Codec.
func (JSON) Name() string { return "json" }

// ContentType implements Codec.
func (JSON) ContentType() string { return "application/json" }

// Binary implements Codec.
func (JSON) Binary() bool { return false }

// Scan implements Codec. Values other than op, s and t are skipped, with
// their structure checked but not their string contents.
//
// Discord writes d last ({"t":…,"s":…,"op":0,"d":{…}}). When op, s and t
// have all been read, d comes next as an object and the payload ends with
// the two closing braces that shape needs, a dispatch other than READY is
// complete: Scan stops there, leaving D nil and d unread. That skips the
// bulk of every event; the gateway forwards a dispatch as it came and reads
// the d of READY only. A payload cut short is still an error unless it
// happens to end in "}}".
func (JSON) Scan(p []byte, f *Frame) error {
	*f = Frame{}
	i := jsonWS(p, 0)
	if i >= len(p) || p[i] != '{' {
		return errors.New("scan json payload: not an object")
	}
	i = jsonWS(p, i+1)
	hasOp, hasS, hasT := false, false, false
	for i >= len(p) || p[i] != '}' {
		raw, esc, next, err := jsonString(p, i)
		if err != nil {
			return fmt.Errorf("scan json payload key: %w", err)
		}
		i = jsonWS(p, next)
		if i >= len(p) || p[i] != ':' {
			return fmt.Errorf("scan json payload: expected ':' at offset %d", i)
		}
		i = jsonWS(p, i+1)
		if i >= len(p) {
			return fmt.Errorf("scan json payload: %w", errJSONEnd)
		}
		switch {
		case jsonKeyIs(raw, esc, "op"):
			v, next, err := jsonInt(p, i)
			if err != nil {
				return fmt.Errorf("scan json op: %w", err)
			}
			if v < 0 || v > math.MaxInt32 {
				return fmt.Errorf("scan json op: %d out of range", v)
			}
			f.Op, hasOp, i = int(v), true, next
		case jsonKeyIs(raw, esc, "s"):
			hasS = true
			if p[i] == 'n' {
				f.Seq, f.HasSeq = 0, false
				i, err = jsonSkip(p, i)
			} else {
				f.Seq, i, err = jsonInt(p, i)
				f.HasSeq = true
			}
			if err != nil {
				return fmt.Errorf("scan json s: %w", err)
			}
		case jsonKeyIs(raw, esc, "t"):
			hasT = true
			if p[i] == 'n' {
				f.T = nil
				i, err = jsonSkip(p, i)
				if err != nil {
					return fmt.Errorf("scan json t: %w", err)
				}
				break
			}
			t, tEsc, next, err := jsonString(p, i)
			if err != nil {
				return fmt.Errorf("scan json t: %w", err)
			}
			if tEsc {
				return fmt.Errorf("scan json t: %w", ErrEscapedEvent)
			}
			f.T, i = t, next
		case jsonKeyIs(raw, esc, "d"):
			if hasOp && hasS && hasT && f.Op == OpDispatch && p[i] == '{' && endsWithTwoBraces(p) && string(f.T) != "READY" {
				return nil
			}
			start := i
			if i, err = jsonSkip(p, i); err != nil {
				return fmt.Errorf("scan json d: %w", err)
			}
			f.D = p[start:i:i]
		default:
			if i, err = jsonSkip(p, i); err != nil {
				return fmt.Errorf("scan json payload value: %w", err)
			}
		}
		i = jsonWS(p, i)
		if i < len(p) && p[i] == ',' {
			i = jsonWS(p, i+1)
			if i < len(p) && p[i] == '}' {
				return fmt.Errorf("scan json payload: trailing comma at offset %d", i)
			}
			continue
		}
		if i >= len(p) || p[i] != '}' {
			return fmt.Errorf("scan json payload: expected ',' or '}' at offset %d", i)
		}
	}
	if i = jsonWS(p, i+1); i != len(p) {
		return fmt.Errorf("scan json payload: %d bytes after the object", len(p)-i)
	}
	if !hasOp {
		return errors.New("scan json payload: no op")
	}
	return nil
}

// endsWithTwoBraces reports whether p ends with "}", whitespace, "}" and
// whitespace: how a payload whose last value is an object ends.
func endsWithTwoBraces(p []byte) bool {
	j := len(p) - 1
	for k := 0; k < 2; k++ {
		for j >= 0 && (p[j] == ' ' || p[j] == '\t' || p[j] == '\n' || p[j] == '\r') {
			j--
		}
		if j < 0 || p[j] != '}' {
			return false
		}
		j--
	}
	return true
}

// HelloInterval implements Codec.
func (JSON) HelloInterval(d []byte) (time.Duration, error) {
	ms := int64(-1)
	_, err := jsonFields(d, 0, func(raw []byte, esc bool, v int) error {
		if !jsonKeyIs(raw, esc, "heartbeat_interval") {
			return nil
		}
		var err error
		ms, _, err = jsonInt(d, v)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read json hello: %w", err)
	}
	return helloDuration(ms)
}

// Ready implements Codec.
func (JSON) Ready(d []byte) (Ready, error) {
	var r Ready
	_, err := jsonFields(d, 0, func(raw []byte, esc bool, v int) error {
		switch {
		case jsonKeyIs(raw, esc, "session_id"), jsonKeyIs(raw, esc, "resume_gateway_url"):
			s, sEsc, _, err := jsonString(d, v)
			if err != nil {
				return err
			}
			text := string(s)
			if sEsc {
				text = string(jsonUnescape(nil, s))
			}
			if jsonKeyIs(raw, esc, "session_id") {
				r.SessionID = text
			} else {
				r.ResumeURL = text
			}
		case jsonKeyIs(raw, esc, "guilds"):
			n, err := jsonArrayLen(d, v)
			if err != nil {
				return err
			}
			r.Guilds = n
		}
		return nil
	})
	if err != nil {
		return Ready{}, fmt.Errorf("read json ready: %w", err)
	}
	if r.SessionID == "" || r.ResumeURL == "" {
		return Ready{}, errors.New("read json ready: session_id or resume_gateway_url missing")
	}
	return r, nil
}

// jsonArrayLen counts the elements of the array at i.
func jsonArrayLen(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '[' {
		return 0, fmt.Errorf("expected an array at offset %d", i)
	}
	i = jsonWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return 0, nil
	}
	for n := 1; ; n++ {
		var err error
		if i, err = jsonSkip(b, i); err != nil {
			return 0, err
		}
		i = jsonWS(b, i)
		if i >= len(b) {
			return 0, errJSONEnd
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return n, nil
		default:
			return 0, fmt.Errorf("unexpected %q at offset %d", b[i], i)
		}
	}
}

// Resumable implements Codec. A null d reads as false: identifying afresh
// is the safe answer to an unclear invalid session.
func (JSON) Resumable(d []byte) (bool, error) {
	switch i := jsonWS(d, 0); {
	case hasWord(d, i, "true"):
		return true, nil
	case hasWord(d, i, "false"), hasWord(d, i, "null"):
		return false, nil
	}
	return false, errors.New("read json invalid session: d is not a boolean")
}

func hasWord(b []byte, i int, w string) bool {
	return len(b)-i >= len(w) && string(b[i:i+len(w)]) == w && jsonWS(b, i+len(w)) == len(b)
}

// CommandOp implements Codec. encoding/json's validator checks the whole
// text (strings included) but tolerates invalid UTF-8, which Discord's
// decoder would refuse; then the top-level object is walked for op.
func (JSON) CommandOp(p []byte) (int, error) {
	if !json.Valid(p) {
		return 0, errors.New("not a single valid JSON value")
	}
	if !utf8.Valid(p) {
		return 0, errors.New("not valid UTF-8")
	}
	op := int64(-1)
	seen := false
	if _, err := jsonFields(p, 0, func(raw []byte, esc bool, v int) error {
		if !jsonKeyIs(raw, esc, "op") {
			return nil
		}
		if seen {
			return ErrDuplicateOp
		}
		seen = true
		var err error
		if op, _, err = jsonInt(p, v); err != nil {
			return fmt.Errorf("op is not an integer: %w", err)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	return commandOp(op)
}
