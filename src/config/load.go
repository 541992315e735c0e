package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// Load reads and validates every variable of DESIGN.md §2. lookup is
// os.LookupEnv in production; an empty value counts as unset. All problems
// are returned together (errors.Join of *Error, one per line) so that the
// operator can fix everything in one go.
func Load(lookup func(string) (string, bool)) (*Config, error) {
	l := &loader{lookup: lookup, failed: map[string]bool{}}
	c := &Config{
		Token:            l.token(),
		AMQPURL:          required(l, varAMQPHost, acceptedAMQP, parseAMQP),
		Debug:            optional(l, varDebug, false, parseBool),
		ShardCount:       optional(l, varShardCount, 0, intRange(1, math.MaxInt)),
		StartingShard:    optional(l, varStartingShard, 0, intRange(0, math.MaxInt)),
		TotalShardCount:  optional(l, varTotalShardCount, 0, intRange(1, math.MaxInt)),
		RedisURL:         optional(l, varRedisURL, "", parseRedisURL),
		Compress:         optional(l, varCompress, DefaultCompress, parseCompress),
		Encoding:         optional(l, varEncoding, DefaultEncoding, parseEncoding),
		OpenTimeout:      optional(l, varOpenTimeout, DefaultOpenTimeout, parseDuration),
		HelloTimeout:     optional(l, varHelloTimeout, DefaultHelloTimeout, parseDuration),
		ReadyTimeout:     optional(l, varReadyTimeout, DefaultReadyTimeout, parseDuration),
		GuildTimeout:     optional(l, varGuildTimeout, DefaultGuildTimeout, parseDuration),
		ReconnectTimeout: optional(l, varReconnectTimeout, DefaultReconnectTimeout, parseDuration),
		LargeThreshold:   optional(l, varLargeThreshold, DefaultLargeThreshold, intRange(minLargeThreshold, maxLargeThreshold)),
		Intents:          optional(l, varIntents, DefaultIntents, ParseIntents),
		DiscordAPI:       optional(l, varDiscordAPI, DefaultDiscordAPI, parseDiscordAPI),
		MetricsAddr:      optional(l, varMetricsAddr, "", parseMetricsAddr),
	}
	// The shard range can only be checked where both ends are known; with
	// Discord's recommendation involved, Resolve checks the rest.
	if c.TotalShardCount > 0 && l.ok(varStartingShard, varShardCount, varTotalShardCount) {
		if err := checkRange(c.StartingShard, c.ShardCount, c.TotalShardCount, varTotalShardCount+"="+strconv.Itoa(c.TotalShardCount)); err != nil {
			l.errs = append(l.errs, err)
		}
	}
	if len(l.errs) > 0 {
		l.hideToken()
		return nil, errors.Join(l.errs...)
	}
	return c, nil
}

// loader collects the problems of one Load.
type loader struct {
	lookup func(string) (string, bool)
	errs   []error
	failed map[string]bool
	secret string // CORDIS_AUTH without "Bot ", valid or not
}

// minHiddenToken: shorter CORDIS_AUTH values are not searched for in other
// values, since masking every "ab" would only garble the messages.
const minHiddenToken = 8

// hideToken masks the token in the other variables' values, for when it
// was pasted into the wrong one.
func (l *loader) hideToken() {
	if len(l.secret) < minHiddenToken {
		return
	}
	for _, err := range l.errs {
		var e *Error
		if errors.As(err, &e) {
			e.Value = strings.ReplaceAll(e.Value, l.secret, "[redacted]")
		}
	}
}

// get returns the trimmed value of name; ok is false when unset or empty.
func (l *loader) get(name string) (string, bool) {
	v, ok := l.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (l *loader) fail(name, value, accepted string) {
	l.errs = append(l.errs, &Error{Var: name, Value: redactUserinfo(value), Accepted: accepted})
	l.failed[name] = true
}

// ok reports whether none of the names had a bad value, so that a
// cross-check does not repeat a problem already reported.
func (l *loader) ok(names ...string) bool {
	for _, n := range names {
		if l.failed[n] {
			return false
		}
	}
	return true
}

func (l *loader) add(name, value string, err error) {
	var e *Error
	if errors.As(err, &e) {
		l.errs = append(l.errs, e)
		l.failed[name] = true
		return
	}
	l.fail(name, value, err.Error())
}

func optional[T any](l *loader, name string, def T, parse func(string) (T, error)) T {
	v, ok := l.get(name)
	if !ok {
		return def
	}
	out, err := parse(v)
	if err != nil {
		l.add(name, v, err)
		return def
	}
	return out
}

func required[T any](l *loader, name, accepted string, parse func(string) (T, error)) T {
	if _, ok := l.get(name); !ok {
		var zero T
		l.fail(name, "", accepted)
		return zero
	}
	var zero T
	return optional(l, name, zero, parse)
}
