package fakediscord

// A real, widely used Go client library (github.com/disgoorg/disgo, a
// test-only dependency) is the oracle here: if fakediscord drifts from
// Discord where disgo relies on it, these tests fail. disgo speaks JSON
// with payload compression (IDENTIFY compress: true) or none; for
// zlib-stream internal/disgoclient gives it a per-connection inflater.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/disgo/rest"
)

// disgoLine is one report of internal/disgoclient.
type disgoLine struct {
	Kind      string   `json:"kind"`
	T         string   `json:"t"`
	S         int      `json:"s"`
	Shard     int      `json:"shard"`
	Detail    string   `json:"detail"`
	Session   string   `json:"session"`
	Nonce     string   `json:"nonce"`
	Members   []string `json:"members"`
	NotFound  []string `json:"not_found"`
	Presences int      `json:"presences"`
	Chunks    int      `json:"chunk_count"`
}

// clientSide records what disgo delivered per shard and checks that the
// seqs of each session come without gap or duplicate.
type clientSide struct {
	mu       sync.Mutex
	last     map[int]int // shard -> last seq delivered in its session
	readies  map[int]int
	resumed  map[int]int
	acks     map[int]int
	byType   map[string]int
	chunks   []disgoLine
	problems []string
}

func newClientSide() *clientSide {
	return &clientSide{last: map[int]int{}, readies: map[int]int{}, resumed: map[int]int{}, acks: map[int]int{}, byType: map[string]int{}}
}

func (c *clientSide) handle(l disgoLine) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch l.Kind {
	case "event":
	case "gateway":
		return
	default: // problem, log, error: anything disgo reports fails the test
		c.problems = append(c.problems, fmt.Sprintf("disgo %s: shard %d %s s=%d: %s", l.Kind, l.Shard, l.T, l.S, l.Detail))
		return
	}
	switch l.T {
	case string(gateway.EventTypeHeartbeatAck):
		c.acks[l.Shard]++
		return
	case string(gateway.EventTypeReady):
		c.readies[l.Shard]++
		if l.S != 1 {
			c.problems = append(c.problems, fmt.Sprintf("shard %d: READY with seq %d", l.Shard, l.S))
		}
		c.last[l.Shard] = l.S
		c.byType[l.T]++
		return
	case string(gateway.EventTypeResumed):
		c.resumed[l.Shard]++
	case string(gateway.EventTypeGuildMembersChunk):
		c.chunks = append(c.chunks, l)
	}
	c.byType[l.T]++
	if l.S != c.last[l.Shard]+1 {
		c.problems = append(c.problems, fmt.Sprintf("shard %d: %s seq %d after %d", l.Shard, l.T, l.S, c.last[l.Shard]))
	}
	c.last[l.Shard] = l.S
}

func (c *clientSide) get(f func(*clientSide) int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return f(c)
}

// startDisgo builds internal/disgoclient (without -race: disgo v0.18 has
// data races of its own) and runs it against s.
func startDisgo(t *testing.T, s *Server, side *clientSide) (send func(string), wait func() error) {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test runs with the go command on PATH
	if err != nil {
		t.Fatalf("building disgoclient needs the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "disgoclient")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/cordis-gateway/cordis/fakediscord/internal/disgoclient")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building disgoclient: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, "-api", s.APIURL(), "-token", s.Options().Token)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l disgoLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = disgoLine{Kind: "garbage", Detail: sc.Text()}
			}
			side.handle(l)
		}
	}()
	done := false
	t.Cleanup(func() {
		if !done {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	send = func(line string) {
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Fatalf("to disgoclient: %v", err)
		}
	}
	wait = func() error {
		send("close")
		<-read
		done = true
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("disgoclient: %w\n%s", err, stderr.String())
		}
		return nil
	}
	return send, wait
}

// dropAndDispatch drops shard's connection and dispatches n events to its
// session in one step under the server's lock, so a client that resumes at
// once (disgo does) still finds all n to replay.
func dropAndDispatch(t *testing.T, s *Server, shard, n int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.shards[shard]
	if sess == nil || sess.conn == nil {
		t.Fatalf("shard %d is not connected", shard)
	}
	sess.conn.enqueue(outMsg{kind: outDrop})
	for range n {
		if _, err := s.dispatchLocked(sess, "MESSAGE_CREATE", SampleMessageCreate(), true); err != nil {
			t.Fatal(err)
		}
	}
	s.notifyLocked()
}

// eventually polls cond (which reads both sides) until it holds.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDisgoDecodesEverySampleEvent(t *testing.T) {
	s := startServer(t, Options{Guilds: 2, PrivilegedIntents: PrivilegedIntents})
	c := dial(t, s, EncodingJSON, CompressNone)
	c.expectOp(OpHello)
	c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 513|intentGuildMembers|intentGuildPresences))
	ready, _ := c.expectDispatch("READY")
	guild := GuildIDs(2, 0, 1)[0]
	for _, ev := range loadMix {
		if _, err := s.Dispatch(0, ev.t, ev.build()); err != nil {
			t.Fatal(err)
		}
	}
	c.send(OpRequestMembers, map[string]any{"guild_id": guild, "user_ids": []any{Snowflake(uint64(guild) + 1), NewSnowflake()}, "presences": true, "nonce": "x"})
	c.expectDispatch("GUILD_MEMBERS_CHUNK")
	r := dial(t, s, EncodingJSON, CompressNone)
	r.expectOp(OpHello)
	r.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["d"].(map[string]any)["session_id"], "seq": 1})
	r.expectDispatch("RESUMED")

	seen := map[string]bool{}
	for _, d := range s.Snapshot().DispatchesTo(0) {
		var m gateway.Message
		if err := json.Unmarshal(d.Raw, &m); err != nil {
			t.Errorf("%s does not decode into disgo's model: %v\n%s", d.T, err, d.Raw)
			continue
		}
		if _, unknown := m.D.(gateway.EventUnknown); unknown {
			t.Errorf("%s is unknown to disgo", d.T)
		}
		if m.S != int(d.Seq) || string(m.T) != d.T {
			t.Errorf("disgo read s=%d t=%s, sent s=%d t=%s", m.S, m.T, d.Seq, d.T)
		}
		seen[d.T] = true
	}
	want := []string{"READY", "GUILD_CREATE", "GUILD_MEMBERS_CHUNK", "RESUMED"}
	for _, ev := range loadMix {
		want = append(want, ev.t)
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no %s checked", w)
		}
	}
}

func TestDisgoRESTReadsGatewayAndGatewayBot(t *testing.T) {
	s := startServer(t, Options{Shards: 4, MaxConcurrency: 2, SessionStartRemaining: 990})
	client := rest.New(rest.NewClient(s.Options().Token, rest.WithURL(s.APIURL()), rest.WithHTTPClient(&http.Client{Timeout: 5 * time.Second})))
	g, err := client.GetGateway()
	if err != nil || g.URL != s.GatewayURL() {
		t.Fatalf("GET /gateway: %+v %v", g, err)
	}
	gb, err := client.GetGatewayBot()
	if err != nil {
		t.Fatal(err)
	}
	if gb.URL != s.GatewayURL() || gb.Shards != 4 || gb.SessionStartLimit.MaxConcurrency != 2 || gb.SessionStartLimit.Remaining != 990 || gb.SessionStartLimit.Total != 1000 {
		t.Fatalf("GET /gateway/bot: %+v", gb)
	}
	for _, r := range s.Snapshot().Requests {
		if r.Status != 200 {
			t.Fatalf("request %+v", r)
		}
	}
}

// TestDisgoShardsThroughTheWholeSessionLifecycle runs disgo's shard
// manager (internal/disgoclient) against fakediscord: four shards in two
// identify buckets, heartbeats, a dispatch stream (two shards with payload
// compression, two with zlib-stream), commands, op 7, op 9 both ways and a dropped
// connection with replay on resume. Any error either side reports, any
// problem disgo's typed models show, any gap or duplicate seq fails it.
func TestDisgoShardsThroughTheWholeSessionLifecycle(t *testing.T) {
	s := startServer(t, Options{
		Shards: 4, MaxConcurrency: 2, Guilds: 2,
		HeartbeatInterval: time.Second, ZombieTimeout: 10 * time.Second,
		// disgo waits 5s between the dials of a bucket, not between its
		// IDENTIFYs; 4s leaves room for a slow handshake on a busy machine.
		IdentifyInterval:  4 * time.Second,
		PrivilegedIntents: PrivilegedIntents,
	})
	side := newClientSide()
	send, wait := startDisgo(t, s, side)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Identify: every shard READY and both GUILD_CREATEs in.
	eventually(t, "READY and both GUILD_CREATEs on every shard", 60*time.Second, func() bool {
		return side.get(func(c *clientSide) int {
			n := 0
			for sh := range 4 {
				if c.readies[sh] == 1 && c.last[sh] >= 3 {
					n++
				}
			}
			return n
		}) == 4
	})
	// synced: the client delivered everything the fake sent to each shard.
	synced := func() bool {
		st := s.Snapshot().Shards
		return side.get(func(c *clientSide) int {
			for sh := range 4 {
				if !st[sh].Connected || int64(c.last[sh]) != st[sh].Seq {
					return 0
				}
			}
			return 1
		}) == 1
	}

	// Heartbeats at the interval from HELLO, each acknowledged.
	eventually(t, "two acknowledged heartbeats from every shard", 20*time.Second, func() bool {
		sn := s.Snapshot()
		for sh := range 4 {
			if len(sn.ReceivedOp(sh, OpHeartbeat)) < 2 {
				return false
			}
		}
		return side.get(func(c *clientSide) int { return min(c.acks[0], c.acks[1], c.acks[2], c.acks[3]) }) >= 2
	})

	// A dispatch stream of the whole load mix with large GUILD_CREATEs.
	rep, err := s.Load(ctx, LoadOptions{Count: 400, GuildCreateEvery: 100})
	if err != nil || rep.Sent != 400 {
		t.Fatalf("load: %+v %v", rep, err)
	}
	eventually(t, "the load delivered", 30*time.Second, synced)

	// Commands as disgo builds them are accepted, op 8 is answered.
	guild := GuildIDs(2, 1, 4)[0]
	member := Snowflake(uint64(guild) + 1)
	send("presence 1")
	send(fmt.Sprintf("voice 1 %d", guild))
	send(fmt.Sprintf("members-all 1 %d everyone", guild))
	send(fmt.Sprintf("members-ids 1 %d %d,42 two", guild, member))
	eventually(t, "two member chunks", 20*time.Second, func() bool { return side.get(func(c *clientSide) int { return len(c.chunks) }) == 2 })
	side.mu.Lock()
	all, two := side.chunks[0], side.chunks[1]
	side.mu.Unlock()
	if all.Nonce != "everyone" || len(all.Members) != guildMemberCount || all.Presences != guildMemberCount || all.Chunks != 1 {
		t.Errorf("whole-list chunk: %+v", all)
	}
	if two.Nonce != "two" || fmt.Sprint(two.Members) != fmt.Sprintf("[%d]", member) || fmt.Sprint(two.NotFound) != "[42]" {
		t.Errorf("user_ids chunk: %+v", two)
	}

	// op 7 and op 9 true: disgo resumes on resume_gateway_url.
	if err := s.Reconnect(1); err != nil {
		t.Fatal(err)
	}
	if err := s.InvalidSession(2, true); err != nil {
		t.Fatal(err)
	}
	// A dropped connection with events sent while it is down: replayed.
	dropAndDispatch(t, s, 3, 25)
	eventually(t, "shards 1-3 resumed", 30*time.Second, func() bool {
		return side.get(func(c *clientSide) int { return min(c.resumed[1], c.resumed[2], c.resumed[3]) }) == 1
	})

	// op 9 false: disgo identifies anew at once (it does not wait the 1-5s
	// Discord asks for), so it goes only once bucket 0 (shards 0 and 2)
	// may identify again.
	var lastBucket0 time.Time
	for _, id := range s.Snapshot().AcceptedIdentifies() {
		if id.Shard%2 == 0 && id.Time.After(lastBucket0) {
			lastBucket0 = id.Time
		}
	}
	time.Sleep(time.Until(lastBucket0.Add(s.Options().IdentifyInterval + 100*time.Millisecond)))
	if err := s.InvalidSession(0, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "shard 0 identified again", 30*time.Second, func() bool {
		return side.get(func(c *clientSide) int { return c.readies[0] }) == 2
	})
	if _, err := s.Dispatch(AllShards, "TYPING_START", SampleTypingStart()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every shard in sync after the reconnects", 30*time.Second, synced)

	sn := s.Snapshot()
	if got := len(sn.AcceptedIdentifies()); got != 5 {
		t.Errorf("accepted identifies = %d, want 5", got)
	}
	var resumed []int
	for _, r := range sn.Resumes {
		if !r.Accepted {
			t.Errorf("refused resume %+v", r)
		}
		resumed = append(resumed, r.Shard)
		if c, ok := sn.Conn(r.ConnID); !ok || c.Path != "/resume" {
			t.Errorf("resume %+v not on resume_gateway_url: %+v", r, c)
		}
		if r.Shard == 3 && r.Replayed < 25 {
			t.Errorf("shard 3 replayed %d, want >= 25", r.Replayed)
		}
	}
	sort.Ints(resumed)
	if fmt.Sprint(resumed) != "[1 2 3]" {
		t.Errorf("resumed shards = %v", resumed)
	}
	var compressed []int
	for _, id := range sn.AcceptedIdentifies() {
		if d, _ := id.Payload["d"].(map[string]any); d["compress"] == true {
			compressed = append(compressed, id.Shard)
		}
	}
	sort.Ints(compressed)
	if fmt.Sprint(compressed) != "[0 0 2]" {
		t.Errorf("identifies with compress true from shards %v, want [0 0 2]", compressed)
	}
	for _, c := range sn.Connections {
		if want := Compression(""); c.Shard%2 == 1 && c.Compress != CompressZlib || c.Shard%2 == 0 && c.Compress != want {
			t.Errorf("connection %d of shard %d: compress %q", c.ID, c.Shard, c.Compress)
		}
	}

	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitFor(ctx, func(sn *Snapshot) bool {
		for _, c := range sn.Connections {
			if c.Open() {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if v := s.Snapshot().Violations; len(v) != 0 {
		t.Errorf("fakediscord saw violations: %+v", v)
	}
	// Every connection ended the expected way: disgo closes with 1012 to
	// resume after op 7 and op 9 true, with 1000 after op 9 false and when
	// shut down; shard 3's first was dropped.
	ends := map[int][]string{}
	for _, c := range s.Snapshot().Connections {
		ends[c.Shard] = append(ends[c.Shard], fmt.Sprintf("%s %d", c.ClosedBy, c.CloseCode))
	}
	want := map[int][]string{
		0: {"client 1000", "client 1000"},
		1: {"client 1012", "client 1000"},
		2: {"client 1012", "client 1000"},
		3: {"drop 0", "client 1000"},
	}
	if fmt.Sprint(ends) != fmt.Sprint(want) {
		t.Errorf("connection ends by shard:\n got %v\nwant %v", ends, want)
	}
	side.mu.Lock()
	defer side.mu.Unlock()
	for _, p := range side.problems {
		t.Error(p)
	}
	events := []string{"GUILD_CREATE", "RESUMED"}
	for _, ev := range loadMix {
		events = append(events, ev.t)
	}
	for _, w := range events {
		if side.byType[w] == 0 {
			t.Errorf("disgo delivered no %s", w)
		}
	}
}
