package integration

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Issue 8, point 1: hostile frames from Discord. Each case sends dispatches,
// the hostile frame, and more dispatches; the gateway must stay up, its
// memory bounded, and no dispatch other than the hostile one lost.

// hostileRSSBound is what the gateway process may reach (VmHWM) while
// handling any of the frames below: a payload over the 32 MiB bound costs
// about 64 MiB of allocations while it is discarded. The old code kept the
// whole inflated payload (1.13 GB RSS for a 300 MB bomb, and "fatal error:
// out of memory" for 1 GiB).
const hostileRSSBound = 200 << 20

// hostileRSSReturn is how far above its idle level the gateway's RSS may
// stay once the hostile frame was dropped: its buffers are let go and their
// memory handed back to the OS.
const hostileRSSReturn = 48 << 20

// startPlain runs the gateway built without -race (benchBinary): the race
// detector's shadow memory multiplies RSS and is never handed back, so
// memory bounds are measured on the binary users run. It returns its pid
// for /proc readings, which an image's container does not offer.
func (s *stack) startPlain(extra map[string]string) (*gatewayProc, int) {
	s.t.Helper()
	skipInImageMode(s.t, "it reads the gateway's memory from /proc/<pid>, which a container's process does not have on the test's host")
	g := startGatewayFrom(s.t, benchBinary(s.t), s.gatewayEnv(extra))
	pid, _ := g.run.pid()
	return g, pid
}

// deepETFDispatch is an op 0 payload in ETF whose d nests depth lists.
func deepETFDispatch(depth int, seq byte) []byte {
	atom := func(s string) []byte { return append([]byte{119, byte(len(s))}, s...) }
	var b bytes.Buffer
	b.Write([]byte{131, 116, 0, 0, 0, 4})
	b.Write(atom("op"))
	b.Write([]byte{97, 0})
	b.Write(atom("s"))
	b.Write([]byte{97, seq})
	b.Write(atom("t"))
	b.Write(atom("HOSTILE_DEEP"))
	b.Write(atom("d"))
	for range depth {
		b.WriteByte(108)
		b.Write(binary.BigEndian.AppendUint32(nil, 1))
	}
	b.WriteByte(106)
	b.Write(bytes.Repeat([]byte{106}, depth))
	return b.Bytes()
}

func TestFault_HostileFramesLoseNothingElseAndKeepMemoryBounded(t *testing.T) {
	cases := []struct {
		name, encoding, compress string
		send                     func(s *stack) error
		sameConnection           bool // dropped without reconnecting
	}{
		{"zlib bomb of 1 GiB", "json", "zlib-stream", func(s *stack) error { return s.discord.SendBomb(0, 1<<30) }, true},
		{"zstd bomb of 1 GiB", "json", "zstd-stream", func(s *stack) error { return s.discord.SendBomb(0, 1<<30) }, true},
		{"giant uncompressed frame of 48 MiB", "json", "false", func(s *stack) error {
			big := append([]byte(`{"t":"HOSTILE_GIANT","s":2,"op":0,"d":{"content":"`), bytes.Repeat([]byte("x"), 48<<20)...)
			return s.discord.SendPayload(0, append(big, `"}}`...))
		}, true},
		// Refused by the scanner (JSON nested past 1024): like any payload
		// that does not decode, the connection ends and the shard resumes.
		{"JSON nested a million deep", "json", "zlib-stream", func(s *stack) error {
			deep := `{"op":0,"s":2,"t":"HOSTILE_DEEP","d":` + strings.Repeat("[", 1<<20) + "0" + strings.Repeat("]", 1<<20) + "}"
			return s.discord.SendPayload(0, []byte(deep))
		}, false},
		// Walked without recursion and published as it is.
		{"ETF nested a million deep", "etf", "zlib-stream", func(s *stack) error {
			return s.discord.SendPayload(0, deepETFDispatch(1<<20, 2))
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Heartbeats every 10 s: fakediscord writes a hostile frame
			// with its one writer, so ACKs wait behind it (a real Discord
			// beats every ~41 s).
			s := newDiscord(t, fakediscord.Options{HeartbeatInterval: 10 * time.Second})
			ev := eventName("ISSUE8_HOSTILE")
			c := newConsumer(t, ev)
			g, pid := s.startPlain(map[string]string{"CORDIS_WS_ENCODING": tc.encoding, "CORDIS_WS_COMPRESS": tc.compress})
			s.waitSessions(0)
			for range 10 {
				s.dispatch(0, ev, fakediscord.SampleMessageCreate())
			}
			old := s.currentConn(0)
			rss0, hwm0, err := procMemory(pid)
			require.NoError(t, err)
			t.Logf("gateway before: RSS %d MiB, peak %d MiB", rss0>>20, hwm0>>20)

			require.NoError(t, tc.send(s))
			for range 10 {
				s.dispatch(0, ev, fakediscord.SampleMessageCreate())
			}
			requireNoLoss(s, c, ev, 60*time.Second)
			g.requireRunning()
			g.checkNoCrash()
			if tc.sameConnection {
				assert.Equal(t, old.ID, s.currentConn(0).ID, "the hostile frame must not end the connection (a resume would replay it)")
			}
			rss, hwm, err := procMemory(pid)
			require.NoError(t, err)
			t.Logf("gateway after: RSS %d MiB, peak %d MiB", rss>>20, hwm>>20)
			assert.Less(t, hwm, int64(hostileRSSBound), "peak RSS %d MiB", hwm>>20)
			assert.Less(t, rss, rss0+hostileRSSReturn, "RSS %d MiB after the hostile frame, %d MiB before", rss>>20, rss0>>20)
		})
	}
}
