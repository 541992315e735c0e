// Command disgoclient runs disgo's shard manager (a real, widely used Go
// Discord client) against a Discord API base and reports, one JSON line on
// stdout each, every event it delivers, every problem its typed models
// show and every warning or error it logs. fakediscord's tests run it as a
// separate process because disgo v0.18 has data races of its own that
// would fail the race-enabled unit tests. Even shards use payload
// compression (IDENTIFY compress: true), odd ones zlib-stream (see
// zlibstream.go). Commands on stdin, one a line:
//
//	presence SHARD
//	voice SHARD GUILD
//	members-all SHARD GUILD NONCE
//	members-ids SHARD GUILD ID,ID NONCE
//	close
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/disgo/sharding"
	"github.com/disgoorg/snowflake/v2"
)

// Line is one report on stdout.
type Line struct {
	Kind    string `json:"kind"` // event, problem, log, gateway, error
	T       string `json:"t,omitempty"`
	S       int    `json:"s,omitempty"`
	Shard   int    `json:"shard"`
	Detail  string `json:"detail,omitempty"`
	Session string `json:"session,omitempty"`
	// GUILD_MEMBERS_CHUNK
	Nonce     string   `json:"nonce,omitempty"`
	Members   []string `json:"members,omitempty"`
	NotFound  []string `json:"not_found,omitempty"`
	Presences int      `json:"presences,omitempty"`
	Chunks    int      `json:"chunk_count,omitempty"`
}

type out struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (o *out) put(l Line) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.enc.Encode(l) // stdout closed means the test is gone
}

// logHandler turns disgo's warnings and errors into log lines.
type logHandler struct{ o *out }

func (h logHandler) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.o.put(Line{Kind: "log", Shard: -1, Detail: b.String()})
	return nil
}
func (h logHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logHandler) WithGroup(string) slog.Handler      { return h }

func main() {
	api := flag.String("api", "", "REST base, e.g. http://127.0.0.1:PORT/api/v10")
	token := flag.String("token", "", "bot token")
	flag.Parse()
	o := &out{enc: json.NewEncoder(os.Stdout)}
	if err := run(*api, *token, o); err != nil {
		o.put(Line{Kind: "error", Shard: -1, Detail: err.Error()})
		os.Exit(1)
	}
}

func run(api, token string, o *out) error {
	logger := slog.New(logHandler{o})
	client := rest.New(rest.NewClient(token, rest.WithURL(api), rest.WithLogger(logger)))
	g, err := client.GetGateway()
	if err != nil {
		return fmt.Errorf("GET /gateway: %w", err)
	}
	gb, err := client.GetGatewayBot()
	if err != nil {
		return fmt.Errorf("GET /gateway/bot: %w", err)
	}
	o.put(Line{Kind: "gateway", Shard: gb.Shards, Detail: fmt.Sprintf("%s %s %d", g.URL, gb.URL, gb.SessionStartLimit.MaxConcurrency)})

	createShard := func(token string, eh gateway.EventHandlerFunc, ch gateway.CloseHandlerFunc, opts ...gateway.ConfigOpt) gateway.Gateway {
		cfg := gateway.DefaultConfig()
		cfg.Apply(opts)
		// Even shards ask for payload compression, odd ones for zlib-stream.
		if cfg.ShardID%2 == 1 {
			return gateway.New(token, eh, ch, append(opts, gateway.WithCompress(false), gateway.WithDialer(zlibStreamDialer(func(err error) {
				o.put(Line{Kind: "problem", Shard: cfg.ShardID, Detail: err.Error()})
			})))...)
		}
		return gateway.New(token, eh, ch, append(opts, gateway.WithCompress(true))...)
	}
	ids := make([]int, gb.Shards)
	for i := range ids {
		ids[i] = i
	}
	onEvent := func(t gateway.EventType, seq, shard int, ev gateway.EventData) {
		report(o, t, seq, shard, gb.Shards, ev)
	}
	sm := sharding.New(token, onEvent,
		sharding.WithLogger(logger),
		sharding.WithShardIDs(ids...),
		sharding.WithShardCount(gb.Shards),
		sharding.WithRateLimiterConfigOpt(sharding.WithMaxConcurrency(gb.SessionStartLimit.MaxConcurrency)),
		sharding.WithGatewayCreateFunc(createShard),
		sharding.WithGatewayConfigOpts(
			gateway.WithURL(gb.URL),
			gateway.WithLogger(logger),
			gateway.WithIntents(gateway.IntentGuilds, gateway.IntentGuildMessages, gateway.IntentGuildMembers, gateway.IntentGuildPresences),
			gateway.WithEnableResumeURL(true),
			gateway.WithAutoReconnect(true),
		),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sm.Open(ctx)
	defer sm.Close(context.Background())

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "close" {
			return nil
		}
		if err := command(ctx, sm, f); err != nil {
			o.put(Line{Kind: "error", Shard: -1, Detail: err.Error()})
		}
	}
	return in.Err()
}

func command(ctx context.Context, sm sharding.ShardManager, f []string) error {
	if len(f) < 2 {
		return fmt.Errorf("command %q: want a shard", f)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return fmt.Errorf("command %q: %w", f, err)
	}
	shard := sm.Shard(n)
	if shard == nil {
		return fmt.Errorf("command %q: no shard %d", f, n)
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	guild, _ := snowflake.Parse(arg(2))
	var op gateway.Opcode
	var d gateway.MessageData
	switch f[0] {
	case "presence":
		since := time.Now().UnixMilli()
		op, d = gateway.OpcodePresenceUpdate, gateway.MessageDataPresenceUpdate{Since: &since, Status: discord.OnlineStatusDND,
			Activities: []discord.Activity{{Name: "chess", Type: discord.ActivityTypeGame}}}
	case "voice":
		op, d = gateway.OpcodeVoiceStateUpdate, gateway.MessageDataVoiceStateUpdate{GuildID: guild, SelfDeaf: true}
	case "members-all":
		op, d = gateway.OpcodeRequestGuildMembers, gateway.MessageDataRequestGuildMembers{GuildID: guild, Query: new(string), Limit: new(int), Presences: true, Nonce: arg(3)}
	case "members-ids":
		var users []snowflake.ID
		for _, s := range strings.Split(arg(3), ",") {
			id, err := snowflake.Parse(s)
			if err != nil {
				return fmt.Errorf("command %q: %w", f, err)
			}
			users = append(users, id)
		}
		op, d = gateway.OpcodeRequestGuildMembers, gateway.MessageDataRequestGuildMembers{GuildID: guild, UserIDs: users, Nonce: arg(4)}
	default:
		return fmt.Errorf("unknown command %q", f[0])
	}
	if err := shard.Send(ctx, op, d); err != nil {
		return fmt.Errorf("sending %s: %w", f[0], err)
	}
	return nil
}

// report writes the event and checks what disgo's typed model made of it.
func report(o *out, t gateway.EventType, seq, shard, total int, ev gateway.EventData) {
	l := Line{Kind: "event", T: string(t), S: seq, Shard: shard}
	problem := func(format string, a ...any) {
		o.put(Line{Kind: "problem", T: string(t), S: seq, Shard: shard, Detail: fmt.Sprintf(format, a...)})
	}
	switch e := ev.(type) {
	case gateway.EventReady:
		l.Session = e.SessionID
		if e.SessionID == "" || e.ResumeGatewayURL == "" || e.Shard != [2]int{shard, total} || e.User.ID == 0 || len(e.Guilds) == 0 {
			problem("READY %+v", e)
		}
	case gateway.EventGuildCreate:
		if e.ID == 0 || len(e.Members) != e.MemberCount || len(e.Roles) == 0 || len(e.Channels) == 0 || e.Members[0].User.ID == 0 {
			problem("GUILD_CREATE id %d, %d members of %d, %d roles, %d channels", e.ID, len(e.Members), e.MemberCount, len(e.Roles), len(e.Channels))
		}
	case gateway.EventMessageCreate:
		if e.ID == 0 || e.Content == "" || e.Author.ID == 0 || e.GuildID == nil || e.Member == nil || e.CreatedAt.IsZero() {
			problem("MESSAGE_CREATE %+v", e.Message)
		}
	case gateway.EventPresenceUpdate:
		if e.PresenceUser.ID == 0 || e.Status == "" || len(e.Activities) == 0 {
			problem("PRESENCE_UPDATE %+v", e.Presence)
		}
	case gateway.EventTypingStart:
		if e.UserID == 0 || e.ChannelID == 0 || e.Timestamp.IsZero() {
			problem("TYPING_START %+v", e)
		}
	case gateway.EventGuildMemberUpdate:
		if e.User.ID == 0 || e.GuildID == 0 {
			problem("GUILD_MEMBER_UPDATE %+v", e.Member)
		}
	case gateway.EventMessageReactionAdd:
		if e.UserID == 0 || e.MessageID == 0 || e.Emoji.Name == nil {
			problem("MESSAGE_REACTION_ADD %+v", e)
		}
	case gateway.EventGuildMembersChunk:
		l.Nonce, l.Presences, l.Chunks = e.Nonce, len(e.Presences), e.ChunkCount
		for _, m := range e.Members {
			l.Members = append(l.Members, m.User.ID.String())
		}
		for _, id := range e.NotFound {
			l.NotFound = append(l.NotFound, id.String())
		}
	}
	o.put(l)
}
