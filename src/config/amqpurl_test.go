package config

import (
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cordis-gateway/cordis/src/broker/amqpurl/testcerts"
)

// The AMQP URL's query settings and certificate files are checked with the rest of
// the configuration (exit 2), not found out by a connection attempt retried forever.
func TestAMQPURLSettingsAndCertificateFilesAreCheckedAtStartup(t *testing.T) {
	certs := testcerts.New(t, "rabbit")
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	bad := []struct{ query, want string }{
		{"heartbeat=often", "heartbeat"},
		{"channel_max=70000", "channel_max"},
		{"frame_max=-1", "frame_max"},
		{"connection_timeout=soon", "connection_timeout"},
		{"auth_mechanism=kerberos", `unsupported auth_mechanism "kerberos"`},
		{"cacertfile=" + url.QueryEscape(missing), "read cacertfile: open " + missing + ": no such file or directory"},
		{"certfile=" + url.QueryEscape(certs.CertFile) + "&keyfile=" + url.QueryEscape(missing), missing},
	}
	for _, tt := range bad {
		t.Run(tt.query, func(t *testing.T) {
			value := "amqps://user:hunter2@rabbit/vh?" + tt.query
			_, err := Load(env(map[string]string{varAMQPHost: value, varDebug: "maybe"}))
			lines := errLines(t, err)
			if len(lines) != 2 { // reported with the other problems
				t.Fatalf("got %d lines %q, want 2", len(lines), lines)
			}
			var amqpLine string
			for _, l := range lines {
				if strings.HasPrefix(l, varAMQPHost+"=") {
					amqpLine = l
				}
			}
			if !strings.Contains(amqpLine, tt.want) || !strings.Contains(amqpLine, "query settings") {
				t.Errorf("line %q lacks %q", amqpLine, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("password in error: %v", err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("not an *Error: %v", err)
			}
		})
	}
	good := []string{
		"amqps://user:hunter2@rabbit/vh?cacertfile=" + url.QueryEscape(certs.CAFile) +
			"&certfile=" + url.QueryEscape(certs.CertFile) + "&keyfile=" + url.QueryEscape(certs.KeyFile) +
			"&server_name_indication=rabbit&auth_mechanism=external&auth_mechanism=plain",
		"amqp://rabbit/?heartbeat=0&channel_max=16&frame_max=65536&connection_timeout=5000",
		"amqp://rabbit/?cacertfile=" + url.QueryEscape(missing), // amqp: TLS settings unused, as by amqp091
	}
	for _, value := range good {
		c, err := Load(env(map[string]string{varAMQPHost: value}))
		if err != nil {
			t.Errorf("%s: %v", value, err)
			continue
		}
		if c.AMQPURL != value {
			t.Errorf("AMQPURL = %q, want %q unchanged", c.AMQPURL, value)
		}
	}
}
