// Package amqpurl reads CORDIS_AMQP_HOST's URL once for both RabbitMQ connections: the
// fields and query settings amqp091-go's DialConfig honours (amqp.ParseURI, same
// errors), what ParseURI parses but does not export (whether heartbeat was given),
// frame_max (RabbitMQ's URI query parameter, which amqp091-go v1.16 does not read: the
// broker hands it to amqp091 as Config.FrameSize), and the TLS configuration an amqps
// URL describes, built by amqp091's rules. The broker builds that TLS configuration
// once and gives the same one to both connections, so an operator's URL means the
// same thing to each.
package amqpurl

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Mechanism names, upper case as RabbitMQ offers them in connection.start.
const (
	Plain    = "PLAIN"
	AMQPlain = "AMQPLAIN"
	External = "EXTERNAL"
)

// URL is a parsed AMQP URL.
type URL struct {
	amqp.URI

	// Heartbeat is the heartbeat query setting when HeartbeatSet: it replaces the
	// client's proposal, 0 included (0 proposes none: the server's value then wins,
	// as in amqp091's negotiation).
	Heartbeat    time.Duration
	HeartbeatSet bool

	// FrameMax is the frame_max query setting when FrameMaxSet (0 proposes no limit).
	FrameMax    uint32
	FrameMaxSet bool

	// ConnectionTimeout is connection_timeout (given in milliseconds), 0 when unset.
	ConnectionTimeout time.Duration

	// Mechanisms are the SASL mechanisms to offer, in the client's order of
	// preference: auth_mechanism upper-cased, or PLAIN when unset (amqp091's setSASL).
	Mechanisms []string
}

// Parse parses raw as amqp091's ParseURI does, plus what ParseURI leaves out; an
// auth_mechanism other than PLAIN, AMQPLAIN or EXTERNAL is an error, as it is for
// amqp091's DialConfig. Errors never carry the URL (it holds the password).
func Parse(raw string) (URL, error) {
	uri, err := amqp.ParseURI(raw)
	if err != nil {
		return URL{}, err
	}
	u := URL{URI: uri}
	// ParseURI succeeded, so url.Parse does too.
	pu, err := url.Parse(raw)
	if err != nil {
		return URL{}, err
	}
	q := pu.Query()
	if q.Has("heartbeat") {
		// ParseURI checked it is a uint16.
		s, _ := strconv.ParseUint(q.Get("heartbeat"), 10, 16)
		u.Heartbeat, u.HeartbeatSet = time.Duration(s)*time.Second, true
	}
	if q.Has("frame_max") {
		v, err := strconv.ParseUint(q.Get("frame_max"), 10, 32)
		if err != nil {
			return URL{}, fmt.Errorf("frame_max is not an uint32: %w", err)
		}
		u.FrameMax, u.FrameMaxSet = uint32(v), true
	}
	if uri.ConnectionTimeout < 0 {
		return URL{}, fmt.Errorf("connection_timeout %d is negative", uri.ConnectionTimeout)
	}
	u.ConnectionTimeout = time.Duration(uri.ConnectionTimeout) * time.Millisecond
	if uri.AuthMechanism == nil {
		u.Mechanisms = []string{Plain}
	}
	for _, m := range uri.AuthMechanism {
		switch up := strings.ToUpper(m); up {
		case Plain, AMQPlain, External:
			u.Mechanisms = append(u.Mechanisms, up)
		default:
			return URL{}, fmt.Errorf("unsupported auth_mechanism %q: want plain, amqplain or external", m)
		}
	}
	return u, nil
}

// TLSConfig returns the TLS client configuration of an amqps URL, nil for amqp (whose
// TLS settings are ignored, as amqp091 ignores them): RootCAs from cacertfile, or the
// system pool; the client key pair when both certfile and keyfile are set; ServerName
// from server_name_indication, or the URL's host; TLS 1.2 at least. Unlike amqp091's,
// ServerName is always set, so that amqp091 never writes to the shared configuration,
// and a CA file without one certificate is an error rather than a pool that trusts
// nothing. Errors name the file.
func (u URL) TLSConfig() (*tls.Config, error) {
	if u.Scheme != "amqps" {
		return nil, nil
	}
	var pool *x509.CertPool
	if u.CACertFile != "" {
		data, err := os.ReadFile(u.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("read cacertfile: %w", err) // *PathError names the file
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("cacertfile %s: no PEM certificate in it", u.CACertFile)
		}
	} else {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("load system certificates: %w", err)
		}
		pool = sys
	}
	cfg := &tls.Config{
		RootCAs:    pool,
		ServerName: u.ServerName,
		MinVersion: tls.VersionTLS12,
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Host
	}
	if u.CertFile != "" && u.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(u.CertFile, u.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate (certfile %s, keyfile %s): %w", u.CertFile, u.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
