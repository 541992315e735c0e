package fakediscord

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// LoadOptions configure a load run.
type LoadOptions struct {
	// Rate is events per second across all shards; 0 sends as fast as the
	// connections take them.
	Rate float64 `json:"rate"`
	// Duration and Count end the run, whichever comes first; at least one
	// must be set.
	Duration time.Duration `json:"duration"`
	Count    int           `json:"count"`
	// Shards to send to, round robin; empty means every shard with a
	// session.
	Shards []int `json:"shards"`
	// GuildCreateEvery sends one large (~60 KB) GUILD_CREATE every this
	// many events (500; negative disables).
	GuildCreateEvery int `json:"guild_create_every"`
	// Record keeps every dispatch's bytes in the Snapshot (off: counters
	// only, so long runs stay small).
	Record bool `json:"record"`
}

// LoadReport says what a load run sent.
type LoadReport struct {
	Sent    int64            `json:"sent"`
	Bytes   int64            `json:"bytes"`
	ByEvent map[string]int64 `json:"by_event"`
	// BytesByEvent is the encoded payload size (before compression).
	BytesByEvent map[string]int64 `json:"bytes_by_event"`
	Skipped      int64            `json:"skipped"` // shard without a session
	Elapsed      time.Duration    `json:"elapsed"`
	// Rate is Sent per second of Elapsed.
	Rate float64 `json:"rate"`
}

// loadMix is the share of each event per 100, roughly what a large bot
// sees with presences on.
var loadMix = []struct {
	t      string
	weight int
	build  func() map[string]any
}{
	{"MESSAGE_CREATE", 35, SampleMessageCreate},
	{"PRESENCE_UPDATE", 30, SamplePresenceUpdate},
	{"TYPING_START", 15, SampleTypingStart},
	{"GUILD_MEMBER_UPDATE", 10, SampleGuildMemberUpdate},
	{"MESSAGE_REACTION_ADD", 10, SampleMessageReactionAdd},
}

// maxLoadQueue is how many writes may wait per connection before the
// generator slows down to the connection's pace.
const maxLoadQueue = 256

// loadVariants pre-builds a few payloads per event so the generator spends
// its time sending, not building maps.
type loadVariants struct {
	once   sync.Once
	events [][]any // per loadMix entry
	guild  map[string]any
}

var variants loadVariants

func (v *loadVariants) build() {
	v.once.Do(func() {
		v.events = make([][]any, len(loadMix))
		for i, m := range loadMix {
			for range 16 {
				v.events[i] = append(v.events[i], m.build())
			}
		}
		v.guild = SampleGuildCreate(GuildIDs(1, 0, 1)[0], 120)
	})
}

// Load sends a realistic mix of dispatches until the count or duration is
// reached, ctx ends or the server closes.
func (s *Server) Load(ctx context.Context, o LoadOptions) (rep LoadReport, err error) {
	if o.Duration <= 0 && o.Count <= 0 {
		return LoadReport{}, errors.New("fakediscord: load needs a duration or a count")
	}
	if o.GuildCreateEvery == 0 {
		o.GuildCreateEvery = 500
	}
	s.mu.Lock()
	running := s.started && !s.closed
	s.mu.Unlock()
	if !running {
		return LoadReport{}, errors.New("fakediscord: load needs a started server")
	}
	variants.build()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	if o.Duration > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, o.Duration)
		defer c2()
	}

	rep = LoadReport{ByEvent: map[string]int64{}, BytesByEvent: map[string]int64{}}
	start := time.Now()
	// rep is the named result, so the deferred update reaches the caller.
	defer func() {
		rep.Elapsed = time.Since(start)
		if rep.Elapsed > 0 {
			rep.Rate = float64(rep.Sent) / rep.Elapsed.Seconds()
		}
	}()
	for i := 0; o.Count <= 0 || i < o.Count; i++ {
		if ctx.Err() != nil {
			return rep, nil
		}
		if o.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-ctx.Done():
					return rep, nil
				case <-time.After(wait):
				}
			}
		}
		shards := o.Shards
		if len(shards) == 0 {
			shards = s.sessionShards()
		}
		if len(shards) == 0 {
			rep.Skipped++
			continue
		}
		shard := shards[i%len(shards)]
		t, d := pickLoadEvent(i, o.GuildCreateEvery)
		n, queued, derr := s.dispatchLoad(shard, t, d, o.Record)
		if derr != nil {
			if errors.Is(derr, ErrNoSession) {
				rep.Skipped++
				continue
			}
			return rep, fmt.Errorf("fakediscord: load: %w", derr)
		}
		rep.Sent++
		rep.Bytes += int64(n)
		rep.ByEvent[t]++
		rep.BytesByEvent[t] += int64(n)
		// Back-pressure: let a slow client's writer catch up.
		for queued > maxLoadQueue && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
			queued = s.queuedFor(shard)
		}
	}
	return rep, nil
}

func pickLoadEvent(i, guildEvery int) (string, any) {
	if guildEvery > 0 && i%guildEvery == guildEvery-1 {
		return "GUILD_CREATE", variants.guild
	}
	// A fixed spread over 100 keeps runs reproducible.
	k := (i * 37) % 100
	for j, m := range loadMix {
		if k < m.weight {
			return m.t, variants.events[j][i%len(variants.events[j])]
		}
		k -= m.weight
	}
	return loadMix[0].t, variants.events[0][0]
}

// dispatchLoad is Dispatch for one shard that also reports the payload
// size and the connection's write queue length.
func (s *Server) dispatchLoad(shard int, t string, d any, record bool) (size, queued int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sessions, err := s.targetsLocked(shard)
	if err != nil {
		return 0, 0, err
	}
	sess := sessions[0]
	if _, err := s.dispatchLocked(sess, t, d, record); err != nil {
		return 0, 0, err
	}
	size = len(sess.events[len(sess.events)-1].raw)
	if sess.conn != nil {
		queued = sess.conn.queued()
	}
	return size, queued, nil
}

func (s *Server) queuedFor(shard int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess := s.shards[shard]; sess != nil && sess.conn != nil {
		return sess.conn.queued()
	}
	return 0
}

func (s *Server) sessionShards() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int, 0, len(s.shards))
	for id, sess := range s.shards {
		if !sess.invalid {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids
}
