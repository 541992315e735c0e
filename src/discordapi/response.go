package discordapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cordis-gateway/cordis/src/config"
)

// wireGatewayBot is the JSON of GET /gateway/bot.
type wireGatewayBot struct {
	URL               string `json:"url"`
	Shards            int    `json:"shards"`
	SessionStartLimit struct {
		Total          int   `json:"total"`
		Remaining      int   `json:"remaining"`
		ResetAfter     int64 `json:"reset_after"` // milliseconds
		MaxConcurrency int   `json:"max_concurrency"`
	} `json:"session_start_limit"`
}

// parse decodes and checks a 200 answer; a bad one is not retried, since
// the same server would give the same answer.
func parse(body []byte, token config.Secret) (GatewayBot, error) {
	var w wireGatewayBot
	if err := json.Unmarshal(body, &w); err != nil {
		return GatewayBot{}, fmt.Errorf("decode response: %w", err)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return GatewayBot{}, fmt.Errorf("invalid response: url %q is not a ws:// or wss:// URL without query", hide(w.URL, token))
	}
	sl := w.SessionStartLimit
	switch {
	case w.Shards < 1:
		return GatewayBot{}, fmt.Errorf("invalid response: shards = %d, want >= 1", w.Shards)
	case sl.MaxConcurrency < 0 || sl.Total < 0 || sl.Remaining < 0 || sl.ResetAfter < 0:
		return GatewayBot{}, fmt.Errorf("invalid response: negative session_start_limit %+v", sl)
	}
	// Older answers and some proxies leave it out; 1 is the strictest pacing.
	maxConcurrency := max(sl.MaxConcurrency, 1)
	return GatewayBot{
		URL:    strings.TrimRight(w.URL, "/"),
		Shards: w.Shards,
		SessionStartLimit: SessionStartLimit{
			Total:          sl.Total,
			Remaining:      sl.Remaining,
			ResetAfter:     time.Duration(sl.ResetAfter) * time.Millisecond,
			MaxConcurrency: maxConcurrency,
		},
	}, nil
}

// StatusError is an answer other than 200, 401 and (while retrying) 429/5xx.
type StatusError struct {
	Code    int
	Message string // Discord's "message", or the start of the body
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("status %d %s", e.Code, http.StatusText(e.Code))
	}
	return fmt.Sprintf("status %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// maxMessage keeps an HTML error page from flooding the log line.
const maxMessage = 200

func statusError(resp *http.Response, body []byte, token config.Secret) error {
	var d struct {
		Message string `json:"message"`
	}
	msg := string(body)
	if json.Unmarshal(body, &d) == nil && d.Message != "" {
		msg = d.Message
	}
	msg = hide(msg, token)
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > maxMessage {
		msg = strings.ToValidUTF8(msg[:maxMessage], "") + "..."
	}
	return &StatusError{Code: resp.StatusCode, Message: msg}
}

// hide masks the token in text that came from the server: a proxy or a
// broken stand-in might echo the request back.
func hide(s string, token config.Secret) string {
	if t := token.Reveal(); t != "" {
		return strings.ReplaceAll(s, t, "[redacted]")
	}
	return s
}
