package amqpurl

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordis-gateway/cordis/src/broker/amqpurl/testcerts"
)

func TestParseReadsTheQuerySettingsAsAmqp091Does(t *testing.T) {
	tests := []struct {
		name  string
		query string
		check func(t *testing.T, u URL)
	}{
		{"nothing set: PLAIN, no heartbeat, no frame_max", "", func(t *testing.T, u URL) {
			if u.HeartbeatSet || u.FrameMaxSet || u.ChannelMax != 0 || u.ConnectionTimeout != 0 ||
				!slices.Equal(u.Mechanisms, []string{Plain}) {
				t.Fatalf("%+v", u)
			}
		}},
		{"heartbeat", "heartbeat=30", func(t *testing.T, u URL) {
			if !u.HeartbeatSet || u.Heartbeat != 30*time.Second {
				t.Fatalf("heartbeat %v set %v", u.Heartbeat, u.HeartbeatSet)
			}
		}},
		{"heartbeat 0 is set, not unset", "heartbeat=0", func(t *testing.T, u URL) {
			if !u.HeartbeatSet || u.Heartbeat != 0 {
				t.Fatalf("heartbeat %v set %v", u.Heartbeat, u.HeartbeatSet)
			}
		}},
		{"frame_max", "frame_max=8192", func(t *testing.T, u URL) {
			if !u.FrameMaxSet || u.FrameMax != 8192 {
				t.Fatalf("frame_max %v set %v", u.FrameMax, u.FrameMaxSet)
			}
		}},
		{"frame_max 0 is set (no limit)", "frame_max=0", func(t *testing.T, u URL) {
			if !u.FrameMaxSet || u.FrameMax != 0 {
				t.Fatalf("frame_max %v set %v", u.FrameMax, u.FrameMaxSet)
			}
		}},
		{"channel_max", "channel_max=100", func(t *testing.T, u URL) {
			if u.ChannelMax != 100 {
				t.Fatalf("channel_max %v", u.ChannelMax)
			}
		}},
		{"connection_timeout in milliseconds", "connection_timeout=1500", func(t *testing.T, u URL) {
			if u.ConnectionTimeout != 1500*time.Millisecond {
				t.Fatalf("connection_timeout %v", u.ConnectionTimeout)
			}
		}},
		{"auth_mechanism in the client's order, any case", "auth_mechanism=external&auth_mechanism=Plain&auth_mechanism=AMQPLAIN", func(t *testing.T, u URL) {
			if !slices.Equal(u.Mechanisms, []string{External, Plain, AMQPlain}) {
				t.Fatalf("mechanisms %v", u.Mechanisms)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := Parse("amqp://user:secret@rabbit:5672/vh?" + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if u.Host != "rabbit" || u.Vhost != "vh" || u.Username != "user" || u.Password != "secret" {
				t.Fatalf("uri %+v", u.URI)
			}
			tt.check(t, u)
		})
	}
}

func TestParseRefusesWhatAmqp091RefusesAndABadFrameMax(t *testing.T) {
	tests := []struct{ query, want string }{
		{"heartbeat=x", "heartbeat"},
		{"heartbeat=70000", "heartbeat"},
		{"channel_max=-1", "channel_max"},
		{"connection_timeout=soon", "connection_timeout"},
		{"connection_timeout=-5", "connection_timeout"},
		{"frame_max=big", "frame_max"},
		{"frame_max=5000000000", "frame_max"},
		{"auth_mechanism=scram-sha-256", `unsupported auth_mechanism "scram-sha-256"`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, err := Parse("amqp://user:secret@rabbit/?" + tt.query)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

func amqps(t *testing.T, q url.Values) URL {
	t.Helper()
	u, err := Parse("amqps://user:secret@127.0.0.1:5671/?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestTLSConfigFollowsAmqp091sRules(t *testing.T) {
	certs := testcerts.New(t, "rabbit.test")
	tests := []struct {
		name       string
		q          url.Values
		serverName string
		clientCert bool
		trustsCA   bool
	}{
		{"system pool, host as server name", url.Values{}, "127.0.0.1", false, false},
		{"cacertfile", url.Values{"cacertfile": {certs.CAFile}}, "127.0.0.1", false, true},
		{"server_name_indication", url.Values{"cacertfile": {certs.CAFile}, "server_name_indication": {"rabbit.test"}}, "rabbit.test", false, true},
		{"client key pair", url.Values{"cacertfile": {certs.CAFile}, "certfile": {certs.CertFile}, "keyfile": {certs.KeyFile}}, "127.0.0.1", true, true},
		{"certfile without keyfile: no client certificate, as in amqp091", url.Values{"certfile": {certs.CertFile}}, "127.0.0.1", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := amqps(t, tt.q).TLSConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ServerName != tt.serverName || cfg.MinVersion != tls.VersionTLS12 || cfg.RootCAs == nil {
				t.Fatalf("server name %q, min version %x, roots %v", cfg.ServerName, cfg.MinVersion, cfg.RootCAs)
			}
			if got := len(cfg.Certificates) == 1; got != tt.clientCert {
				t.Fatalf("client certificates: %d", len(cfg.Certificates))
			}
			leaf, err := x509.ParseCertificate(certs.Server.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			_, verr := leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: "rabbit.test"})
			if (verr == nil) != tt.trustsCA {
				t.Fatalf("server certificate verifies: %v, want trusted %v", verr, tt.trustsCA)
			}
		})
	}
}

func TestTLSConfigIsNilForAmqpWhateverItsQuery(t *testing.T) {
	u, err := Parse("amqp://rabbit/?cacertfile=/does/not/exist.pem")
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := u.TLSConfig(); cfg != nil || err != nil {
		t.Fatalf("TLSConfig() = %v, %v", cfg, err)
	}
}

func TestABadCertificatePathIsAnErrorNamingTheFile(t *testing.T) {
	certs := testcerts.New(t, "127.0.0.1")
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	notPEM := filepath.Join(dir, "not-a-cert.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    url.Values
		want []string
	}{
		{"missing cacertfile", url.Values{"cacertfile": {missing}}, []string{"cacertfile", missing, "no such file"}},
		{"cacertfile without a certificate", url.Values{"cacertfile": {notPEM}}, []string{"cacertfile", notPEM, "no PEM certificate"}},
		{"missing certfile", url.Values{"certfile": {missing}, "keyfile": {certs.KeyFile}}, []string{"client certificate", missing}},
		{"missing keyfile", url.Values{"certfile": {certs.CertFile}, "keyfile": {missing}}, []string{"client certificate", missing}},
		{"keyfile not a key", url.Values{"certfile": {certs.CertFile}, "keyfile": {notPEM}}, []string{"client certificate", notPEM}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := amqps(t, tt.q).TLSConfig()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
