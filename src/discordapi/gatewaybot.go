// Package discordapi makes the gateway's one and only HTTP request,
// GET {base}/gateway/bot (DESIGN.md §5), retrying it until Discord answers.
package discordapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/config"
	"github.com/cordis-gateway/cordis/src/throttle"
)

// GatewayBot is Discord's answer: where to connect, how many shards it
// recommends and how many sessions may still be started.
type GatewayBot struct {
	URL               string // ws:// or wss://, without trailing slash
	Shards            int    // recommended total, >= 1
	SessionStartLimit SessionStartLimit
}

// SessionStartLimit paces IDENTIFY (DESIGN.md §4).
type SessionStartLimit struct {
	Total          int
	Remaining      int
	ResetAfter     time.Duration
	MaxConcurrency int // >= 1
}

// ErrUnauthorized is returned, wrapped, when Discord answers 401: the token
// is wrong and retrying cannot help, so the service exits non-zero.
var ErrUnauthorized = errors.New("Discord rejected the token (401 Unauthorized): check CORDIS_AUTH") //nolint:staticcheck // Discord is a name

// maxBody bounds what is read of any answer; the real one is ~200 bytes.
const maxBody = 1 << 20

// defaultTimeout bounds one attempt when the caller passes no client.
const defaultTimeout = 30 * time.Second

// GetGatewayBot asks Discord for the gateway URL and limits. It retries on
// network errors and 5xx (capped exponential backoff, 1 s to 30 s,
// jittered) and on 429 (after the time Discord asks for, but at least 1 s
// doubling per 429 up to 60 s) until ctx ends; warnings are throttled;
// 401 gives ErrUnauthorized, any other status an error at once. Redirects
// are not followed: that would be a second request. A nil client means one
// with a 30 s timeout per attempt.
func GetGatewayBot(ctx context.Context, client *http.Client, base string, token config.Secret, opts ...Option) (GatewayBot, error) {
	o := newOptions(opts)
	endpoint := strings.TrimRight(base, "/") + "/gateway/bot"
	shown := redactURL(endpoint)
	c := noRedirects(client)

	failures, limited := 0, 0
	warn := throttle.New(o.clock, warnEvery)
	for {
		gb, err := fetch(ctx, c, endpoint, token, o.version)
		if err == nil {
			return gb, nil
		}
		var r *retryable
		if !errors.As(err, &r) {
			return GatewayBot{}, fmt.Errorf("GET %s: %w", shown, err)
		}
		var wait time.Duration
		if r.limited {
			wait = rateLimitDelay(limited, o.jitter(), r.after)
			limited++
		} else {
			wait = retryDelay(failures, o.jitter())
			failures++
		}
		if ok, suppressed := warn.Allow(); ok && o.log != nil {
			attrs := []slog.Attr{slog.String("url", shown), slog.Any("error", r.err), slog.Duration("retry_in", wait)}
			if r.limited {
				attrs = append(attrs, slog.Bool("global", r.global), slog.Duration("retry_after", r.after))
			}
			if suppressed > 0 {
				attrs = append(attrs, slog.Int("suppressed", suppressed))
			}
			o.log.LogAttrs(ctx, slog.LevelWarn, "GET /gateway/bot failed, retrying", attrs...)
		}
		if err := clock.Sleep(ctx, o.clock, wait); err != nil {
			return GatewayBot{}, fmt.Errorf("GET %s: %w (last failure: %w)", shown, err, r.err)
		}
	}
}

// fetch makes one attempt. Errors worth retrying are *retryable.
func fetch(ctx context.Context, client *http.Client, endpoint string, token config.Secret, version string) (GatewayBot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return GatewayBot{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bot "+token.Reveal())
	req.Header.Set("User-Agent", UserAgent(version))

	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return GatewayBot{}, ctx.Err()
		}
		return GatewayBot{}, &retryable{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))

	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		if err != nil {
			return GatewayBot{}, &retryable{err: fmt.Errorf("read response: %w", err)}
		}
		return parse(body, token)
	case code == http.StatusUnauthorized:
		return GatewayBot{}, ErrUnauthorized
	case code == http.StatusTooManyRequests:
		after, global := retryAfter(resp.Header, body)
		return GatewayBot{}, &retryable{err: statusError(resp, body, token), after: after, limited: true, global: global}
	case code >= 500:
		return GatewayBot{}, &retryable{err: statusError(resp, body, token)}
	default:
		return GatewayBot{}, statusError(resp, body, token)
	}
}

// noRedirects returns a copy of client (or a default one) that hands a
// redirect back instead of following it.
func noRedirects(client *http.Client) *http.Client {
	c := http.Client{Timeout: defaultTimeout}
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// UserAgent is the User-Agent Discord asks bots to send.
func UserAgent(version string) string {
	return "DiscordBot (https://github.com/cordis-gateway/cordis, " + version + ")"
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "/gateway/bot"
	}
	return u.Redacted()
}
