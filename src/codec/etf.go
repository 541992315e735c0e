package codec

import (
	"errors"
	"fmt"
	"time"
)

// ETF is Erlang's external term format, the gateway's default encoding.
type ETF struct{}

// Name implements Codec.
func (ETF) Name() string { return "etf" }

// ContentType implements Codec.
func (ETF) ContentType() string { return "application/x-erlang-binary" }

// Binary implements Codec.
func (ETF) Binary() bool { return true }

// Scan implements Codec. It walks the top-level map once: op, s and t are
// read in place, d and unknown values are skipped term by term.
func (ETF) Scan(p []byte, f *Frame) error {
	*f = Frame{}
	i, pairs, err := etfPayloadMap(p)
	if err != nil {
		return err
	}
	hasOp := false
	for ; pairs > 0; pairs-- {
		key, next, ok, err := etfText(p, i)
		if err != nil {
			return fmt.Errorf("scan etf payload key: %w", err)
		}
		i = next
		if !ok || len(key) > 2 {
			if i, err = etfSkip(p, i); err != nil {
				return fmt.Errorf("scan etf payload value: %w", err)
			}
			continue
		}
		switch string(key) {
		case "op":
			v, next, err := etfInt(p, i)
			if err != nil {
				return fmt.Errorf("scan etf op: %w", err)
			}
			if v < 0 || v > 1<<31-1 {
				return fmt.Errorf("scan etf op: %d out of range", v)
			}
			f.Op, hasOp, i = int(v), true, next
		case "s":
			if etfIsAtom(p, i, "nil") {
				f.Seq, f.HasSeq = 0, false
				i, err = etfSkip(p, i)
			} else {
				f.Seq, i, err = etfInt(p, i)
				f.HasSeq = true
			}
			if err != nil {
				return fmt.Errorf("scan etf s: %w", err)
			}
		case "t":
			if etfIsAtom(p, i, "nil") {
				if i, err = etfSkip(p, i); err != nil {
					return fmt.Errorf("scan etf t: %w", err)
				}
				break
			}
			text, next, ok, err := etfText(p, i)
			if err != nil {
				return fmt.Errorf("scan etf t: %w", err)
			}
			if !ok {
				return fmt.Errorf("scan etf t: tag %d is neither atom nor binary", p[i])
			}
			f.T, i = text, next
		case "d":
			start := i
			if i, err = etfSkip(p, i); err != nil {
				return fmt.Errorf("scan etf d: %w", err)
			}
			f.D = p[start:i:i]
		default:
			if i, err = etfSkip(p, i); err != nil {
				return fmt.Errorf("scan etf payload value: %w", err)
			}
		}
	}
	if i != len(p) {
		return fmt.Errorf("scan etf payload: %d bytes after the term", len(p)-i)
	}
	if !hasOp {
		return errors.New("scan etf payload: no op")
	}
	return nil
}

// etfPayloadMap checks the version byte and the top-level map header and
// returns where its pairs start and how many there are.
func etfPayloadMap(p []byte) (i, pairs int, err error) {
	if len(p) == 0 {
		return 0, 0, errors.New("empty etf payload")
	}
	if p[0] != etfVersion {
		return 0, 0, fmt.Errorf("etf version byte is %d, want %d", p[0], etfVersion)
	}
	if len(p) < 6 || p[1] != etfMap {
		return 0, 0, errors.New("etf payload is not a map")
	}
	return 6, int(uint32(p[2])<<24 | uint32(p[3])<<16 | uint32(p[4])<<8 | uint32(p[5])), nil
}

// etfFields calls visit with each key of the map at i that is an atom or a
// binary, and the index of its value; it returns the index after the map.
func etfFields(b []byte, i int, visit func(key []byte, v int) error) (int, error) {
	if !need(b, i, 5) {
		return 0, errTruncated
	}
	if b[i] != etfMap {
		return 0, fmt.Errorf("tag %d is not a map", b[i])
	}
	pairs := int(uint32(b[i+1])<<24 | uint32(b[i+2])<<16 | uint32(b[i+3])<<8 | uint32(b[i+4]))
	i += 5
	for ; pairs > 0; pairs-- {
		key, next, ok, err := etfText(b, i)
		if err != nil {
			return 0, err
		}
		if ok {
			if err := visit(key, next); err != nil {
				return 0, fmt.Errorf("field %q: %w", key, err)
			}
		}
		if i, err = etfSkip(b, next); err != nil {
			return 0, err
		}
	}
	return i, nil
}

// HelloInterval implements Codec.
func (ETF) HelloInterval(d []byte) (time.Duration, error) {
	ms := int64(-1)
	_, err := etfFields(d, 0, func(key []byte, v int) error {
		if string(key) != "heartbeat_interval" {
			return nil
		}
		var err error
		ms, _, err = etfInt(d, v)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read etf hello: %w", err)
	}
	return helloDuration(ms)
}

// helloDuration checks a heartbeat_interval (ms; -1 when absent).
func helloDuration(ms int64) (time.Duration, error) {
	if ms <= 0 || ms > int64(time.Hour/time.Millisecond) {
		return 0, fmt.Errorf("hello heartbeat_interval %d ms missing or out of range", ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Ready implements Codec.
func (ETF) Ready(d []byte) (Ready, error) {
	var r Ready
	_, err := etfFields(d, 0, func(key []byte, v int) error {
		switch string(key) {
		case "session_id", "resume_gateway_url":
			text, _, ok, err := etfText(d, v)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("tag %d is not a binary", d[v])
			}
			if string(key) == "session_id" {
				r.SessionID = string(text)
			} else {
				r.ResumeURL = string(text)
			}
		case "guilds":
			switch {
			case v >= len(d):
				return errTruncated
			case d[v] == etfNil:
				r.Guilds = 0
			case d[v] == etfList && need(d, v, 5):
				r.Guilds = int(uint32(d[v+1])<<24 | uint32(d[v+2])<<16 | uint32(d[v+3])<<8 | uint32(d[v+4]))
			default:
				return fmt.Errorf("tag %d is not a list", d[v])
			}
		}
		return nil
	})
	if err != nil {
		return Ready{}, fmt.Errorf("read etf ready: %w", err)
	}
	if r.SessionID == "" || r.ResumeURL == "" {
		return Ready{}, errors.New("read etf ready: session_id or resume_gateway_url missing")
	}
	return r, nil
}

// Resumable implements Codec. A null d reads as false: identifying afresh
// is the safe answer to an unclear invalid session.
func (ETF) Resumable(d []byte) (bool, error) {
	switch {
	case etfIsAtom(d, 0, "true"):
		return true, nil
	case etfIsAtom(d, 0, "false"), etfIsAtom(d, 0, "nil"):
		return false, nil
	}
	return false, errors.New("read etf invalid session: d is not a boolean")
}
