package integration

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// stack is one fakediscord plus the gateway processes a test runs against it.
type stack struct {
	t       *testing.T
	discord *fakediscord.Server
}

// newDiscord starts an in-process fakediscord with the test token and a
// short heartbeat so tests see heartbeats quickly.
func newDiscord(t *testing.T, opts fakediscord.Options) *stack {
	t.Helper()
	requireServices(t)
	if opts.Token == "" {
		opts.Token = testToken
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = time.Second
	}
	srv := fakediscord.New(opts)
	if err := srv.Start(); err != nil {
		t.Fatalf("start fakediscord: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &stack{t: t, discord: srv}
}

// forTest is s with its failures reported on t: a subtest using a stack
// its parent made calls s := s.forTest(t) first, so that a failed wait
// fails the subtest (calling FailNow on the parent from a subtest panics
// and skips the remaining subtests).
func (s *stack) forTest(t *testing.T) *stack {
	c := *s
	c.t = t
	return &c
}

// gatewayEnv is the environment of a gateway talking to this fakediscord
// and the test RabbitMQ; extra overrides it.
func (s *stack) gatewayEnv(extra map[string]string) map[string]string {
	vars := map[string]string{
		"CORDIS_AUTH":             "Bot " + testToken,
		"CORDIS_AMQP_HOST":        env.amqpURL,
		"CORDIS_DISCORD_API":      s.discord.APIURL(),
		"CORDIS_DEBUG":            "true",
		"CORDIS_WS_ENCODING":      "json",
		"CORDIS_WS_COMPRESS":      "false",
		"CORDIS_WS_INTENTS":       "nonPrivileged",
		"CORDIS_WS_GUILD_TIMEOUT": "2s",
	}
	for k, v := range extra {
		vars[k] = v
	}
	return vars
}

// start runs a gateway against this fakediscord.
func (s *stack) start(extra map[string]string) *gatewayProc {
	s.t.Helper()
	return startGateway(s.t, s.gatewayEnv(extra))
}

// waitSessions waits until every listed shard has a live session.
func (s *stack) waitSessions(shards ...int) *fakediscord.Snapshot {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	snap, err := s.discord.WaitConnected(ctx, shards...)
	if err != nil {
		s.t.Fatalf("shards %v never got a session: %v", shards, err)
	}
	return snap
}

// waitFor waits for cond on fakediscord's records.
func (s *stack) waitFor(what string, timeout time.Duration, cond func(*fakediscord.Snapshot) bool) *fakediscord.Snapshot {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	snap, err := s.discord.WaitFor(ctx, cond)
	if err != nil {
		s.t.Fatalf("fakediscord: %s did not happen within %v", what, timeout)
	}
	return snap
}

// dispatch sends an event and returns the exact bytes fakediscord wrote.
func (s *stack) dispatch(shard int, t string, d any) []byte {
	s.t.Helper()
	session := s.sessionOf(shard)
	seq := s.dispatchNow(shard, t, d)
	var raw []byte
	s.waitFor("dispatch "+t+" recorded", 10*time.Second, func(sn *fakediscord.Snapshot) bool {
		for _, d := range sn.DispatchesTo(shard) {
			// seqs restart with every session: match the session too
			if d.Seq == seq && d.T == t && d.SessionID == session {
				raw = d.Raw
				return true
			}
		}
		return false
	})
	return raw
}

func itoa(i int) string { return strconv.Itoa(i) }

// readyBytes returns the READY fakediscord wrote to shard (waiting for the
// record, which is written as the message goes out).
func (s *stack) readyBytes(shard int) []byte {
	s.t.Helper()
	var raw []byte
	s.waitFor("READY recorded", 10*time.Second, func(sn *fakediscord.Snapshot) bool {
		for _, d := range sn.DispatchesTo(shard) {
			if d.T == "READY" {
				raw = d.Raw
				return true
			}
		}
		return false
	})
	return raw
}

// consumer binds a queue to gateway on keys and keeps only what this
// fakediscord sent: other gateways on the same broker cannot disturb the test.
func (s *stack) consumer(keys ...string) *consumer {
	s.t.Helper()
	c := newConsumer(s.t, keys...)
	c.accept = s.sentByUs
	return c
}

// sentByUs reports whether body is the exact bytes of a dispatch this
// fakediscord wrote. fakediscord records a message before writing it, so
// anything the gateway published is already recorded: no wait, and a flood
// of other gateways' events on a shared broker costs no time per message.
func (s *stack) sentByUs(body []byte) bool {
	for _, d := range s.discord.Snapshot().Dispatches {
		if string(d.Raw) == string(body) {
			return true
		}
	}
	return false
}
