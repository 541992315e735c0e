package fakediscord

import (
	"context"
	"testing"
	"time"
)

func TestSamplePayloadsHaveDiscordLikeSizes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		d        any
		min, max int
	}{
		{"TYPING_START", SampleTypingStart(), 200, 900},
		{"MESSAGE_CREATE", SampleMessageCreate(), 1000, 2500},
		{"PRESENCE_UPDATE", SamplePresenceUpdate(), 300, 1500},
		{"GUILD_MEMBER_UPDATE", SampleGuildMemberUpdate(), 300, 1200},
		{"MESSAGE_REACTION_ADD", SampleMessageReactionAdd(), 400, 1500},
		{"GUILD_CREATE", SampleGuildCreate(NewSnowflake(), 120), 50000, 75000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodePayload(EncodingJSON, OpDispatch, tc.d, 1, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < tc.min || len(b) > tc.max {
				t.Fatalf("%d bytes, want %d..%d", len(b), tc.min, tc.max)
			}
			if _, err := EncodePayload(EncodingETF, OpDispatch, tc.d, 1, tc.name); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadSendsTheCountedMixToEveryShard(t *testing.T) {
	s := startServer(t, Options{IdentifyInterval: time.Millisecond, MaxConcurrency: 16})
	var clients []*testClient
	for shard := range 2 {
		c := dial(t, s, EncodingETF, CompressZlib)
		c.handshake(s, shard, 2)
		clients = append(clients, c)
	}
	rep, err := s.Load(context.Background(), LoadOptions{Count: 40, GuildCreateEvery: 20})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 40 || rep.ByEvent["GUILD_CREATE"] != 2 || rep.ByEvent["MESSAGE_CREATE"] == 0 || rep.Bytes == 0 {
		t.Fatalf("report = %+v", rep)
	}
	for i, c := range clients {
		for range 20 {
			p, _ := c.next()
			if op, _ := asInt64(p["op"]); op != OpDispatch {
				t.Fatalf("shard %d got %v", i, p)
			}
		}
	}
	if st := s.Snapshot().Shards[1]; st.Dispatched != 21 { // READY + 20
		t.Fatalf("shard 1 state = %+v", st)
	}
}

func TestLoadKeepsToTheRate(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, EncodingJSON, CompressNone)
	c.handshake(s, 0, 1)
	rep, err := s.Load(context.Background(), LoadOptions{Rate: 100, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 200 ms at 100/s is about 20 events; the bound only catches a
	// generator that ignores the rate.
	if rep.Sent < 1 || rep.Sent > 21 {
		t.Fatalf("sent %d", rep.Sent)
	}
}

func TestSessionStartLimitRefillsAfterResetAfter(t *testing.T) {
	s := startServer(t, Options{SessionStartRemaining: -1, SessionStartTotal: 3, ResetAfter: 50 * time.Millisecond, IdentifyInterval: time.Millisecond})
	c := dial(t, s, EncodingJSON, CompressNone)
	c.expectOp(OpHello)
	c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 1))
	c.expectOp(OpInvalidSession)
	time.Sleep(60 * time.Millisecond)
	c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 1))
	c.expectDispatch("READY")
	if r := s.Snapshot().SessionStartRemaining; r != 2 {
		t.Fatalf("remaining = %d", r)
	}
}

// BenchmarkLoad measures the generator into 4 zlib-stream ETF shards whose
// clients only read the websocket messages.
func BenchmarkLoad(b *testing.B) {
	s := startServer(b, manyOptions())
	clients := make([]*testClient, 4)
	for i := range clients {
		c, err := quietDial(s, CompressZlib)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.quietHandshake(s, i, 4); err != nil {
			b.Fatal(err)
		}
		clients[i] = c
		go func() {
			for {
				if _, _, err := c.ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	b.ResetTimer()
	rep, err := s.Load(context.Background(), LoadOptions{Count: b.N})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rep.Bytes)/float64(b.N), "payload-bytes/event")
	for _, c := range clients {
		_ = c.ws.Close()
	}
}
