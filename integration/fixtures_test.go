package integration

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// Fixtures shared by the lifecycle, pacing, reliability, bad input and
// Redis tests: bots of their own, Redis and AMQP addresses, waits on
// fakediscord's records, checks on the gateway's output.

// redisTestDB is the Redis database these tests use; they only ever touch
// keys of their own bot ids in it.
const redisTestDB = 14

// testBot is a bot identity of its own for one test: a token whose first
// segment is the base64 of a fresh user id, so the Redis keys
// cordis:{id}:... belong to this test alone.
type testBot struct {
	token string
	id    string
}

func newTestBot() testBot {
	id := fmt.Sprintf("9876543210%08d", rand.IntN(100_000_000))
	return testBot{
		token: base64.RawStdEncoding.EncodeToString([]byte(id)) + ".GhIjKl.cordis-integration-secret-b",
		id:    id,
	}
}

// redisURL is the URL of the test database, optionally through addr
// (host:port of a proxy) instead of the real server.
func redisURL(t *testing.T, addr string) string {
	t.Helper()
	u, err := url.Parse(env.redisURL)
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	if addr != "" {
		u.Host = addr
	}
	u.Path = "/" + itoa(redisTestDB)
	return u.String()
}

// redisHost is host:port of the test Redis.
func redisHost(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(env.redisURL)
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	return hostPort(u, "6379")
}

// amqpHost is host:port of the test RabbitMQ.
func amqpHost(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(env.amqpURL)
	if err != nil {
		t.Fatalf("parse amqp url: %v", err)
	}
	port := "5672"
	if u.Scheme == "amqps" {
		port = "5671"
	}
	return hostPort(u, port)
}

func hostPort(u *url.URL, defaultPort string) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), defaultPort)
}

// amqpVia is env.amqpURL (credentials and vhost kept) pointed at addr.
func amqpVia(t *testing.T, addr string) string {
	t.Helper()
	u, err := url.Parse(env.amqpURL)
	if err != nil {
		t.Fatalf("parse amqp url: %v", err)
	}
	u.Host = addr
	return u.String()
}

// redisClient connects to the test database; the bot's keys are deleted
// when the test ends (its own keys only: never FLUSHDB).
func redisClient(t *testing.T, bot testBot) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(redisURL(t, ""))
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if keys := botKeys(ctx, t, rdb, bot); len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
		_ = rdb.Close()
	})
	return rdb
}

// botKeys lists the keys of bot in the test database.
func botKeys(ctx context.Context, t *testing.T, rdb *redis.Client, bot testBot) []string {
	t.Helper()
	var keys []string
	iter := rdb.Scan(ctx, 0, "cordis:"+bot.id+":*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan redis keys: %v", err)
	}
	slices.Sort(keys)
	return keys
}

// newBotDiscord is newDiscord for a bot of its own; extra gives the
// gateway that bot's token.
func newBotDiscord(t *testing.T, bot testBot, opts fakediscord.Options) *stack {
	t.Helper()
	opts.Token = bot.token
	return newDiscord(t, opts)
}

// botEnv is the gateway environment for bot with Redis at redisURL, on top
// of extra.
func botEnv(bot testBot, redisURL string, extra map[string]string) map[string]string {
	vars := map[string]string{"CORDIS_AUTH": "Bot " + bot.token}
	if redisURL != "" {
		vars["CORDIS_REDIS_URL"] = redisURL
	}
	for k, v := range extra {
		vars[k] = v
	}
	return vars
}

// eventName is a dispatch name no other test (or process sharing the
// broker) uses, so a test's queue only sees its own events.
func eventName(prefix string) string {
	return fmt.Sprintf("%s_%08X", prefix, rand.Uint32())
}

// expectBodies reads deliveries until every body in want arrived (each at
// least once; other messages are ignored) and fails naming what is missing.
func (c *consumer) expectBodies(timeout time.Duration, want [][]byte) {
	c.t.Helper()
	missing := map[string]int{}
	for _, w := range want {
		missing[string(w)]++
	}
	left := len(want)
	var others []string // what arrived that was not wanted (or a duplicate)
	deadline := time.After(timeout)
	for left > 0 {
		select {
		case d := <-c.in:
			if missing[string(d.Body)] > 0 {
				missing[string(d.Body)]--
				left--
			} else {
				others = append(others, d.RoutingKey+" "+shorten(string(d.Body)))
			}
		case <-deadline:
			var lost []string
			for body, n := range missing {
				if n > 0 {
					lost = append(lost, shorten(body))
				}
			}
			slices.Sort(lost)
			c.t.Fatalf("%d of %d dispatches never reached RabbitMQ within %v:\n%s\nother deliveries meanwhile:\n%s",
				left, len(want), timeout, strings.Join(lost, "\n"), strings.Join(others, "\n"))
		}
	}
}

func shorten(s string) string {
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}

// dispatchNow sends an event without waiting for fakediscord to write it
// (the shard may be disconnected: then it is kept for RESUME replay).
func (s *stack) dispatchNow(shard int, t string, d any) int64 {
	s.t.Helper()
	seq, err := s.discord.Dispatch(shard, t, d)
	if err != nil {
		s.t.Fatalf("dispatch %s: %v", t, err)
	}
	return seq
}

// sessionOf returns the session id fakediscord holds for shard.
func (s *stack) sessionOf(shard int) string {
	return s.discord.Snapshot().Shards[shard].SessionID
}

// currentConn returns the connection carrying shard's session, waiting
// (under load a shard may be between connections) until it has one.
func (s *stack) currentConn(shard int) fakediscord.ConnInfo {
	s.t.Helper()
	var c fakediscord.ConnInfo
	s.waitFor(fmt.Sprintf("shard %d connected", shard), 20*time.Second, func(sn *fakediscord.Snapshot) bool {
		st := sn.Shards[shard]
		conn, ok := sn.Conn(st.ConnID)
		c = conn
		return st.Connected && ok
	})
	return c
}

// waitClosed waits until connection id is closed and returns it.
func (s *stack) waitClosed(id int, timeout time.Duration) fakediscord.ConnInfo {
	s.t.Helper()
	var info fakediscord.ConnInfo
	s.waitFor(fmt.Sprintf("connection %d closed", id), timeout, func(sn *fakediscord.Snapshot) bool {
		c, ok := sn.Conn(id)
		info = c
		return ok && !c.Open()
	})
	return info
}

// waitResume waits for an accepted RESUME of shard on a connection newer
// than after and returns it with its connection.
func (s *stack) waitResume(shard, after int, timeout time.Duration) (fakediscord.Resume, fakediscord.ConnInfo) {
	s.t.Helper()
	return waitAccepted(s, fmt.Sprintf("shard %d resumed", shard), shard, after, timeout,
		func(sn *fakediscord.Snapshot) []fakediscord.Resume { return sn.Resumes },
		func(r fakediscord.Resume) (bool, int, int) { return r.Accepted, r.Shard, r.ConnID })
}

// waitIdentify waits for an accepted IDENTIFY of shard on a connection
// newer than after and returns it with its connection.
func (s *stack) waitIdentify(shard, after int, timeout time.Duration) (fakediscord.Identify, fakediscord.ConnInfo) {
	s.t.Helper()
	return waitAccepted(s, fmt.Sprintf("shard %d identified", shard), shard, after, timeout,
		func(sn *fakediscord.Snapshot) []fakediscord.Identify { return sn.Identifies },
		func(i fakediscord.Identify) (bool, int, int) { return i.Accepted, i.Shard, i.ConnID })
}

// waitAccepted waits for the first of records (RESUMEs or IDENTIFYs) that
// fakediscord accepted from shard on a connection newer than after, and
// returns it with its connection; fields reads a record's accepted, shard and
// connection id.
func waitAccepted[R any](s *stack, what string, shard, after int, timeout time.Duration,
	records func(*fakediscord.Snapshot) []R, fields func(R) (accepted bool, shard, connID int),
) (R, fakediscord.ConnInfo) {
	s.t.Helper()
	var (
		rec  R
		info fakediscord.ConnInfo
	)
	s.waitFor(what, timeout, func(sn *fakediscord.Snapshot) bool {
		for _, r := range records(sn) {
			if ok, sh, conn := fields(r); ok && sh == shard && conn > after {
				rec = r
				info, _ = sn.Conn(conn)
				return true
			}
		}
		return false
	})
	return rec, info
}

// identifiesOf returns every IDENTIFY (accepted or not) shard sent.
func identifiesOf(sn *fakediscord.Snapshot, shard int) []fakediscord.Identify {
	var out []fakediscord.Identify
	for _, i := range sn.Identifies {
		if i.Shard == shard {
			out = append(out, i)
		}
	}
	return out
}

// logsAt returns the gateway's log records at level ("ERROR", "WARN", ...).
func (g *gatewayProc) logsAt(level string) []map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []map[string]any
	for _, rec := range g.logs {
		if rec["level"] == level {
			out = append(out, rec)
		}
	}
	return out
}

// requireRunning fails if the gateway exited.
func (g *gatewayProc) requireRunning() {
	g.t.Helper()
	if g.exited() {
		g.t.Fatalf("gateway exited with %d; it must keep running", g.exit)
	}
}

// checkNoCrash fails on a panic or a data race in the gateway's stderr.
func (g *gatewayProc) checkNoCrash() {
	g.t.Helper()
	for _, line := range g.stderr() {
		if strings.HasPrefix(line, "panic:") || strings.Contains(line, "DATA RACE") || strings.HasPrefix(line, "fatal error:") {
			g.t.Fatalf("gateway crashed: %s", line)
		}
	}
}

// noViolations fails on any broken Discord rule fakediscord recorded.
func (s *stack) noViolations(kinds ...string) {
	s.t.Helper()
	snap := s.discord.Snapshot()
	for _, k := range kinds {
		for _, v := range snap.ViolationsOf(k) {
			s.t.Errorf("fakediscord recorded a %s violation on shard %d: %s", v.Kind, v.Shard, v.Detail)
		}
	}
}
