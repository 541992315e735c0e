package fakediscord

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestGatewayClosesWithDiscordsCodeForEachBrokenRule(t *testing.T) {
	big := strings.Repeat("x", 5000)
	cases := []struct {
		name string
		enc  Encoding
		opts Options
		url  string // query override
		act  func(c *testClient, s *Server)
		code int
		kind string
	}{
		{name: "wrong version closes 4012", enc: EncodingJSON, url: "/?v=8&encoding=json", code: 4012, kind: ViolationBadURL},
		{name: "unknown encoding closes 4000", enc: EncodingJSON, url: "/?v=10&encoding=xml", code: 4000, kind: ViolationBadURL},
		{name: "unknown compression closes 4000", enc: EncodingJSON, url: "/?v=10&encoding=json&compress=gzip", code: 4000, kind: ViolationBadURL},
		{name: "wrong token closes 4004", enc: EncodingJSON, code: 4004, kind: ViolationAuthFailed,
			act: func(c *testClient, s *Server) { c.send(OpIdentify, identifyD("nope", 0, 1, 1)) }},
		{name: "shard id not below total closes 4010", enc: EncodingJSON, code: 4010, kind: ViolationInvalidShard,
			act: func(c *testClient, s *Server) { c.send(OpIdentify, identifyD(s.Options().Token, 2, 2, 1)) }},
		{name: "unknown intent bit closes 4013", enc: EncodingETF, code: 4013, kind: ViolationInvalidIntents,
			act: func(c *testClient, s *Server) { c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 1<<17)) }},
		{name: "privileged intent not enabled closes 4014", enc: EncodingETF, code: 4014, kind: ViolationDisallowed,
			act: func(c *testClient, s *Server) { c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 1<<15)) }},
		{name: "undecodable json closes 4002", enc: EncodingJSON, code: 4002, kind: ViolationDecode,
			act: func(c *testClient, s *Server) { c.sendRaw([]byte(`{"op":1,`)) }},
		{name: "etf with atom keys closes 4002", enc: EncodingETF, code: 4002, kind: ViolationDecode,
			act: func(c *testClient, s *Server) {
				b, _ := MarshalETF(map[string]any{"op": 1, "d": nil})
				c.sendRaw(b)
			}},
		{name: "payload over 4096 bytes closes 4002", enc: EncodingJSON, code: 4002, kind: ViolationDecode,
			act: func(c *testClient, s *Server) { c.send(OpHeartbeat, big) }},
		{name: "unknown opcode closes 4001", enc: EncodingJSON, code: 4001, kind: ViolationUnknownOp,
			act: func(c *testClient, s *Server) { c.send(5, nil) }},
		{name: "presence update before identify closes 4003", enc: EncodingJSON, code: 4003, kind: ViolationNotAuthenticated,
			act: func(c *testClient, s *Server) { c.send(OpPresenceUpdate, map[string]any{"status": "online"}) }},
		{name: "second identify closes 4005", enc: EncodingJSON, code: 4005, kind: ViolationAlreadyAuthed,
			act: func(c *testClient, s *Server) {
				c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 1))
				c.expectDispatch("READY")
				c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 1))
			}},
		{name: "more than SendLimit messages per window closes 4008", enc: EncodingJSON, opts: Options{SendLimit: 5}, code: 4008, kind: ViolationSendLimit,
			act: func(c *testClient, s *Server) {
				for range 6 {
					c.send(OpHeartbeat, nil)
				}
			}},
		{name: "no heartbeat within the zombie timeout closes 4009", enc: EncodingJSON, opts: Options{ZombieTimeout: 100 * time.Millisecond}, code: 4009, kind: ViolationHeartbeatTimeout,
			act: func(c *testClient, s *Server) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.opts)
			var c *testClient
			if tc.url != "" {
				c = dialURL(t, s.GatewayURL()+tc.url, tc.enc, CompressNone)
			} else {
				c = dial(t, s, tc.enc, CompressNone)
				c.expectOp(OpHello)
				tc.act(c, s)
			}
			c.expectClose(tc.code)
			snap, err := s.WaitFor(ctxT(t), func(sn *Snapshot) bool { return len(sn.ViolationsOf(tc.kind)) > 0 })
			if err != nil {
				t.Fatalf("no %s violation recorded: %+v", tc.kind, snap.Violations)
			}
			if v := snap.ViolationsOf(tc.kind)[0]; v.Code != tc.code {
				t.Fatalf("violation code = %d", v.Code)
			}
			if ci := snap.Connections[0]; ci.CloseCode != tc.code || ci.ClosedBy != "server" {
				t.Fatalf("conn = %+v", ci)
			}
		})
	}
}

func TestIdentifyRateLimitIsPerBucketAndAnsweredWithOp9False(t *testing.T) {
	s := startServer(t, Options{MaxConcurrency: 2, IdentifyInterval: 300 * time.Millisecond})
	ident := func(shard int) map[string]any {
		c := dial(t, s, EncodingJSON, CompressNone)
		c.expectOp(OpHello)
		c.send(OpIdentify, identifyD(s.Options().Token, shard, 4, 1))
		p, _ := c.next()
		return p
	}
	if p := ident(0); p["t"] != "READY" {
		t.Fatalf("shard 0: %v", p)
	}
	if p := ident(1); p["t"] != "READY" { // bucket 1: independent
		t.Fatalf("shard 1: %v", p)
	}
	p := ident(2) // bucket 0 again within the interval
	if op, _ := asInt64(p["op"]); op != OpInvalidSession || p["d"] != false {
		t.Fatalf("shard 2 too early: %v", p)
	}
	if v := s.Snapshot().ViolationsOf(ViolationIdentifyRate); len(v) != 1 {
		t.Fatalf("violations = %+v", v)
	}
	time.Sleep(300 * time.Millisecond)
	if p := ident(2); p["t"] != "READY" {
		t.Fatalf("shard 2 after the interval: %v", p)
	}
}

func TestSessionStartLimitIsDecrementedAndRefusedAtZero(t *testing.T) {
	s := startServer(t, Options{SessionStartTotal: 5, SessionStartRemaining: 1, IdentifyInterval: time.Millisecond})
	c := dial(t, s, EncodingJSON, CompressNone)
	c.handshake(s, 0, 1)
	if r := s.Snapshot().SessionStartRemaining; r != 0 {
		t.Fatalf("remaining = %d", r)
	}
	time.Sleep(5 * time.Millisecond)
	c2 := dial(t, s, EncodingJSON, CompressNone)
	c2.expectOp(OpHello)
	c2.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 1))
	if p := c2.expectOp(OpInvalidSession); p["d"] != false {
		t.Fatalf("op 9 d = %v", p["d"])
	}
	if v := s.Snapshot().ViolationsOf(ViolationSessionStart); len(v) != 1 {
		t.Fatalf("violations = %+v", v)
	}
}

func TestResumeIsRefusedWithOp9FalseForUnknownSessionOrSeq(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, EncodingJSON, CompressNone)
	ready := c.handshake(s, 0, 1)
	for _, tc := range []struct {
		name    string
		session any
		seq     any
	}{
		{"unknown session", "nope", 1},
		{"seq missing", ready["session_id"], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dial(t, s, EncodingJSON, CompressNone)
			r.expectOp(OpHello)
			r.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": tc.session, "seq": tc.seq})
			if p := r.expectOp(OpInvalidSession); p["d"] != false {
				t.Fatalf("d = %v", p["d"])
			}
		})
	}
}

func TestResumeAfterTheReplayBufferIsRefused(t *testing.T) {
	s := startServer(t, Options{ReplayBuffer: 3})
	c := dial(t, s, EncodingJSON, CompressNone)
	ready := c.handshake(s, 0, 1)
	for range 5 {
		if _, err := s.Dispatch(0, "TYPING_START", map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	r := dial(t, s, EncodingJSON, CompressNone)
	r.expectOp(OpHello)
	r.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["session_id"], "seq": 1})
	r.expectOp(OpInvalidSession)
}

func TestCleanClientCloseEndsTheSession(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, EncodingJSON, CompressNone)
	ready := c.handshake(s, 0, 1)
	_ = c.ws.WriteMessage(8, []byte{0x03, 0xe8}) // close 1000
	if _, err := s.WaitFor(ctxT(t), func(sn *Snapshot) bool { return !sn.Connections[0].Open() }); err != nil {
		t.Fatal(err)
	}
	if ci := s.Snapshot().Connections[0]; ci.CloseCode != 1000 || ci.ClosedBy != "client" {
		t.Fatalf("conn = %+v", ci)
	}
	r := dial(t, s, EncodingJSON, CompressNone)
	r.expectOp(OpHello)
	r.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["session_id"], "seq": 1})
	r.expectOp(OpInvalidSession)
}

func TestRESTGatewayBotAnswersFromOptionsAndChecksTheToken(t *testing.T) {
	s := startServer(t, Options{Token: "tok", Shards: 7, MaxConcurrency: 16, SessionStartTotal: 1000, SessionStartRemaining: 990, ResetAfter: time.Hour})
	for _, tc := range []struct {
		name, path, auth string
		status           int
	}{
		{"right token gets 200", "/api/v10/gateway/bot", "Bot tok", 200},
		{"missing token gets 401", "/api/v10/gateway/bot", "", 401},
		{"token without Bot prefix gets 401", "/api/v10/gateway/bot", "tok", 401},
		{"other path gets 404", "/api/v10/users/@me", "Bot tok", 404},
		{"users path gets 404", "/api/v10/users/@me", "Bot tok", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d", resp.StatusCode)
			}
			if tc.status != 200 {
				return
			}
			var body struct {
				URL    string `json:"url"`
				Shards int    `json:"shards"`
				Limit  struct {
					Total          int `json:"total"`
					Remaining      int `json:"remaining"`
					ResetAfter     int `json:"reset_after"`
					MaxConcurrency int `json:"max_concurrency"`
				} `json:"session_start_limit"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body.URL != s.GatewayURL() || body.Shards != 7 || body.Limit.Total != 1000 || body.Limit.Remaining != 990 ||
				body.Limit.MaxConcurrency != 16 || body.Limit.ResetAfter <= 3590000 {
				t.Fatalf("body = %+v", body)
			}
		})
	}
	snap := s.Snapshot()
	if len(snap.Requests) != 5 {
		t.Fatalf("requests = %d", len(snap.Requests))
	}
	for _, r := range snap.Requests {
		if r.Header.Get("Authorization") != "" {
			t.Fatal("the token was recorded")
		}
	}
	if !snap.Requests[0].Authorized || snap.Requests[1].Authorized {
		t.Fatalf("authorized flags wrong: %+v", snap.Requests[:2])
	}
}

func TestHeartbeatACKsCanBeStoppedAndOp1IsAnsweredWithAck(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, EncodingJSON, CompressNone)
	c.handshake(s, 0, 1)
	s.SetHeartbeatACKs(0, false)
	c.send(OpHeartbeat, 1)
	// The heartbeat must be handled while ACKs are off; the op 1 request
	// below travels the other way and says nothing about that.
	if _, err := s.WaitFor(ctxT(t), func(sn *Snapshot) bool { return len(sn.ReceivedOp(0, OpHeartbeat)) == 1 }); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestHeartbeat(0); err != nil {
		t.Fatal(err)
	}
	// The next thing must be the op 1 request, not an ACK.
	if p, _ := c.next(); fmt.Sprint(p["op"]) != "1" {
		t.Fatalf("got %v", p)
	}
	s.SetHeartbeatACKs(0, true)
	c.send(OpHeartbeat, 1)
	c.expectOp(OpHeartbeatACK)
	if got := len(s.Snapshot().ReceivedOp(0, OpHeartbeat)); got != 2 {
		t.Fatalf("recorded heartbeats = %d", got)
	}
}

func TestSessionStaysResumableAfterServerClosesExceptFor4007And4009(t *testing.T) {
	for _, tc := range []struct {
		code      int
		resumable bool
	}{
		{4000, true}, {1000, true}, {4008, true}, {4007, false}, {4009, false},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			s := startServer(t, Options{})
			c := dial(t, s, EncodingJSON, CompressNone)
			ready := c.handshake(s, 0, 1)
			if err := s.CloseShard(0, tc.code, "test"); err != nil {
				t.Fatal(err)
			}
			c.expectClose(tc.code)
			if _, err := s.WaitFor(ctxT(t), func(sn *Snapshot) bool { return !sn.Connections[0].Open() }); err != nil {
				t.Fatal(err)
			}
			r := dial(t, s, EncodingJSON, CompressNone)
			r.expectOp(OpHello)
			r.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["session_id"], "seq": 1})
			if tc.resumable {
				r.expectDispatch("RESUMED")
			} else {
				r.expectOp(OpInvalidSession)
			}
		})
	}
}

func TestIdentifyWithoutShardIsShardZeroOfOne(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, EncodingETF, CompressNone)
	c.expectOp(OpHello)
	d := identifyD(s.Options().Token, 0, 1, 1)
	delete(d, "shard")
	c.send(OpIdentify, d)
	ready, _ := c.expectDispatch("READY")
	if sh, ok := ready["d"].(map[string]any)["shard"]; ok {
		t.Fatalf("READY has shard %v though IDENTIFY sent none", sh)
	}
	if id := s.Snapshot().Identifies[0]; id.Shard != 0 || id.ShardTotal != 1 || id.Intents != 1 || !strings.HasPrefix(id.URL, "/?v=10") {
		t.Fatalf("identify = %+v", id)
	}
}

func TestResumeTakesOverAStillOpenConnection(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, EncodingJSON, CompressNone)
	ready := c.handshake(s, 0, 1)
	r := dial(t, s, EncodingJSON, CompressNone)
	r.expectOp(OpHello)
	r.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["session_id"], "seq": 1})
	r.expectDispatch("RESUMED")
	if _, err := s.WaitFor(ctxT(t), func(sn *Snapshot) bool { return !sn.Connections[0].Open() }); err != nil {
		t.Fatal("the old connection was not dropped")
	}
	if st := s.Snapshot().Shards[0]; st.ConnID != 2 || !st.Connected {
		t.Fatalf("shard = %+v", st)
	}
}
