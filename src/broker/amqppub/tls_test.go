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
	"strings"
	"testing"
	"time"
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
