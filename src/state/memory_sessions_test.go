package state

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMemorySessionsRoundTrip(t *testing.T) {
	ctx := context.Background()
	m := NewMemorySessions()

	_, ok, err := m.Load(ctx, 3)
	require.NoError(t, err)
	require.False(t, ok, "nothing saved yet")

	m.UpdateSeq(3, 99) // before any Save: ignored, no panic
	_, ok, _ = m.Load(ctx, 3)
	require.False(t, ok)

	s := Session{ID: "abc", Seq: 1, ResumeURL: "wss://resume.example", ShardTotal: 8}
	require.NoError(t, m.Save(ctx, 3, s))
	m.UpdateSeq(3, 42)
	got, ok, err := m.Load(ctx, 3)
	require.NoError(t, err)
	require.True(t, ok)
	s.Seq = 42
	require.Equal(t, s, got)

	require.NoError(t, m.Save(ctx, 3, Session{ID: "new", Seq: 1, ResumeURL: "wss://b", ShardTotal: 8}))
	got, _, _ = m.Load(ctx, 3)
	require.Equal(t, int64(1), got.Seq, "Save replaces the old seq")

	require.NoError(t, m.Flush(ctx))
	require.NoError(t, m.Delete(ctx, 3))
	_, ok, _ = m.Load(ctx, 3)
	require.False(t, ok, "deleted on invalidation")
}

func TestMemorySessionsUpdateSeqDoesNotAllocate(t *testing.T) {
	m := NewMemorySessions()
	require.NoError(t, m.Save(context.Background(), 1, Session{ID: "x", ShardTotal: 2}))
	var seq int64
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		m.UpdateSeq(1, seq)
		m.UpdateSeq(7, seq) // unknown shard
	})
	require.Zero(t, allocs)
}

func BenchmarkMemorySessionsUpdateSeq(b *testing.B) {
	m := NewMemorySessions()
	_ = m.Save(context.Background(), 1, Session{ID: "x", ShardTotal: 2})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.UpdateSeq(1, int64(i))
	}
}
