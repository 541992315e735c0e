package config

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/cordis-gateway/cordis/src/broker/amqpurl"
)

const (
	acceptedAMQP    = "host, host:port, or a URL amqp://user:pass@host:port/vhost or amqps://..."
	defaultAMQPPort = "5672"
)

// parseAMQP turns CORDIS_AMQP_HOST into a full URL. A bare host or
// host:port gets RabbitMQ's default guest account, as the reference
// implementation does.
func parseAMQP(s string) (string, error) {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Hostname() == "" || !validPort(u.Port(), true) {
			return "", accepted(acceptedAMQP)
		}
		if err := checkAMQPSettings(s); err != nil {
			if pass, ok := u.User.Password(); ok && pass != "" { // belt and braces
				err = errors.New(strings.ReplaceAll(err.Error(), pass, "[redacted]"))
			}
			return "", err
		}
		return s, nil
	}
	host, port := s, defaultAMQPPort
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"): // [::1]
		host = s[1 : len(s)-1]
	case net.ParseIP(s) != nil: // 10.0.0.1 or a bare ::1
	case strings.Contains(s, ":"):
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", accepted(acceptedAMQP)
		}
		host, port = h, p
	}
	if !validHost(host) || !validPort(port, false) {
		return "", accepted(acceptedAMQP)
	}
	return "amqp://guest:guest@" + net.JoinHostPort(host, port) + "/", nil
}

// checkAMQPSettings checks the URL's query settings (heartbeat, channel_max, frame_max,
// connection_timeout, auth_mechanism) and, for amqps, that the certificate files it
// names can be loaded, as the broker will load them: a wrong path must stop the start,
// not turn into endless reconnect attempts.
func checkAMQPSettings(s string) error {
	u, err := amqpurl.Parse(s)
	if err == nil {
		_, err = u.TLSConfig()
	}
	if err != nil {
		// The messages name settings and files, never the URL's userinfo.
		return errors.New(acceptedAMQP + ", whose query settings (README) are valid and name readable certificate files: " + err.Error())
	}
	return nil
}

// validHost accepts an IP address or a DNS-like name; it exists to catch
// pasted URLs without a scheme ("user:pass@host", "host/vhost").
func validHost(h string) bool {
	if h == "" {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for i := 0; i < len(h); i++ {
		if !isHostChar(h[i]) {
			return false
		}
	}
	return true
}

func isHostChar(c byte) bool {
	return c == '-' || c == '.' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// validPort accepts 1..65535; an empty port is accepted only if optional.
func validPort(p string, optional bool) bool {
	if p == "" {
		return optional
	}
	if !isDigits(p) {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

const acceptedRedis = "a URL redis://[user:pass@]host[:port][/db] or rediss://..."

func parseRedisURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Hostname() == "" || !validPort(u.Port(), true) {
		return "", accepted(acceptedRedis)
	}
	// The path selects the database; anything else would fail later, at
	// connect time, which is too late to report it with the other problems.
	if db := strings.TrimPrefix(u.Path, "/"); db != "" && !isDigits(db) {
		return "", accepted(acceptedRedis)
	}
	return s, nil
}

const acceptedDiscordAPI = "an http:// or https:// URL without query, e.g. https://discord.com/api/v10"

func parseDiscordAPI(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
		!validPort(u.Port(), true) || u.RawQuery != "" || u.Fragment != "" {
		return "", accepted(acceptedDiscordAPI)
	}
	// "/gateway/bot" is appended to it.
	return strings.TrimRight(s, "/"), nil
}

func parseMetricsAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || !validPort(port, false) || (host != "" && !validHost(host)) {
		return "", accepted("host:port or :port, e.g. :9090")
	}
	return s, nil
}

// redactUserinfo hides everything between the scheme and the last '@', so
// no error or log line shows a broker or Redis password, even for values
// that are not valid URLs.
func redactUserinfo(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return s[:start] + "[redacted]" + s[at:]
}
