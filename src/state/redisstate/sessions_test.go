package redisstate

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/state"
)

var sess = state.Session{ID: "9f1c", Seq: 7, ResumeURL: "wss://resume.example/?v=10&encoding=etf", ShardTotal: 16}

func TestSessionsSaveWritesTheHashWithTTLOnTheNextFlush(t *testing.T) {
	mr, client, rt := newMini(t)
	s := NewSessions(client, testBot, 0, 16, clock.NewFake(t0), discardLogger())
	require.NoError(t, s.Save(context.Background(), 3, sess))
	require.Empty(t, mr.Keys(), "Save does no I/O: a shard's reader never waits for Redis")
	require.Zero(t, rt.total())
	require.NoError(t, s.Flush(context.Background()))

	key := "cordis:" + testBot + ":session:3"
	require.Equal(t, []string{key}, mr.Keys())
	require.Equal(t, state.SessionTTL, mr.TTL(key))
	for field, want := range map[string]string{
		"session_id": "9f1c", "seq": "7", "resume_gateway_url": sess.ResumeURL, "shard_total": "16",
	} {
		require.Equal(t, want, mr.HGet(key, field), field)
	}
	require.Equal(t, int64(1), rt.total(), "HSET and PEXPIRE in one pipeline")
}

func TestSessionsLoadReportsMissingOrIncompleteAsAbsent(t *testing.T) {
	full := map[string]string{"session_id": "a", "seq": "5", "resume_gateway_url": "wss://r", "shard_total": "4"}
	without := func(field string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			if k != field {
				m[k] = v
			}
		}
		return m
	}
	with := func(field, value string) map[string]string {
		m := without(field)
		m[field] = value
		return m
	}
	for _, tc := range []struct {
		name   string
		fields map[string]string
		want   bool
	}{
		{"complete", full, true},
		{"missing key", nil, false},
		{"no session_id", without("session_id"), false},
		{"no seq", without("seq"), false},
		{"no resume url", without("resume_gateway_url"), false},
		{"no shard_total", without("shard_total"), false},
		{"bad seq", with("seq", "x"), false},
		{"zero shard_total", with("shard_total", "0"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mr, client, _ := newMini(t)
			for k, v := range tc.fields {
				mr.HSet(SessionKey(testBot, 2), k, v)
			}
			s := NewSessions(client, testBot, 0, 4, clock.NewFake(t0), discardLogger())
			got, ok, err := s.Load(context.Background(), 2)
			require.NoError(t, err)
			require.Equal(t, tc.want, ok)
			if ok {
				require.Equal(t, state.Session{ID: "a", Seq: 5, ResumeURL: "wss://r", ShardTotal: 4}, got)
			}
		})
	}
}

func TestSessionsUpdateSeqDoesNoIOAndNoAllocation(t *testing.T) {
	mr, client, rt := newMini(t)
	s := NewSessions(client, testBot, 10, 4, clock.NewFake(t0), discardLogger())
	require.NoError(t, s.Save(context.Background(), 11, sess))
	before, trips := mr.CommandCount(), rt.total()
	var seq int64
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		s.UpdateSeq(11, seq)
		for _, unknown := range []int{-1, 0, 9, 14, 1 << 40} {
			s.UpdateSeq(unknown, seq) // outside 10..13: ignored, no panic
		}
	})
	require.Zero(t, allocs)
	require.Equal(t, before, mr.CommandCount())
	require.Equal(t, trips, rt.total())
}

func TestSessionsFlushOf1000ShardsIsOneRoundTrip(t *testing.T) {
	mr, client, rt := newMini(t)
	const n = 1000
	s := NewSessions(client, testBot, 0, n, clock.NewFake(t0), discardLogger())
	ctx := context.Background()
	for shard := range n {
		require.NoError(t, s.Save(ctx, shard, sess))
	}
	require.NoError(t, s.Flush(ctx))
	mr.FastForward(time.Minute)
	for shard := range n {
		s.UpdateSeq(shard, int64(1000+shard))
	}

	rt.reset()
	before := mr.CommandCount()
	require.NoError(t, s.Flush(ctx))
	require.Equal(t, int64(1), rt.pipelines.Load(), "one pipeline")
	require.Zero(t, rt.commands.Load(), "no single calls")
	require.Equal(t, 2*n, mr.CommandCount()-before, "HSET seq + PEXPIRE per dirty shard")
	for _, shard := range []int{0, 499, 999} {
		key := SessionKey(testBot, shard)
		require.Equal(t, strconv.Itoa(1000+shard), mr.HGet(key, "seq"))
		require.Equal(t, state.SessionTTL, mr.TTL(key), "TTL refreshed")
	}

	before = mr.CommandCount()
	require.NoError(t, s.Flush(ctx))
	require.Equal(t, before, mr.CommandCount(), "nothing dirty, nothing sent")
}

func TestSessionsFlushSkipsShardsWithoutSession(t *testing.T) {
	mr, client, _ := newMini(t)
	s := NewSessions(client, testBot, 0, 4, clock.NewFake(t0), discardLogger())
	ctx := context.Background()
	require.NoError(t, s.Save(ctx, 1, sess))
	require.NoError(t, s.Delete(ctx, 1))
	s.UpdateSeq(1, 99) // a late dispatch after invalidation
	s.UpdateSeq(2, 5)  // never had a session
	require.NoError(t, s.Flush(ctx))
	require.Empty(t, mr.Keys(), "no half sessions written")
}

func TestSessionsRunFlushesEverySecond(t *testing.T) {
	mr, client, rt := newMini(t)
	clk := clock.NewFake(t0)
	s := NewSessions(client, testBot, 0, 2, clk, discardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, s.Save(ctx, 0, sess))
	require.NoError(t, s.Flush(ctx))
	stopped := make(chan struct{})
	go func() { defer close(stopped); s.Run(ctx) }()

	for _, seq := range []int64{100, 200} {
		s.UpdateSeq(0, seq)
		clk.BlockUntil(1)
		rt.reset()
		clk.Advance(FlushInterval)
		clk.BlockUntil(1) // the next tick is armed once this flush is done
		require.Equal(t, strconv.FormatInt(seq, 10), mr.HGet(SessionKey(testBot, 0), "seq"))
		require.Equal(t, int64(1), rt.total())
	}
	cancel()
	<-stopped
}

func TestSessionsRestoreOnStart(t *testing.T) {
	mr, client, _ := newMini(t)
	ctx := context.Background()
	old := NewSessions(client, testBot, 0, 4, clock.NewFake(t0), discardLogger())
	require.NoError(t, old.Save(ctx, 2, sess))
	old.UpdateSeq(2, 1234)
	require.NoError(t, old.Flush(ctx)) // shutdown

	restarted := NewSessions(newClient(t, mr.Addr()), testBot, 0, 4, clock.NewFake(t0), discardLogger())
	got, ok, err := restarted.Load(ctx, 2)
	require.NoError(t, err)
	require.True(t, ok)
	want := sess
	want.Seq = 1234
	require.Equal(t, want, got)

	// Replayed events of the resumed session are flushed too.
	restarted.UpdateSeq(2, 1300)
	require.NoError(t, restarted.Flush(ctx))
	require.Equal(t, "1300", mr.HGet(SessionKey(testBot, 2), "seq"))
}

func TestSessionsExpireOnTheirOwn(t *testing.T) {
	mr, client, _ := newMini(t)
	s := NewSessions(client, testBot, 0, 1, clock.NewFake(t0), discardLogger())
	require.NoError(t, s.Save(context.Background(), 0, sess))
	require.NoError(t, s.Flush(context.Background()))
	mr.FastForward(state.SessionTTL)
	_, ok, err := s.Load(context.Background(), 0)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestSessionsStoreErrorsAreReturnedAndRetried(t *testing.T) {
	mr, client, _ := newMini(t)
	clk := clock.NewFake(t0)
	logger, logs := newLogger()
	s := NewSessions(client, testBot, 0, 4, clk, logger)
	ctx := context.Background()
	require.NoError(t, s.Save(ctx, 3, sess))
	require.NoError(t, s.Flush(ctx))

	mr.SetError("READONLY replica")
	require.NoError(t, s.Save(ctx, 0, sess), "Save only notes the session")
	require.NoError(t, s.Delete(ctx, 3), "Delete only notes the deletion")
	s.UpdateSeq(0, 50)
	_, _, err := s.Load(ctx, 0)
	require.Error(t, err)
	require.Error(t, s.Flush(ctx))

	// Run keeps going and logs once, not once per tick.
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); s.Run(runCtx) }()
	for range 5 {
		clk.BlockUntil(1)
		clk.Advance(FlushInterval)
	}
	require.Equal(t, 1, logs.Count("flush failed"))

	mr.SetError("")
	clk.BlockUntil(1)
	clk.Advance(FlushInterval)
	clk.BlockUntil(1)
	cancel()
	<-stopped
	require.Equal(t, 1, logs.Count("works again"))
	got, ok, err := s.Load(ctx, 0)
	require.NoError(t, err)
	require.True(t, ok, "the failed Save was written by a later flush")
	require.Equal(t, int64(50), got.Seq)
	require.False(t, mr.Exists(SessionKey(testBot, 3)), "the failed Delete too")
}

func TestSessionsQuietSessionsKeepTheirTTL(t *testing.T) {
	mr, client, _ := newMini(t)
	clk := clock.NewFake(t0)
	c := clocks{clk, mr}
	s := NewSessions(client, testBot, 0, 2, clk, discardLogger())
	ctx := context.Background()
	require.NoError(t, s.Save(ctx, 1, sess))
	require.NoError(t, s.Flush(ctx))
	key := SessionKey(testBot, 1)
	for range 6 { // 2 x SessionTTL without a single dispatch
		c.advance(state.SessionTTL / 3)
		require.NoError(t, s.Flush(ctx))
		require.Equal(t, state.SessionTTL, mr.TTL(key), "a live session is refreshed every TTL/3")
	}
	_, ok, err := s.Load(ctx, 1)
	require.NoError(t, err)
	require.True(t, ok)
}

func TestSessionsSaveDuringAFlushIsNotLost(t *testing.T) {
	mr, client, _ := newMini(t)
	s := NewSessions(client, testBot, 0, 1, clock.NewFake(t0), discardLogger())
	ctx := context.Background()
	require.NoError(t, s.Save(ctx, 0, sess))
	mr.SetError("LOADING")
	require.Error(t, s.Flush(ctx))
	newer := sess
	newer.ID = "newer"
	require.NoError(t, s.Save(ctx, 0, newer))
	mr.SetError("")
	require.NoError(t, s.Flush(ctx))
	require.Equal(t, "newer", mr.HGet(SessionKey(testBot, 0), "session_id"))
}

// Issue 8 point 2: Redis restarted without persistence (or failed over)
// between two flushes. Whatever it lost, the next flush must leave a
// complete session that Load resumes, not a hash with only seq.
func TestSessionsFlushLeavesAResumableSessionAfterRedisLostIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		// begin sets up a live session on shard 1 in s and flushes it.
		begin func(t *testing.T, mr *miniredis.Miniredis, s *Sessions)
		// between runs after Redis lost everything, before the flush.
		between func(c clocks, s *Sessions)
		wantSeq int64
	}{
		{
			name: "saved session, seq moved",
			begin: func(t *testing.T, _ *miniredis.Miniredis, s *Sessions) {
				require.NoError(t, s.Save(context.Background(), 1, sess))
			},
			between: func(_ clocks, s *Sessions) { s.UpdateSeq(1, 40) },
			wantSeq: 40,
		},
		{
			name: "saved session, quiet until the TTL refresh",
			begin: func(t *testing.T, _ *miniredis.Miniredis, s *Sessions) {
				require.NoError(t, s.Save(context.Background(), 1, sess))
			},
			between: func(c clocks, _ *Sessions) { c.advance(state.SessionTTL / 3) },
			wantSeq: 20,
		},
		{
			name: "restored session (resumed after a restart), seq moved",
			begin: func(t *testing.T, mr *miniredis.Miniredis, s *Sessions) {
				key := SessionKey(testBot, 1)
				mr.HSet(key, "session_id", sess.ID, "seq", "7", "resume_gateway_url", sess.ResumeURL, "shard_total", "16")
				_, ok, err := s.Load(context.Background(), 1)
				require.NoError(t, err)
				require.True(t, ok)
			},
			between: func(_ clocks, s *Sessions) { s.UpdateSeq(1, 41) },
			wantSeq: 41,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mr, client, _ := newMini(t)
			clk := clock.NewFake(t0)
			s := NewSessions(client, testBot, 0, 4, clk, discardLogger())
			ctx := context.Background()
			tc.begin(t, mr, s)
			require.NoError(t, s.Flush(ctx))
			s.UpdateSeq(1, 20)
			require.NoError(t, s.Flush(ctx)) // a seq-only change before the loss

			mr.FlushAll() // the restart: Redis comes back empty
			tc.between(clocks{clk, mr}, s)
			require.NoError(t, s.Flush(ctx))

			restarted := NewSessions(newClient(t, mr.Addr()), testBot, 0, 4, clock.NewFake(t0), discardLogger())
			got, ok, err := restarted.Load(ctx, 1)
			require.NoError(t, err)
			require.True(t, ok, "Redis holds %v", mr.Keys())
			want := sess
			want.Seq = tc.wantSeq
			require.Equal(t, want, got)
			require.Equal(t, state.SessionTTL, mr.TTL(SessionKey(testBot, 1)))
		})
	}
}

func TestSessionsLoadLogsAnUnreadableSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields []string
		want   string
	}{
		{"only seq, as an old flush left it", []string{"seq", "99"}, "field session_id is missing"},
		{"bad seq", []string{"session_id", "a", "seq", "x", "resume_gateway_url", "wss://r", "shard_total", "4"}, "not a sequence"},
		{"bad total", []string{"session_id", "a", "seq", "1", "resume_gateway_url", "wss://r", "shard_total", "0"}, "not a shard count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mr, client, _ := newMini(t)
			mr.HSet(SessionKey(testBot, 2), tc.fields...)
			logger, logs := newLogger()
			s := NewSessions(client, testBot, 0, 4, clock.NewFake(t0), logger)
			_, ok, err := s.Load(context.Background(), 2)
			require.NoError(t, err)
			require.False(t, ok)
			require.Equal(t, 1, logs.Count("stored session is unreadable"))
			require.Equal(t, 1, logs.Count(tc.want))
			require.Equal(t, 1, logs.Count(`"shard_id":2`))

			_, ok, err = s.Load(context.Background(), 3) // absent: nothing to say
			require.NoError(t, err)
			require.False(t, ok)
			require.Equal(t, 1, logs.Count("stored session is unreadable"))
		})
	}
}
