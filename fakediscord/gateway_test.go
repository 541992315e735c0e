package fakediscord

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

var allModes = []struct {
	enc  Encoding
	comp Compression
}{
	{EncodingJSON, CompressNone}, {EncodingJSON, CompressZlib}, {EncodingJSON, CompressZstd},
	{EncodingETF, CompressNone}, {EncodingETF, CompressZlib}, {EncodingETF, CompressZstd},
}

func TestHandshakeDispatchAndResumeWorkInEveryEncodingAndCompression(t *testing.T) {
	for _, m := range allModes {
		t.Run(fmt.Sprintf("%s/%s", m.enc, m.comp), func(t *testing.T) {
			s := startServer(t, Options{Guilds: 2, HeartbeatInterval: time.Second})
			c := dial(t, s, m.enc, m.comp)
			hello := c.expectOp(OpHello)
			if hi, _ := asInt64(hello["d"].(map[string]any)["heartbeat_interval"]); hi != 1000 {
				t.Fatalf("heartbeat_interval = %d", hi)
			}
			c.send(OpHeartbeat, nil)
			c.expectOp(OpHeartbeatACK)
			c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 513))
			ready, _ := c.expectDispatch("READY")
			d := ready["d"].(map[string]any)
			if d["resume_gateway_url"] != s.ResumeURL() || len(d["guilds"].([]any)) != 2 {
				t.Fatalf("READY d = %v", d)
			}
			c.expectDispatch("GUILD_CREATE")
			c.expectDispatch("GUILD_CREATE")

			seq, err := s.Dispatch(0, "MESSAGE_CREATE", SampleMessageCreate())
			if err != nil || seq != 4 {
				t.Fatalf("Dispatch = %d, %v", seq, err)
			}
			got, raw := c.expectDispatch("MESSAGE_CREATE")
			if s, _ := asInt64(got["s"]); s != 4 {
				t.Fatalf("s = %v", got["s"])
			}
			snap, err := s.WaitFor(ctxT(t), func(sn *Snapshot) bool { return len(sn.DispatchesTo(0)) == 4 })
			if err != nil {
				t.Fatal(err)
			}
			if sent := snap.DispatchesTo(0)[3]; !bytes.Equal(sent.Raw, raw) || sent.Seq != 4 {
				t.Fatalf("recorded dispatch bytes differ from what arrived")
			}

			// Disconnect, miss an event, resume on the resume URL.
			if err := s.DropShard(0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.WaitFor(ctxT(t), func(sn *Snapshot) bool { return !sn.Shards[0].Connected }); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Dispatch(0, "TYPING_START", SampleTypingStart()); err != nil {
				t.Fatal(err)
			}
			url := s.ResumeURL() + "/?v=10&encoding=" + string(m.enc)
			if m.comp != "" {
				url += "&compress=" + string(m.comp)
			}
			r := dialURL(t, url, m.enc, m.comp)
			r.expectOp(OpHello)
			r.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": d["session_id"], "seq": 3})
			replayed, replayRaw := r.expectDispatch("MESSAGE_CREATE")
			if !bytes.Equal(replayRaw, raw) {
				t.Fatalf("replay bytes differ")
			}
			_ = replayed
			typing, _ := r.expectDispatch("TYPING_START")
			if s, _ := asInt64(typing["s"]); s != 5 {
				t.Fatalf("typing s = %v", typing["s"])
			}
			resumed, _ := r.expectDispatch("RESUMED")
			if s, _ := asInt64(resumed["s"]); s != 6 {
				t.Fatalf("RESUMED s = %v", resumed["s"])
			}
			snap = s.Snapshot()
			if len(snap.Resumes) != 1 || !snap.Resumes[0].Accepted || snap.Resumes[0].Replayed != 2 {
				t.Fatalf("resumes = %+v", snap.Resumes)
			}
			if ci, _ := snap.Conn(snap.Resumes[0].ConnID); ci.Path != "/resume" {
				t.Fatalf("resume connection path = %q", ci.Path)
			}
		})
	}
}
