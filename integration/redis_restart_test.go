package integration

import (
	"context"
	"net"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// privateRedis is a redis-server of the test's own, without persistence, so
// the test can restart it empty without touching the shared one.
type privateRedis struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but redis-server is not installed: this test restarts a Redis of its own")
		}
		t.Skip("redis-server is not installed")
	}
	p := &privateRedis{t: t, addr: freeAddr(t)}
	p.start()
	t.Cleanup(p.stop)
	return p
}

// start runs redis-server on p.addr and waits until it answers.
func (p *privateRedis) start() {
	p.t.Helper()
	host, port, _ := net.SplitHostPort(p.addr)
	p.cmd = exec.Command("redis-server", "--bind", host, "--port", port, "--save", "", "--appendonly", "no")
	require.NoError(p.t, p.cmd.Start())
	rdb := redis.NewClient(&redis.Options{Addr: p.addr})
	defer func() { _ = rdb.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		require.True(p.t, time.Now().Before(deadline), "private redis-server on %s never answered", p.addr)
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server: whatever it held is gone.
func (p *privateRedis) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// steadyDispatcher dispatches event t to shard every interval until stopped,
// as Discord does whatever the gateway is going through, and keeps the
// seqs it used.
type steadyDispatcher struct {
	mu   sync.Mutex
	seqs []int64
	stop chan struct{}
	done chan struct{}
}

func dispatchSteadily(s *stack, shard int, t string, every time.Duration) *steadyDispatcher {
	d := &steadyDispatcher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-tick.C:
			}
			seq, err := s.discord.Dispatch(shard, t, fakediscord.SampleMessageCreate())
			if err != nil {
				s.t.Errorf("dispatch %s: %v", t, err)
				return
			}
			d.mu.Lock()
			d.seqs = append(d.seqs, seq)
			d.mu.Unlock()
		}
	}()
	s.t.Cleanup(func() { d.halt() })
	return d
}

// halt stops dispatching and returns the seqs used.
func (d *steadyDispatcher) halt() []int64 {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]int64(nil), d.seqs...)
}

// lossBySeq counts at c the dispatches of t that fakediscord took for
// shard's session with the given seqs, whether the gateway read them live
// or on a RESUME's replay. A seq that never reached the gateway at all
// (the session was given up) is lost too.
func lossBySeq(s *stack, c *consumer, shard int, session, t string, seqs []int64, timeout time.Duration) lossReport {
	s.t.Helper()
	written := func(sn *fakediscord.Snapshot) map[int64][]byte {
		by := map[int64][]byte{}
		for _, d := range sn.Dispatches {
			if d.Shard == shard && d.SessionID == session && d.T == t && by[d.Seq] == nil {
				by[d.Seq] = d.Raw
			}
		}
		return by
	}
	// Give the replay time to be written; what never is stays lost.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	snap, err := s.discord.WaitFor(ctx, func(sn *fakediscord.Snapshot) bool { return len(written(sn)) >= len(seqs) })
	if err != nil {
		snap = s.discord.Snapshot()
	}
	by := written(snap)
	want := map[string]eventKey{}
	var never []eventKey
	for _, seq := range seqs {
		if raw, ok := by[seq]; ok {
			want[string(raw)] = eventKey{shard: shard, seq: seq}
		} else {
			never = append(never, eventKey{shard: shard, seq: seq})
		}
	}
	r := tally(c, want, timeout)
	r.sent = len(seqs)
	r.lost = append(never, r.lost...)
	slices.SortFunc(r.lost, func(a, b eventKey) int { return int(a.seq - b.seq) })
	return r
}

// Issue 8 point 2: Redis restarts empty (no persistence) while the gateway
// runs; the gateway is then killed while Discord keeps dispatching. The
// next start must still RESUME and replay: 0 events lost, counted by
// shard and seq.
func TestFault_RedisRestartedEmptyStillResumesAfterAGatewayRestart(t *testing.T) {
	bot := newTestBot()
	rd := startPrivateRedis(t)
	s := newBotDiscord(t, bot, fakediscord.Options{ReplayBuffer: 50000})
	ev := eventName("ISSUE8_REDIS_RESTART")
	c := s.consumer(ev)
	key := "cordis:" + bot.id + ":session:0"
	vars := botEnv(bot, "redis://"+rd.addr+"/0", nil)

	first := s.start(vars)
	s.waitSessions(0)
	session := s.sessionOf(0)
	d := dispatchSteadily(s, 0, ev, 5*time.Millisecond)
	time.Sleep(2 * time.Second) // a few flushes of the session

	rd.stop()
	time.Sleep(time.Second) // flushes fail meanwhile
	rd.start()              // back, and empty
	rdb := redis.NewClient(&redis.Options{Addr: rd.addr})
	defer func() { _ = rdb.Close() }()
	ctx := testContext(t)
	stored := func() map[string]string {
		h, _ := rdb.HGetAll(ctx, key).Result()
		return h
	}
	deadline := time.Now().Add(15 * time.Second)
	for stored()["seq"] == "" { // the gateway wrote to the new Redis
		require.True(t, time.Now().Before(deadline), "the gateway never wrote its session to the restarted Redis")
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // and again, a flush later
	t.Logf("restarted Redis holds %v", stored())

	killedConn := s.currentConn(0).ID
	first.signal(syscall.SIGKILL)
	_, err := first.wait(10 * time.Second)
	require.NoError(t, err)
	time.Sleep(time.Second) // Discord keeps dispatching while the gateway is down

	s.start(vars)
	rs, _ := s.waitResume(0, killedConn, 30*time.Second)
	assert.Equal(t, session, rs.SessionID, "the restarted gateway resumes the session Redis lost and got back")
	assert.Positive(t, rs.Replayed, "what was dispatched while the gateway was down is replayed")
	time.Sleep(time.Second)
	seqs := d.halt()

	r := lossBySeq(s, c, 0, session, ev, seqs, 60*time.Second)
	require.Greater(t, r.sent, 500, "the test dispatched too little to prove anything")
	require.Empty(t, r.lost, "dispatches lost at the consumer: %v", r)
	t.Logf("%s: %v", ev, r)
	assert.Len(t, s.discord.Snapshot().AcceptedIdentifies(), 1, "the restart must resume, not identify")
}
