package fakediscord

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func post(t *testing.T, base, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(base+path, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func TestControlAPIDrivesTheSameControlsAsTheGoMethods(t *testing.T) {
	s := startServer(t, Options{})
	api := httptest.NewServer(s.ControlHandler())
	t.Cleanup(api.Close)
	c := dial(t, s, EncodingETF, CompressZstd)
	ready := c.handshake(s, 0, 1)

	if code, out := post(t, api.URL, "/dispatch", `{"shard":0,"t":"MESSAGE_CREATE","d":{"id":"1","n":12345678901234}}`); code != 200 || out["s"] != 2.0 {
		t.Fatalf("dispatch: %d %v", code, out)
	}
	p, _ := c.expectDispatch("MESSAGE_CREATE")
	if d := p["d"].(map[string]any); d["n"] != int64(12345678901234) || d["id"] != "1" {
		t.Fatalf("d = %#v", d)
	}
	for _, tc := range []struct{ path, body string }{
		{"/shards/0/heartbeat", ""},
		{"/shards/0/reconnect", ""},
		{"/shards/0/send", `{"op":11}`},
		// Last: op 9 detaches the connection from the session.
		{"/shards/0/invalid-session", `{"resumable":true}`},
	} {
		if code, out := post(t, api.URL, tc.path, tc.body); code != 200 {
			t.Fatalf("%s: %d %v", tc.path, code, out)
		}
	}
	for _, op := range []int{OpHeartbeat, OpReconnect, OpHeartbeatACK, OpInvalidSession} {
		p, _ := c.next()
		if got, _ := asInt64(p["op"]); int(got) != op {
			t.Fatalf("want op %d, got %v", op, p)
		}
	}
	// Resumable op 9: the same socket resumes.
	c.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["session_id"], "seq": 2})
	c.expectDispatch("RESUMED")
	if code, _ := post(t, api.URL, "/shards/7/close", `{"code":4000}`); code != http.StatusConflict {
		t.Fatalf("close of an unknown shard: %d", code)
	}
	if code, out := post(t, api.URL, "/load", `{"count":3}`); code != 200 || out["sent"] != 3.0 {
		t.Fatalf("load: %d %v", code, out)
	}
	for range 3 {
		c.next()
	}
	if code, _ := post(t, api.URL, "/shards/0/close", `{"code":4321,"reason":"bye"}`); code != 200 {
		t.Fatal(code)
	}
	c.expectClose(4321)

	resp, err := http.Get(api.URL + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st stateView
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Identifies) != 1 || len(st.Shards) != 1 || st.Shards[0].Dispatched < 5 {
		t.Fatalf("state = %+v", st)
	}
}

func TestRawBytesBypassCompressionAndPayloadBytesGoThroughIt(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, EncodingJSON, CompressZlib)
	c.handshake(s, 0, 1)
	if err := s.SendPayload(0, []byte(`{"op":0,"t":"TRUNC`)); err != nil {
		t.Fatal(err)
	}
	b, err := c.readPlain()
	if err != nil || string(b) != `{"op":0,"t":"TRUNC` {
		t.Fatalf("payload through zlib: %q %v", b, err)
	}
	if err := s.SendRaw(0, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := c.ws.ReadMessage(); err != nil || !bytes.Equal(msg, []byte{1, 2, 3}) {
		t.Fatalf("raw message = %v %v", msg, err)
	}
}

func TestInvalidSessionFalseEndsTheSessionAndAllowsANewIdentify(t *testing.T) {
	s := startServer(t, Options{IdentifyInterval: time.Millisecond})
	c := dial(t, s, EncodingJSON, CompressNone)
	ready := c.handshake(s, 0, 1)
	if err := s.InvalidSession(0, false); err != nil {
		t.Fatal(err)
	}
	if p := c.expectOp(OpInvalidSession); p["d"] != false {
		t.Fatalf("d = %v", p["d"])
	}
	time.Sleep(5 * time.Millisecond)
	c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 1))
	c.expectDispatch("READY")
	r := dial(t, s, EncodingJSON, CompressNone)
	r.expectOp(OpHello)
	r.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["session_id"], "seq": 1})
	r.expectOp(OpInvalidSession)
}

func TestDispatchToAllShardsGivesEachSessionItsOwnSeq(t *testing.T) {
	s := startServer(t, Options{Guilds: 1, IdentifyInterval: time.Millisecond, MaxConcurrency: 4})
	a := dial(t, s, EncodingJSON, CompressNone)
	a.handshake(s, 0, 2)
	a.expectDispatch("GUILD_CREATE")
	b := dial(t, s, EncodingETF, CompressNone)
	b.handshake(s, 1, 2)
	b.expectDispatch("GUILD_CREATE")
	if _, err := s.Dispatch(AllShards, "GUILD_UPDATE", map[string]any{"id": Snowflake(1 << 40)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testClient{a, b} {
		p, _ := c.expectDispatch("GUILD_UPDATE")
		if seq, _ := asInt64(p["s"]); seq != 3 {
			t.Fatalf("s = %v", p["s"])
		}
	}
	// A snowflake is a string in JSON and an integer in ETF, as Discord sends.
	snap := s.Snapshot()
	if !bytes.Contains(snap.DispatchesTo(0)[2].Raw, []byte(`"id":"1099511627776"`)) {
		t.Fatalf("json dispatch = %s", snap.DispatchesTo(0)[2].Raw)
	}
	v, _ := UnmarshalETF(snap.DispatchesTo(1)[2].Raw)
	if id := v.(map[string]any)["d"].(map[string]any)["id"]; id != int64(1<<40) {
		t.Fatalf("etf id = %#v", id)
	}
}
