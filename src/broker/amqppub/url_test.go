package amqppub

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// The URL's query settings reach tune-ok as amqp091's openTune would send them: the
// client proposal comes from the URL (or our default), and is negotiated with the
// server's (0 on one side: the other wins; else the smaller).
func TestURLSettingsReachTuneOkNegotiatedAsAmqp091Does(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		server    serverTune
		want      serverTune
		frameMax  int           // c.FrameMax()
		heartbeat time.Duration // c.Heartbeat()
	}{
		{"no settings: our defaults", "",
			serverTune{2047, 131072, 60}, serverTune{2047, 131072, 10}, 131072, 10 * time.Second},
		{"heartbeat replaces the configured proposal", "heartbeat=30",
			serverTune{2047, 131072, 60}, serverTune{2047, 131072, 30}, 131072, 30 * time.Second},
		{"heartbeat above the server's: the server's", "heartbeat=120",
			serverTune{2047, 131072, 60}, serverTune{2047, 131072, 60}, 131072, time.Minute},
		{"heartbeat 0 proposes none: the server's wins", "heartbeat=0",
			serverTune{2047, 131072, 60}, serverTune{2047, 131072, 60}, 131072, time.Minute},
		{"heartbeat 0 on both sides: disabled", "heartbeat=0",
			serverTune{2047, 131072, 0}, serverTune{2047, 131072, 0}, 131072, 0},
		{"server without heartbeats: ours", "heartbeat=5",
			serverTune{2047, 131072, 0}, serverTune{2047, 131072, 5}, 131072, 5 * time.Second},
		{"channel_max below the server's", "channel_max=100",
			serverTune{2047, 131072, 60}, serverTune{100, 131072, 10}, 131072, 10 * time.Second},
		{"channel_max above the server's", "channel_max=4000",
			serverTune{2047, 131072, 60}, serverTune{2047, 131072, 10}, 131072, 10 * time.Second},
		{"no channel_max, server without limit: amqp091's 2047", "",
			serverTune{0, 131072, 60}, serverTune{2047, 131072, 10}, 131072, 10 * time.Second},
		{"channel_max, server without limit: ours", "channel_max=300",
			serverTune{0, 131072, 60}, serverTune{300, 131072, 10}, 131072, 10 * time.Second},
		{"frame_max below the server's", "frame_max=8192",
			serverTune{2047, 131072, 60}, serverTune{2047, 8192, 10}, 8192, 10 * time.Second},
		{"frame_max below AMQP's floor: 4096", "frame_max=1000",
			serverTune{2047, 131072, 60}, serverTune{2047, 4096, 10}, 4096, 10 * time.Second},
		{"frame_max above the server's: the server's", "frame_max=1048576",
			serverTune{2047, 131072, 60}, serverTune{2047, 131072, 10}, 131072, 10 * time.Second},
		{"frame_max 0 proposes no limit: the server's wins", "frame_max=0",
			serverTune{2047, 131072, 60}, serverTune{2047, 131072, 10}, 131072, 10 * time.Second},
		{"frame_max 0 on both sides: no limit, written at our default", "frame_max=0",
			serverTune{2047, 0, 60}, serverTune{2047, 0, 10}, defaultFrameMax, 10 * time.Second},
		{"all at once", "heartbeat=20&channel_max=16&frame_max=65536",
			serverTune{2047, 131072, 60}, serverTune{16, 65536, 20}, 65536, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan serverTune, 1)
			url := fakeServer(t, func(p *fakePeer) {
				_, tu, _ := p.handshake(tt.server)
				got <- tu
				p.expect(mConnClose)
				p.sendMethod(0, mConnCloseOk, nil)
			})
			c, _ := dialTest(t, url+"?"+tt.query, Config{Heartbeat: 10 * time.Second})
			if tu := <-got; tu != tt.want {
				t.Errorf("tune-ok = %+v, want %+v", tu, tt.want)
			}
			if c.FrameMax() != tt.frameMax || c.Heartbeat() != tt.heartbeat {
				t.Errorf("FrameMax() = %d, Heartbeat() = %v; want %d, %v", c.FrameMax(), c.Heartbeat(), tt.frameMax, tt.heartbeat)
			}
			c.Close(time.Now().Add(time.Second))
		})
	}
}

// auth_mechanism lists the mechanisms we may use in our order of preference; the first
// of them the server offers is used (amqp091's pickSASLMechanism), PLAIN when unset.
func TestAuthMechanismPicksOursThatTheServerOffersAndEncodesItsResponse(t *testing.T) {
	amqplainResponse := string(appendTableString(appendTableString(nil, "LOGIN", "user"), "PASSWORD", "secret"))
	tests := []struct {
		name     string
		query    string
		offered  string
		mech     string
		response string
	}{
		{"unset: PLAIN", "", "AMQPLAIN PLAIN", "PLAIN", "\x00user\x00secret"},
		{"plain", "auth_mechanism=plain", "PLAIN AMQPLAIN", "PLAIN", "\x00user\x00secret"},
		{"amqplain: a LOGIN/PASSWORD table", "auth_mechanism=amqplain", "PLAIN AMQPLAIN", "AMQPLAIN", amqplainResponse},
		{"external", "auth_mechanism=EXTERNAL", "PLAIN AMQPLAIN EXTERNAL", "EXTERNAL", "\x00*\x00*"},
		{"our first choice wins over the server's order", "auth_mechanism=external&auth_mechanism=plain",
			"PLAIN EXTERNAL", "EXTERNAL", "\x00*\x00*"},
		{"our first choice not offered: the next", "auth_mechanism=external&auth_mechanism=plain",
			"AMQPLAIN PLAIN", "PLAIN", "\x00user\x00secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan []byte, 1)
			url := fakeServer(t, func(p *fakePeer) {
				s, _, _ := p.handshakeOffering(defaultTune, tt.offered)
				got <- s
				p.expect(mConnClose)
				p.sendMethod(0, mConnCloseOk, nil)
			})
			c, _ := dialTest(t, url+"?"+tt.query, Config{})
			mech, resp := parseStartOk(<-got)
			if mech != tt.mech || resp != tt.response {
				t.Errorf("start-ok mechanism %q response %q, want %q %q", mech, resp, tt.mech, tt.response)
			}
			c.Close(time.Now().Add(time.Second))
		})
	}
}

func TestAMechanismTheServerDoesNotOfferIsAClearError(t *testing.T) {
	url := fakeServer(t, func(p *fakePeer) {
		p.start("PLAIN AMQPLAIN")
		_, _ = p.fr.read() // EOF once the client gives up
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, Config{URL: url + "?auth_mechanism=external"})
	if err == nil || !strings.Contains(err.Error(), "none of the authentication mechanisms EXTERNAL") ||
		!strings.Contains(err.Error(), `"PLAIN AMQPLAIN"`) {
		t.Fatalf("dial: %v", err)
	}
}

func TestABadURLSettingFailsBeforeDialling(t *testing.T) {
	for _, q := range []string{"auth_mechanism=kerberos", "heartbeat=often", "frame_max=-1", "channel_max=70000"} {
		t.Run(q, func(t *testing.T) {
			dialled := false
			_, err := Dial(context.Background(), Config{URL: "amqp://user:secret@127.0.0.1:1/vh?" + q,
				Dial: func(context.Context, string, string) (net.Conn, error) {
					dialled = true
					return nil, net.ErrClosed
				}})
			if err == nil || !strings.Contains(err.Error(), "parse amqp url") || dialled {
				t.Fatalf("dial: %v (dialled %v)", err, dialled)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

func TestConnectionTimeoutBoundsTheHandshakeWhenNoTimeoutIsConfigured(t *testing.T) {
	url := fakeServer(t, func(p *fakePeer) { _, _ = io_ReadAll(p.c) })
	start := time.Now()
	_, err := Dial(context.Background(), Config{URL: url + "?connection_timeout=200"})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("dial = %v after %v, want a timeout after ~200ms", err, time.Since(start))
	}
}
