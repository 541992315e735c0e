package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The parsers below turn one trimmed, non-empty value into its typed form.
// Their error is what is accepted; Load makes it an *Error with the
// variable name and the value.

// accepted is a parser's error: the text for Error.Accepted.
type accepted string

func (a accepted) Error() string { return string(a) }

const acceptedBool = "true, false, 1, 0, yes or no (any case)"

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, accepted(acceptedBool)
}

// intRange returns a parser for a decimal integer in [lo, hi].
func intRange(lo, hi int) func(string) (int, error) {
	want := accepted(fmt.Sprintf("an integer from %d to %d", lo, hi))
	if hi == math.MaxInt {
		want = accepted(fmt.Sprintf("an integer >= %d", lo))
	}
	return func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, want
		}
		return n, nil
	}
}

const acceptedDuration = "a positive Go duration (15s, 1m30s) or a whole number of milliseconds (15000)"

// parseDuration accepts a Go duration or a bare integer of milliseconds,
// the form other Cordis implementations use.
func parseDuration(s string) (time.Duration, error) {
	if isDigits(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms <= 0 || ms > math.MaxInt64/int64(time.Millisecond) {
			return 0, accepted(acceptedDuration)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, accepted(acceptedDuration)
	}
	return d, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

const acceptedCompress = "true (= zlib-stream), false (no compression), zlib-stream or zstd-stream"

func parseCompress(s string) (string, error) {
	switch strings.ToLower(s) {
	case CompressZlib:
		return CompressZlib, nil
	case CompressZstd:
		return CompressZstd, nil
	}
	on, err := parseBool(s)
	if err != nil {
		return "", accepted(acceptedCompress)
	}
	if on {
		return CompressZlib, nil
	}
	return CompressNone, nil
}

func parseEncoding(s string) (string, error) {
	switch strings.ToLower(s) {
	case EncodingETF:
		return EncodingETF, nil
	case EncodingJSON:
		return EncodingJSON, nil
	}
	return "", accepted("etf or json")
}
