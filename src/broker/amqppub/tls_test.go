package amqppub

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordis-gateway/cordis/src/broker/amqpurl/testcerts"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fake rabbitmq"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestAmqpsRunsTLSOverTheDialledSocketCheckingTheURLsHost(t *testing.T) {
	cert, pool := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var c net.Conn
		for { // the first client does not trust us and hangs up
			var err error
			if c, err = ln.Accept(); err != nil {
				return
			}
			if c.(*tls.Conn).Handshake() == nil {
				break
			}
			c.Close()
		}
		defer c.Close()
		p := &fakePeer{t: t, c: c, fr: &frameReader{r: c}}
		p.handshake(defaultTune)
		p.expectPublish()
		p.sendAck(mBasicAck, 1, false)
		p.expect(mConnClose)
		p.sendMethod(0, mConnCloseOk, nil)
	}()
	url := "amqps://user:secret@" + ln.Addr().String() + "/vh"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Without trusting the certificate the handshake fails, naming TLS.
	if _, err := Dial(ctx, Config{URL: url}); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Fatalf("dial without trusting the server: %v", err)
	}
	dialled := false
	c, err := Dial(ctx, Config{URL: url, TLS: &tls.Config{RootCAs: pool},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialled = true
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(time.Now().Add(time.Second))
	if !dialled {
		t.Fatal("the injected dial was not used")
	}
	if _, err := c.Publish("x", "k", &Properties{}, []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Confirmed():
	case <-ctx.Done():
		t.Fatal("no confirm over TLS")
	}
}

// tlsServer accepts one TLS connection with cfg; after a good TLS handshake it plays
// RabbitMQ offering "PLAIN EXTERNAL" and reports the TLS state and the mechanism.
type tlsSeen struct {
	serverName string // SNI
	clientCN   string // the verified client certificate's common name, if any
	mechanism  string
}

func tlsServer(t *testing.T, cfg *tls.Config) (addr string, seen <-chan tlsSeen) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan tlsSeen, 1)
	serveOnce(t, ln, func(c net.Conn) {
		tc := c.(*tls.Conn)
		if tc.Handshake() != nil {
			return
		}
		st := tc.ConnectionState()
		s := tlsSeen{serverName: st.ServerName}
		if len(st.PeerCertificates) > 0 {
			s.clientCN = st.PeerCertificates[0].Subject.CommonName
		}
		p := &fakePeer{t: t, c: c, fr: &frameReader{r: c}}
		startOk, _, _ := p.handshakeOffering(defaultTune, "PLAIN EXTERNAL")
		s.mechanism, _ = parseStartOk(startOk)
		ch <- s
		p.expect(mConnClose)
		p.sendMethod(0, mConnCloseOk, nil)
	})
	return ln.Addr().String(), ch
}

func TestAmqpsURLSettingsBuildTheTLSConfigAsAmqp091Does(t *testing.T) {
	certs := testcerts.New(t, "rabbit.test") // no IP address: 127.0.0.1 does not match it
	mtls := &tls.Config{Certificates: []tls.Certificate{certs.Server},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: certs.Pool}
	tests := []struct {
		name    string
		query   url.Values
		wantErr string
		want    tlsSeen
	}{
		{"CA file, client certificate, SNI, EXTERNAL", url.Values{
			"cacertfile": {certs.CAFile}, "certfile": {certs.CertFile}, "keyfile": {certs.KeyFile},
			"server_name_indication": {"rabbit.test"}, "auth_mechanism": {"external"},
		}, "", tlsSeen{serverName: "rabbit.test", clientCN: testcerts.ClientName, mechanism: "EXTERNAL"}},
		{"without server_name_indication the host must match the certificate", url.Values{
			"cacertfile": {certs.CAFile}, "certfile": {certs.CertFile}, "keyfile": {certs.KeyFile},
		}, "tls handshake", tlsSeen{}},
		{"without the CA file the system pool does not trust it", url.Values{
			"certfile": {certs.CertFile}, "keyfile": {certs.KeyFile}, "server_name_indication": {"rabbit.test"},
		}, "tls handshake", tlsSeen{}},
		{"without a client certificate the server hangs up", url.Values{
			"cacertfile": {certs.CAFile}, "server_name_indication": {"rabbit.test"},
		}, "", tlsSeen{}}, // TLS 1.3: the client learns it at its first read
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, seen := tlsServer(t, mtls)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := Dial(ctx, Config{URL: "amqps://user:secret@" + addr + "/vh?" + tt.query.Encode()})
			if tt.want == (tlsSeen{}) {
				if err == nil {
					c.Close(time.Now().Add(time.Second))
					t.Fatal("dial succeeded")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("dial: %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(time.Now().Add(time.Second))
			if s := <-seen; s != tt.want {
				t.Fatalf("server saw %+v, want %+v", s, tt.want)
			}
		})
	}
}

func TestAGivenTLSConfigIsUsedInsteadOfTheURLsSettings(t *testing.T) {
	certs := testcerts.New(t, "rabbit.test")
	addr, seen := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{certs.Server}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The URL names a file that does not exist: the given config never reads it.
	c, err := Dial(ctx, Config{URL: "amqps://user:secret@" + addr + "/vh?cacertfile=/does/not/exist.pem",
		TLS: &tls.Config{RootCAs: certs.Pool, ServerName: "rabbit.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(time.Now().Add(time.Second))
	if s := <-seen; s.serverName != "rabbit.test" || s.mechanism != "PLAIN" {
		t.Fatalf("server saw %+v", s)
	}
}

func TestABadCertificatePathFailsBeforeDiallingNamingTheFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	dialled := false
	_, err := Dial(context.Background(), Config{URL: "amqps://user:secret@127.0.0.1:1/?cacertfile=" + url.QueryEscape(missing),
		Dial: func(context.Context, string, string) (net.Conn, error) {
			dialled = true
			return nil, net.ErrClosed
		}})
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "cacertfile") || dialled {
		t.Fatalf("dial: %v (dialled %v)", err, dialled)
	}
}
