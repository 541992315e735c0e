package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/cordis-gateway/cordis/src/broker/amqpurl"
)

// Content types accepted in Options.ContentType.
const (
	ContentTypeJSON = "application/json"
	ContentTypeETF  = "application/x-erlang-binary"
)

// Topology names and defaults (DESIGN.md §3).
const (
	ExchangeGateway  = "gateway"
	ExchangeCommands = "gateway_commands"
	// HeaderShardID is the header carrying the shard id on dispatches and, optionally,
	// on commands (targeting one shard).
	HeaderShardID = "shard_id"

	DefaultMaxBufferBytes = 64 << 20
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = 30 * time.Second
)

// ErrClosed is returned by Publish once Close has begun.
var ErrClosed = errors.New("broker closed")

// Options configures Connect.
type Options struct {
	URL                    string        // amqp:// or amqps:// URL
	ContentType            string        // ContentTypeJSON or ContentTypeETF
	MaxBufferBytes         int           // bound on the memory held by queued + unconfirmed dispatches (bodies in their size-class buffers plus per-dispatch overhead); default 64 MiB
	MinBackoff, MaxBackoff time.Duration // reconnect backoff, default 1s..30s, jittered
	Logger                 *slog.Logger

	// OnConfirm, if set, is called once per dispatch RabbitMQ confirmed, with the ref
	// given to Publish and the time from Publish to the confirm (metrics; the shard's
	// confirmed sequence). It runs on the publisher goroutine: it must be quick and
	// must not block.
	OnConfirm func(shardID int, event string, ref int64, latency time.Duration)
	// OnDrop, if set, is called for a dispatch given up for good (RabbitMQ refused it
	// as larger than its max_message_size), with the ref given to Publish: it will
	// never be confirmed, and waiting for it would stall the shard's confirmed
	// sequence. Same goroutine rules as OnConfirm.
	OnDrop func(shardID int, event string, ref int64)

	stall time.Duration // stallTimeout, shorter in tests

	// Set by withDefaults from URL, for both connections of every session.
	url              amqpurl.URL
	tls              *tls.Config // amqps: built once, shared by both connections; nil for amqp
	dialTimeout      time.Duration
	handshakeTimeout time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxBufferBytes <= 0 {
		o.MaxBufferBytes = DefaultMaxBufferBytes
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.stall <= 0 {
		o.stall = stallTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch o.ContentType {
	case ContentTypeJSON, ContentTypeETF:
	default:
		return o, fmt.Errorf("content type %q: want %q or %q", o.ContentType, ContentTypeJSON, ContentTypeETF)
	}
	// Parse once up front: a malformed URL, or an unreadable certificate, is a
	// configuration error, not something retrying can fix.
	u, err := amqpurl.Parse(o.URL)
	if err != nil {
		return o, fmt.Errorf("amqp url %s: %w", redactURL(o.URL), redactErr(o.URL, err))
	}
	// One TLS configuration for both connections: they must trust, present and check
	// the same certificates (amqp091 would otherwise build its own from the URL).
	if o.tls, err = u.TLSConfig(); err != nil {
		return o, fmt.Errorf("amqp url %s: %w", redactURL(o.URL), redactErr(o.URL, err))
	}
	o.url = u
	// connection_timeout means to both connections what it means to amqp091 when
	// it dials itself: the bound on dialling and on the TLS + AMQP handshake.
	o.dialTimeout, o.handshakeTimeout = dialTimeout, handshakeTimeout
	if u.ConnectionTimeout > 0 {
		o.dialTimeout, o.handshakeTimeout = u.ConnectionTimeout, u.ConnectionTimeout
	}
	return o, nil
}

// redactURL returns the URL with any password replaced, for logs and errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	return u.Redacted()
}

// redactErr makes sure an error text never carries the URL's password: the library's
// errors do not today, but a log line is forever.
func redactErr(rawURL string, err error) error {
	if err == nil {
		return nil
	}
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return err
	}
	pass, ok := u.User.Password()
	if !ok || pass == "" || !strings.Contains(err.Error(), pass) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pass, "xxxxx"))
}

// UnconfirmedError is returned by Close when ctx ended before every dispatch was confirmed.
type UnconfirmedError struct {
	Messages int   // dispatches queued or published but not confirmed
	Bytes    int   // their body bytes
	Err      error // why Close stopped waiting (ctx's error)
}

func (e *UnconfirmedError) Error() string {
	return fmt.Sprintf("close: %d dispatches (%d bytes) left unconfirmed: %v", e.Messages, e.Bytes, e.Err)
}

func (e *UnconfirmedError) Unwrap() error { return e.Err }
