package broker

import (
	"context"
	"crypto/tls"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/cordis-gateway/cordis/src/broker/amqpurl/testcerts"
)

func TestBothConnectionsGetTheSameTLSConfigBuiltOnceFromTheURL(t *testing.T) {
	certs := testcerts.New(t, "rabbit.test")
	q := url.Values{"cacertfile": {certs.CAFile}, "certfile": {certs.CertFile}, "keyfile": {certs.KeyFile},
		"server_name_indication": {"rabbit.test"}}
	opts, err := Options{URL: "amqps://user:secret@10.0.0.1/vh?" + q.Encode(), ContentType: ContentTypeJSON}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	cmd := commandConfig(&opts, nil)
	pub := publishConfig(&opts, nil, nil)
	if cmd.TLSClientConfig == nil || cmd.TLSClientConfig != pub.TLS {
		t.Fatalf("amqp091 TLS config %p, amqppub TLS config %p: want one and the same", cmd.TLSClientConfig, pub.TLS)
	}
	c := cmd.TLSClientConfig
	if c.ServerName != "rabbit.test" || c.MinVersion != tls.VersionTLS12 || len(c.Certificates) != 1 {
		t.Fatalf("server name %q, min version %x, %d client certificates", c.ServerName, c.MinVersion, len(c.Certificates))
	}
	if !c.RootCAs.Equal(certs.Pool) {
		t.Fatal("RootCAs is not the CA file's pool")
	}
	// ServerName is always set: amqp091 would otherwise write the host into the
	// config the publishing connection reads at the same time.
	opts, err = Options{URL: "amqps://rabbit.internal/?cacertfile=" + url.QueryEscape(certs.CAFile), ContentType: ContentTypeJSON}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if sn := commandConfig(&opts, nil).TLSClientConfig.ServerName; sn != "rabbit.internal" {
		t.Fatalf("server name %q, want the URL's host", sn)
	}
	// amqp: no TLS on either, whatever the query says (as amqp091 ignores it).
	opts, err = Options{URL: "amqp://rabbit/?cacertfile=/does/not/exist.pem", ContentType: ContentTypeJSON}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if commandConfig(&opts, nil).TLSClientConfig != nil || publishConfig(&opts, nil, nil).TLS != nil {
		t.Fatal("a TLS config for amqp://")
	}
}

func TestABadCertificatePathStopsConnectAtOnceNamingTheFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing-client.pem")
	certs := testcerts.New(t, "rabbit.test")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Connect(ctx, Options{ContentType: ContentTypeJSON,
		URL: "amqps://user:secret@127.0.0.1:1/?certfile=" + url.QueryEscape(missing) + "&keyfile=" + url.QueryEscape(certs.KeyFile)})
	if err == nil || !strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("connect: %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("connect took %v: a bad file is not worth retrying", time.Since(start))
	}
}

func TestFrameMaxAndConnectionTimeoutMeanTheSameToBothConnections(t *testing.T) {
	tests := []struct {
		query     string
		frameSize int           // amqp.Config.FrameSize
		timeout   time.Duration // dial and handshake, both connections
	}{
		{"", 0, handshakeTimeout}, // amqp091's default frame size, as amqppub's
		{"frame_max=65536", 65536, handshakeTimeout},
		{"frame_max=0", amqp.FrameSizeUnlimited, handshakeTimeout},
		{"connection_timeout=2500", 0, 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			opts, err := Options{URL: "amqp://rabbit/?" + tt.query, ContentType: ContentTypeJSON}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			cmd := commandConfig(&opts, nil)
			pub := publishConfig(&opts, nil, nil)
			if cmd.FrameSize != tt.frameSize {
				t.Errorf("amqp091 FrameSize = %d, want %d", cmd.FrameSize, tt.frameSize)
			}
			wantDial := dialTimeout
			if tt.timeout != handshakeTimeout {
				wantDial = tt.timeout
			}
			if opts.handshakeTimeout != tt.timeout || pub.HandshakeTimeout != tt.timeout || opts.dialTimeout != wantDial {
				t.Errorf("handshake %v (amqppub %v), dial %v; want %v, %v", opts.handshakeTimeout, pub.HandshakeTimeout, opts.dialTimeout, tt.timeout, wantDial)
			}
		})
	}
}

// Against the real broker: both connections come out of the handshake with the same
// heartbeat, channel_max and frame_max when the URL sets them.
func TestURLTuningSettingsNegotiateAlikeOnBothConnections(t *testing.T) {
	raw := testAMQPURL(t)
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	b := connectTest(t, Options{URL: raw + sep + "heartbeat=7&channel_max=50&frame_max=65536"})
	b.mu.Lock()
	s := b.sess
	b.mu.Unlock()
	if s == nil {
		t.Fatal("no session")
	}
	cmd := s.conn.Config
	if cmd.Heartbeat != 7*time.Second || s.pub.Heartbeat() != 7*time.Second {
		t.Errorf("heartbeat: amqp091 %v, amqppub %v; want 7s", cmd.Heartbeat, s.pub.Heartbeat())
	}
	if cmd.FrameSize != 65536 || s.pub.FrameMax() != 65536 {
		t.Errorf("frame_max: amqp091 %d, amqppub %d; want 65536", cmd.FrameSize, s.pub.FrameMax())
	}
	if cmd.ChannelMax != 50 {
		t.Errorf("channel_max: amqp091 %d, want 50", cmd.ChannelMax)
	}
}
