package discordapi

import (
	"log/slog"
	"math/rand/v2"
	"runtime/debug"

	"github.com/cordis-gateway/cordis/src/clock"
)

// Option adjusts GetGatewayBot.
type Option func(*options)

type options struct {
	clock   clock.Clock
	version string
	log     *slog.Logger
	jitter  func() float64 // in [0,1); tests fix it
}

// WithClock sets the clock the retries wait on (clock.Fake in tests).
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithVersion sets the version in the User-Agent; by default the module
// version from the build info, or "dev".
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithLogger logs every failed attempt at Warn before retrying.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func newOptions(opts []Option) options {
	o := options{clock: clock.Real(), version: buildVersion(), jitter: rand.Float64}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
