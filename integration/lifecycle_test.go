package integration

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Item 7: heartbeats, zombie detection, op 1 / 7 / 9 and close-code
// handling, resume with replay, fatal codes.

// Item 7: the gateway heartbeats at HELLO's heartbeat_interval (1 s here).
func TestItem7_HeartbeatsArriveAtTheHelloInterval(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{})
	s.start(nil)
	conn := s.waitSessions(0).Shards[0].ConnID

	const want = 5
	var beats []fakediscord.Message
	s.waitFor("5 heartbeats on one connection", 20*time.Second, func(sn *fakediscord.Snapshot) bool {
		beats = beats[:0]
		for _, m := range sn.ReceivedBy(fakediscord.AllShards) {
			if m.ConnID == conn && m.Op == fakediscord.OpHeartbeat {
				beats = append(beats, m)
			}
		}
		return len(beats) >= want
	})
	interval := s.discord.Options().HeartbeatInterval
	for i := 1; i < len(beats); i++ {
		gap := beats[i].Time.Sub(beats[i-1].Time)
		assert.GreaterOrEqual(t, gap, interval*9/10, "heartbeat %d came too early", i)
		assert.LessOrEqual(t, gap, interval*8/5, "heartbeat %d came too late", i)
	}
	assert.EqualValues(t, 1, beats[len(beats)-1].D, "d is the last seq received (READY's)")
	assert.Empty(t, s.discord.Snapshot().ViolationsOf(fakediscord.ViolationHeartbeatTimeout))
}

// Item 7: op 1 from Discord gets a heartbeat at once, and a heartbeat's d
// is the last sequence number received. The interval is long so that a
// regular heartbeat cannot pass for the requested one.
func TestItem7_Op1GetsAnImmediateHeartbeatWithTheLastSeq(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{HeartbeatInterval: 30 * time.Second})
	ev := eventName("ITEM7_BEAT")
	c := newConsumer(t, ev)
	s.start(nil)
	s.waitSessions(0)

	for range 2 {
		raw := s.dispatch(0, ev, fakediscord.SampleMessageCreate())
		require.Equal(t, string(raw), string(c.next(10*time.Second).Body))
		seq := s.discord.Snapshot().Shards[0].Seq

		before := len(s.discord.Snapshot().ReceivedOp(0, fakediscord.OpHeartbeat))
		asked := time.Now()
		require.NoError(t, s.discord.RequestHeartbeat(0))
		snap := s.waitFor("a heartbeat after op 1", 10*time.Second, func(sn *fakediscord.Snapshot) bool {
			return len(sn.ReceivedOp(0, fakediscord.OpHeartbeat)) > before
		})
		beat := snap.ReceivedOp(0, fakediscord.OpHeartbeat)[before]
		assert.Less(t, beat.Time.Sub(asked), time.Second, "op 1 must be answered at once")
		assert.EqualValues(t, seq, beat.D, "heartbeat d must be the last seq")
	}
}

// Item 7: every way Discord keeps a session resumable makes the gateway
// RESUME it on resume_gateway_url, keeping v, encoding and compress, with no
// new IDENTIFY. Each case runs on its own shard of one gateway process.
func TestItem7_ResumableEndsResumeOnTheResumeURL(t *testing.T) {
	cases := []struct {
		name     string
		trigger  func(s *stack, shard int)
		closedBy string // who ends the old connection
	}{
		{"op 7 reconnect", func(s *stack, shard int) { require.NoError(s.t, s.discord.Reconnect(shard)) }, "client"},
		{"op 9 resumable", func(s *stack, shard int) { require.NoError(s.t, s.discord.InvalidSession(shard, true)) }, "client"},
		{"close 4000", closeWith(4000, "Unknown error."), "server"},
		{"close 4008", closeWith(4008, "Rate limited."), "server"},
		{"dropped TCP connection", func(s *stack, shard int) { require.NoError(s.t, s.discord.DropShard(shard)) }, "drop"},
		{"zombie: no heartbeat ACK", func(s *stack, shard int) { s.discord.SetHeartbeatACKs(shard, false) }, "client"},
	}
	s := newDiscord(t, fakediscord.Options{Shards: len(cases), MaxConcurrency: 16})
	s.start(map[string]string{"CORDIS_WS_ENCODING": "etf", "CORDIS_WS_COMPRESS": "zlib-stream"})
	ids := make([]int, len(cases))
	for i := range ids {
		ids[i] = i
	}
	s.waitSessions(ids...)

	for shard, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s.forTest(t)
			old := s.currentConn(shard)
			tc.trigger(s, shard)
			closed := s.waitClosed(old.ID, 10*time.Second)
			s.discord.SetHeartbeatACKs(shard, true)
			assert.Equal(t, tc.closedBy, closed.ClosedBy, "who closed the connection")
			if tc.closedBy == "client" {
				assert.NotContains(t, []int{0, 1000, 1001}, closed.CloseCode,
					"the gateway must close with a code that keeps the session (and send a close frame)")
			}

			rs, conn := s.waitResume(shard, old.ID, 20*time.Second)
			assert.Equal(t, old.SessionID, rs.SessionID)
			assert.Equal(t, "/resume", conn.Path, "RESUME goes to resume_gateway_url")
			q := query(t, conn.URL)
			assert.Equal(t, "10", q.Get("v"))
			assert.Equal(t, "etf", q.Get("encoding"))
			assert.Equal(t, "zlib-stream", q.Get("compress"))
			assert.Len(t, identifiesOf(s.discord.Snapshot(), shard), 1, "a resumable session must not be identified again")
		})
	}
	s.noViolations(fakediscord.ViolationHeartbeatTimeout, fakediscord.ViolationDecode, fakediscord.ViolationIdentifyRate)
}

// Item 7: when Discord ends the session (op 9 false, close 4003/4007/4009)
// the gateway sends a new IDENTIFY on the main URL and never RESUMEs it;
// after op 9 false it waits 1-5 s first.
func TestItem7_EndedSessionsIdentifyAgainOnTheMainURL(t *testing.T) {
	cases := []struct {
		name    string
		trigger func(s *stack, shard int)
		op9     bool
	}{
		{"close 4003", closeWith(4003, "Not authenticated."), false},
		{"close 4007", closeWith(4007, "Invalid seq."), false},
		{"close 4009", closeWith(4009, "Session timed out."), false},
		{"op 9 not resumable", func(s *stack, shard int) { require.NoError(s.t, s.discord.InvalidSession(shard, false)) }, true},
	}
	s := newDiscord(t, fakediscord.Options{Shards: len(cases), MaxConcurrency: 16})
	s.start(map[string]string{"CORDIS_WS_COMPRESS": "zstd-stream"})
	ids := make([]int, len(cases))
	for i := range ids {
		ids[i] = i
	}
	s.waitSessions(ids...)

	for shard, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s.forTest(t)
			first := identifiesOf(s.discord.Snapshot(), shard)[0]
			if tc.op9 {
				// Let the bucket's 5 s pass, so only the 1-5 s wait after
				// op 9 can delay the new IDENTIFY.
				time.Sleep(time.Until(first.Time.Add(5 * time.Second)))
			}
			old := s.currentConn(shard)
			sent := time.Now()
			tc.trigger(s, shard)

			id, conn := s.waitIdentify(shard, old.ID, 20*time.Second)
			assert.Equal(t, "", conn.Path, "a new IDENTIFY goes to the main url")
			assert.Equal(t, "zstd-stream", query(t, conn.URL).Get("compress"))
			assert.NotEqual(t, old.SessionID, id.SessionID)
			if tc.op9 {
				wait := id.Time.Sub(sent)
				assert.GreaterOrEqual(t, wait, time.Second, "op 9 false: wait at least 1 s before identifying")
				assert.LessOrEqual(t, wait, 6*time.Second, "op 9 false: wait at most 5 s before identifying")
			}
			for _, r := range s.discord.Snapshot().Resumes {
				assert.NotEqual(t, old.SessionID, r.SessionID, "an ended session must not be resumed")
			}
		})
	}
	s.noViolations(fakediscord.ViolationIdentifyRate, fakediscord.ViolationDecode)
}

// Item 7: after a dropped connection the gateway resumes from the last seq
// it published, and every event dispatched meanwhile (replayed by Discord)
// reaches RabbitMQ with the exact bytes Discord sent, RESUMED included.
func TestItem7_ResumeReplaysEveryMissedEvent(t *testing.T) {
	s := newDiscord(t, fakediscord.Options{})
	ev := eventName("ITEM7_REPLAY")
	c := newConsumer(t, ev, "RESUMED")
	s.start(map[string]string{"CORDIS_WS_COMPRESS": "zlib-stream"})
	s.waitSessions(0)

	var live [][]byte
	for range 3 {
		live = append(live, s.dispatch(0, ev, fakediscord.SampleMessageCreate()))
	}
	c.expectBodies(20*time.Second, live)
	lastLive := s.discord.Snapshot().Shards[0].Seq
	old := s.currentConn(0)

	require.NoError(t, s.discord.DropShard(0))
	// The old connection no longer takes writes: these are only delivered
	// by replay.
	var missed []int64
	for range 10 {
		missed = append(missed, s.dispatchNow(0, ev, fakediscord.SampleMessageCreate()))
	}
	rs, _ := s.waitResume(0, old.ID, 20*time.Second)
	assert.Equal(t, old.SessionID, rs.SessionID)
	assert.Equal(t, lastLive, rs.Seq, "RESUME must carry the last seq received")
	assert.Positive(t, rs.Replayed, "fakediscord replayed nothing: the test did not disconnect the shard")
	after := s.dispatchNow(0, ev, fakediscord.SampleMessageCreate())

	// The bytes fakediscord wrote on the resumed connection, by seq.
	want := map[int64][]byte{}
	snap := s.waitFor("replay, RESUMED and the later event written", 10*time.Second, func(sn *fakediscord.Snapshot) bool {
		for _, d := range sn.DispatchesTo(0) {
			if d.ConnID == rs.ConnID {
				want[d.Seq] = d.Raw
			}
		}
		_, ok := want[after]
		return ok
	})
	for _, seq := range missed {
		require.Contains(t, want, seq, "seq %d was never written after the resume", seq)
	}
	var bodies [][]byte
	for _, b := range want {
		bodies = append(bodies, b)
	}
	c.expectBodies(20*time.Second, bodies)
	assert.Len(t, identifiesOf(snap, 0), 1, "a resume must not identify")
}

// Item 7: fatal close codes stop the process with exit status 1 and a
// message naming the code and what to fix; it never reconnects.
func TestItem7_FatalCloseCodesExit1WithAClearMessage(t *testing.T) {
	cases := []struct {
		name    string
		intents string
		close   int // close the shard with this code once connected (0: none)
		code    string
		fix     string
	}{
		{"4004 authentication failed", "nonPrivileged", 4004, "4004", "CORDIS_AUTH"},
		{"4014 disallowed intents", "guildMembers", 0, "4014", "CORDIS_WS_INTENTS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newDiscord(t, fakediscord.Options{})
			g := s.start(map[string]string{"CORDIS_WS_INTENTS": tc.intents})
			if tc.close != 0 {
				s.waitSessions(0)
				require.NoError(t, s.discord.CloseShard(0, tc.close, "Authentication failed."))
			}
			code, err := g.wait(20 * time.Second)
			require.NoError(t, err, "a fatal close code must stop the process")
			assert.Equal(t, 1, code)
			out := strings.Join(g.stderr(), "\n")
			assert.Contains(t, out, tc.code)
			assert.Contains(t, out, tc.fix)
			assert.NotContains(t, out, "cordis-integration-secret-token")
			assert.Len(t, s.discord.Snapshot().Connections, 1, "no reconnect after a fatal close code")
			g.checkNoCrash()
		})
	}
}

// closeWith is a trigger closing the shard's connection with code.
func closeWith(code int, reason string) func(*stack, int) {
	return func(s *stack, shard int) { require.NoError(s.t, s.discord.CloseShard(shard, code, reason)) }
}

func query(t *testing.T, rawURL string) url.Values {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	return u.Query()
}
