package fakediscord

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

func TestFatalCloseCodesEndTheSession(t *testing.T) {
	for _, code := range []int{4004, 4010, 4011, 4012, 4013, 4014} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := startServer(t, Options{})
			c := dial(t, s, EncodingJSON, CompressNone)
			ready := c.handshake(s, 0, 1)
			if err := s.CloseShard(0, code, "fatal"); err != nil {
				t.Fatal(err)
			}
			c.expectClose(code)
			if _, err := s.WaitFor(ctxT(t), func(sn *Snapshot) bool { return !sn.Connections[0].Open() }); err != nil {
				t.Fatal(err)
			}
			r := dial(t, s, EncodingJSON, CompressNone)
			r.expectOp(OpHello)
			r.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["session_id"], "seq": 1})
			if p := r.expectOp(OpInvalidSession); p["d"] != false {
				t.Fatalf("d = %v", p["d"])
			}
		})
	}
}

func TestResumeWithASeqBeyondTheLastClosesWith4007AndEndsTheSession(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, EncodingJSON, CompressNone)
	ready := c.handshake(s, 0, 1)
	r := dial(t, s, EncodingJSON, CompressNone)
	r.expectOp(OpHello)
	r.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["session_id"], "seq": 99})
	r.expectClose(4007)
	if v := s.Snapshot().ViolationsOf(ViolationInvalidSeq); len(v) != 1 || v[0].Code != 4007 {
		t.Fatalf("violations = %+v", v)
	}
	r2 := dial(t, s, EncodingJSON, CompressNone)
	r2.expectOp(OpHello)
	r2.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["session_id"], "seq": 1})
	r2.expectOp(OpInvalidSession)
}

// TestCommandsAreValidatedLikeDiscord sends ops 3, 4 and 8 after READY:
// the well-formed ones keep the connection open (a heartbeat after them
// is still answered), the malformed ones close with Discord's code.
func TestCommandsAreValidatedLikeDiscord(t *testing.T) {
	guild := GuildIDs(1, 0, 1)[0]
	okPresence := map[string]any{"since": nil, "activities": []any{}, "status": "online", "afk": false}
	with := func(base map[string]any, k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range base {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	okVoice := map[string]any{"guild_id": guild, "channel_id": nil, "self_mute": false, "self_deaf": true}
	okMembers := map[string]any{"guild_id": guild, "query": "", "limit": 0}
	cases := []struct {
		name string
		op   int
		d    any
		code int // 0: accepted
	}{
		{"presence online", OpPresenceUpdate, okPresence, 0},
		{"presence with activity and since", OpPresenceUpdate, with(with(okPresence, "activities", []any{map[string]any{"name": "chess", "type": 0}}), "since", int64(1700000000000)), 0},
		{"presence status bogus", OpPresenceUpdate, with(okPresence, "status", "bogus"), 4002},
		{"presence without activities", OpPresenceUpdate, with(okPresence, "activities", nil), 4002},
		{"presence afk not a bool", OpPresenceUpdate, with(okPresence, "afk", "no"), 4002},
		{"presence activity without name", OpPresenceUpdate, with(okPresence, "activities", []any{map[string]any{"type": 0}}), 4002},
		{"presence d not a map", OpPresenceUpdate, "online", 4002},
		{"voice state leave", OpVoiceState, okVoice, 0},
		{"voice state join", OpVoiceState, with(okVoice, "channel_id", NewSnowflake()), 0},
		{"voice state without guild", OpVoiceState, with(okVoice, "guild_id", nil), 4002},
		{"voice state self_mute missing", OpVoiceState, with(okVoice, "self_mute", nil), 4002},
		{"voice state channel not a snowflake", OpVoiceState, with(okVoice, "channel_id", "general"), 4002},
		{"request members all", OpRequestMembers, okMembers, 0},
		{"request members by ids", OpRequestMembers, map[string]any{"guild_id": guild, "user_ids": []any{NewSnowflake()}}, 0},
		{"request members one id", OpRequestMembers, map[string]any{"guild_id": guild, "user_ids": NewSnowflake()}, 0},
		{"request members without guild", OpRequestMembers, with(okMembers, "guild_id", nil), 4002},
		{"request members query without limit", OpRequestMembers, with(okMembers, "limit", nil), 4002},
		{"request members neither query nor ids", OpRequestMembers, map[string]any{"guild_id": guild, "limit": 0}, 4002},
		{"request members query and ids", OpRequestMembers, with(okMembers, "user_ids", []any{NewSnowflake()}), 4002},
		{"request members over 100 ids", OpRequestMembers, map[string]any{"guild_id": guild, "user_ids": make([]any, 101)}, 4002},
		{"request members negative limit", OpRequestMembers, with(okMembers, "limit", -1), 4002},
		{"request members presences not a bool", OpRequestMembers, with(okMembers, "presences", "yes"), 4002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Options{Guilds: 1, PrivilegedIntents: PrivilegedIntents})
			c := dial(t, s, EncodingJSON, CompressNone)
			c.expectOp(OpHello)
			c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 513|1<<1))
			c.expectDispatch("GUILD_CREATE")
			c.send(tc.op, tc.d)
			if tc.code != 0 {
				c.expectClose(tc.code)
				if v := s.Snapshot().ViolationsOf(ViolationInvalidPayload); len(v) != 1 {
					t.Fatalf("violations = %+v", v)
				}
				return
			}
			c.send(OpHeartbeat, nil)
			for { // a members request is answered first
				p, _ := c.next()
				if op, _ := asInt64(p["op"]); op == OpHeartbeatACK {
					break
				} else if op != OpDispatch {
					t.Fatalf("got %v", p)
				}
			}
			if v := s.Snapshot().Violations; len(v) != 0 {
				t.Fatalf("violations = %+v", v)
			}
		})
	}
}

func TestIdentifyLargeThresholdOutOfRangeCloses4002(t *testing.T) {
	for _, lt := range []any{1000, 49, "250"} {
		t.Run(fmt.Sprint(lt), func(t *testing.T) {
			s := startServer(t, Options{})
			c := dial(t, s, EncodingJSON, CompressNone)
			c.expectOp(OpHello)
			d := identifyD(s.Options().Token, 0, 1, 513)
			d["large_threshold"] = lt
			c.send(OpIdentify, d)
			c.expectClose(4002)
		})
	}
}

func TestRequestGuildMembersIsAnsweredWithGuildMembersChunks(t *testing.T) {
	s := startServer(t, Options{Guilds: 1, PrivilegedIntents: PrivilegedIntents})
	c := dial(t, s, EncodingJSON, CompressNone)
	c.expectOp(OpHello)
	c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 513|1<<1|1<<8))
	c.expectDispatch("READY")
	gc, _ := c.expectDispatch("GUILD_CREATE")
	g := gc["d"].(map[string]any)
	members := g["members"].([]any)
	known := members[0].(map[string]any)["user"].(map[string]any)
	unknown := NewSnowflake().String()

	c.send(OpRequestMembers, map[string]any{"guild_id": g["id"], "user_ids": []any{known["id"], unknown}, "presences": true, "nonce": "n1"})
	p, _ := c.expectDispatch("GUILD_MEMBERS_CHUNK")
	d := p["d"].(map[string]any)
	if d["guild_id"] != g["id"] || d["nonce"] != "n1" || d["chunk_index"] != int64(0) || d["chunk_count"] != int64(1) {
		t.Fatalf("chunk = %v", d)
	}
	got := d["members"].([]any)
	if len(got) != 1 || got[0].(map[string]any)["user"].(map[string]any)["id"] != known["id"] {
		t.Fatalf("members = %v", got)
	}
	if nf := d["not_found"].([]any); len(nf) != 1 || nf[0] != unknown {
		t.Fatalf("not_found = %v", nf)
	}
	if pr := d["presences"].([]any); len(pr) != 1 {
		t.Fatalf("presences = %v", pr)
	}

	// The whole list: no not_found, no presences unless asked, and a nonce
	// over 32 bytes is ignored.
	c.send(OpRequestMembers, map[string]any{"guild_id": g["id"], "query": "", "limit": 0, "nonce": strings.Repeat("n", 33)})
	p, _ = c.expectDispatch("GUILD_MEMBERS_CHUNK")
	d = p["d"].(map[string]any)
	if len(d["members"].([]any)) != len(members) {
		t.Fatalf("members = %d, want %d", len(d["members"].([]any)), len(members))
	}
	for _, k := range []string{"not_found", "presences", "nonce"} {
		if _, ok := d[k]; ok {
			t.Fatalf("%s present: %v", k, d)
		}
	}

	// A query matches the start of the username, case-insensitively.
	name := known["username"].(string)
	c.send(OpRequestMembers, map[string]any{"guild_id": g["id"], "query": strings.ToUpper(name), "limit": 10})
	p, _ = c.expectDispatch("GUILD_MEMBERS_CHUNK")
	if got := p["d"].(map[string]any)["members"].([]any); len(got) != 1 {
		t.Fatalf("query %q: members = %v", name, got)
	}
}

func TestRequestingTheWholeMemberListNeedsTheGuildMembersIntent(t *testing.T) {
	s := startServer(t, Options{Guilds: 1})
	c := dial(t, s, EncodingJSON, CompressNone)
	ready := c.handshake(s, 0, 1) // intents 513: no GUILD_MEMBERS
	g := ready["guilds"].([]any)[0].(map[string]any)["id"]
	c.send(OpRequestMembers, map[string]any{"guild_id": g, "query": "", "limit": 0})
	c.expectClose(4013)
}

func TestAfterResumableInvalidSessionTheSameSocketCanResumeOrIdentify(t *testing.T) {
	for _, next := range []string{"resume", "identify"} {
		t.Run(next, func(t *testing.T) {
			s := startServer(t, Options{IdentifyInterval: time.Nanosecond})
			c := dial(t, s, EncodingJSON, CompressNone)
			ready := c.handshake(s, 0, 1)
			if err := s.InvalidSession(0, true); err != nil {
				t.Fatal(err)
			}
			if p := c.expectOp(OpInvalidSession); p["d"] != true {
				t.Fatalf("d = %v", p["d"])
			}
			if next == "resume" {
				c.send(OpResume, map[string]any{"token": s.Options().Token, "session_id": ready["session_id"], "seq": 1})
				c.expectDispatch("RESUMED")
			} else {
				c.send(OpIdentify, identifyD(s.Options().Token, 0, 1, 513))
				c.expectDispatch("READY")
			}
			if v := s.Snapshot().Violations; len(v) != 0 {
				t.Fatalf("violations = %+v", v)
			}
		})
	}
}

func TestGatewayVersionNineTenOrMissingIsServed(t *testing.T) {
	for _, tc := range []struct {
		query string
		code  int
	}{
		{"/?encoding=json", 0},
		{"/?v=9&encoding=json", 0},
		{"/?v=10&encoding=json", 0},
		{"/?v=8&encoding=json", 4012},
		{"/?v=11&encoding=json", 4012},
		{"/?v=ten&encoding=json", 4012},
	} {
		t.Run(tc.query, func(t *testing.T) {
			s := startServer(t, Options{})
			c := dialURL(t, s.GatewayURL()+tc.query, EncodingJSON, CompressNone)
			if tc.code != 0 {
				c.expectClose(tc.code)
				return
			}
			c.handshake(s, 0, 1)
		})
	}
}

func TestEncodingMissingMeansJSON(t *testing.T) {
	s := startServer(t, Options{})
	c := dialURL(t, s.GatewayURL()+"/?v=10", EncodingJSON, CompressNone)
	c.handshake(s, 0, 1)
}

func TestTokenWithBotPrefixIsAcceptedInIdentifyAndResume(t *testing.T) {
	s := startServer(t, Options{})
	tok := "Bot " + s.Options().Token
	c := dial(t, s, EncodingETF, CompressNone)
	c.expectOp(OpHello)
	c.send(OpIdentify, identifyD(tok, 0, 1, 513))
	ready, _ := c.expectDispatch("READY")
	r := dial(t, s, EncodingETF, CompressNone)
	r.expectOp(OpHello)
	r.send(OpResume, map[string]any{"token": tok, "session_id": ready["d"].(map[string]any)["session_id"], "seq": 1})
	r.expectDispatch("RESUMED")
}

func TestRESTGatewayIsServedWithoutAuthorization(t *testing.T) {
	s := startServer(t, Options{})
	for _, auth := range []string{"", "Bot " + s.Options().Token} {
		req, _ := http.NewRequest(http.MethodGet, s.APIURL()+"/gateway", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || body["url"] != s.GatewayURL() || len(body) != 1 {
			t.Fatalf("auth %q: %d %v %v", auth, resp.StatusCode, body, err)
		}
	}
}

// TestIdentifyCompressSendsEachPayloadAsItsOwnZlibStream checks payload
// compression: without transport compression, every message after an
// IDENTIFY with compress true is a binary frame holding one complete zlib
// stream.
func TestIdentifyCompressSendsEachPayloadAsItsOwnZlibStream(t *testing.T) {
	for _, enc := range []Encoding{EncodingJSON, EncodingETF} {
		t.Run(string(enc), func(t *testing.T) {
			s := startServer(t, Options{Guilds: 2})
			c := dial(t, s, enc, CompressNone)
			c.expectOp(OpHello)
			d := identifyD(s.Options().Token, 0, 1, 513)
			d["compress"] = true
			c.send(OpIdentify, d)
			c.send(OpHeartbeat, nil)
			want := []string{"READY", "GUILD_CREATE", "GUILD_CREATE"}
			var got []string
			for len(got) < len(want)+1 {
				_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				mt, msg, err := c.ws.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if mt != websocket.BinaryMessage {
					t.Fatalf("message type %d, want binary", mt)
				}
				zr, err := zlib.NewReader(bytes.NewReader(msg))
				if err != nil {
					t.Fatal(err)
				}
				plain, err := io.ReadAll(zr) // a complete stream: no unexpected EOF
				if err != nil {
					t.Fatalf("inflating one message: %v", err)
				}
				p, _, err := DecodePayload(enc, plain)
				if err != nil {
					t.Fatal(err)
				}
				if op, _ := asInt64(p["op"]); op == OpHeartbeatACK {
					got = append(got, "ACK")
				} else {
					got = append(got, fmt.Sprint(p["t"]))
				}
			}
			// The heartbeat is read after IDENTIFY, so its ACK comes last.
			if fmt.Sprint(got) != fmt.Sprint(append(want, "ACK")) {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestReadyCarriesShardOnlyWhenIdentifySentOne(t *testing.T) {
	for _, enc := range []Encoding{EncodingJSON, EncodingETF} {
		for _, withShard := range []bool{false, true} {
			t.Run(fmt.Sprint(enc, withShard), func(t *testing.T) {
				s := startServer(t, Options{})
				c := dial(t, s, enc, CompressNone)
				c.expectOp(OpHello)
				d := identifyD(s.Options().Token, 0, 1, 513)
				if !withShard {
					delete(d, "shard")
				}
				c.send(OpIdentify, d)
				p, _ := c.expectDispatch("READY")
				sh, ok := p["d"].(map[string]any)["shard"]
				if ok != withShard || (ok && fmt.Sprint(sh) != "[0 1]") {
					t.Fatalf("shard = %v (present %v)", sh, ok)
				}
			})
		}
	}
}

// TestSampleEventsCarryEveryDocumentedField checks, in both encodings,
// that each sample event has the fields Discord documents as always sent
// and none of its optional fields as null.
func TestSampleEventsCarryEveryDocumentedField(t *testing.T) {
	guildFields := []string{"id", "name", "icon", "splash", "discovery_splash", "owner_id", "afk_channel_id", "afk_timeout",
		"verification_level", "default_message_notifications", "explicit_content_filter", "roles", "emojis", "features",
		"mfa_level", "application_id", "system_channel_id", "system_channel_flags", "rules_channel_id", "vanity_url_code",
		"description", "banner", "premium_tier", "preferred_locale", "public_updates_channel_id", "nsfw_level",
		"premium_progress_bar_enabled", "safety_alerts_channel_id", "incidents_data", "stickers",
		"joined_at", "large", "unavailable", "member_count", "voice_states", "members", "channels", "threads",
		"presences", "stage_instances", "guild_scheduled_events", "soundboard_sounds"}
	messageFields := []string{"id", "channel_id", "author", "content", "timestamp", "edited_timestamp", "tts",
		"mention_everyone", "mentions", "mention_roles", "attachments", "embeds", "pinned", "type", "guild_id", "member"}
	roleFields := []string{"id", "name", "color", "colors", "hoist", "icon", "unicode_emoji", "position", "permissions", "managed", "mentionable", "flags"}
	userFields := []string{"id", "username", "discriminator", "global_name", "avatar"}
	memberFields := []string{"roles", "joined_at", "deaf", "mute", "flags"}
	never := []string{"webhook_id", "message_reference", "referenced_message", "application_id", "interaction_metadata", "thread", "poll", "call"}
	for _, enc := range []Encoding{EncodingJSON, EncodingETF} {
		t.Run(string(enc), func(t *testing.T) {
			decode := func(d any) map[string]any {
				t.Helper()
				b, err := EncodePayload(enc, OpDispatch, d, 1, "X")
				if err != nil {
					t.Fatal(err)
				}
				p, _, err := DecodePayload(enc, b)
				if err != nil {
					t.Fatal(err)
				}
				return p["d"].(map[string]any)
			}
			need := func(what string, m map[string]any, keys []string) {
				t.Helper()
				for _, k := range keys {
					if _, ok := m[k]; !ok {
						t.Errorf("%s lacks %s", what, k)
					}
				}
			}
			g := decode(SampleGuildCreate(GuildIDs(1, 0, 1)[0], 3))
			need("GUILD_CREATE", g, guildFields)
			role := g["roles"].([]any)[0].(map[string]any)
			need("role", role, roleFields)
			if colors, _ := role["colors"].(map[string]any); colors == nil {
				t.Errorf("role colors = %v", role["colors"])
			} else {
				need("role colors", colors, []string{"primary_color", "secondary_color", "tertiary_color"})
			}
			m := g["members"].([]any)[0].(map[string]any)
			need("member", m, memberFields)
			need("member user", m["user"].(map[string]any), userFields)
			msg := decode(SampleMessageCreate())
			need("MESSAGE_CREATE", msg, messageFields)
			for _, k := range never {
				if v, ok := msg[k]; ok {
					t.Errorf("MESSAGE_CREATE has optional %s = %v; Discord omits it", k, v)
				}
			}
			for _, ev := range loadMix {
				d := decode(ev.build())
				for k, v := range d {
					if v == nil && (k == "webhook_id" || k == "message_reference" || k == "member") {
						t.Errorf("%s: %s is null", ev.t, k)
					}
				}
			}
		})
	}
}

func TestLoadReportsRealElapsedAndRate(t *testing.T) {
	s := startServer(t, Options{})
	c := dial(t, s, EncodingJSON, CompressNone)
	c.handshake(s, 0, 1)
	go func() { // drain
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	rep, err := s.Load(context.Background(), LoadOptions{Rate: 200, Count: 20})
	if err != nil {
		t.Fatal(err)
	}
	// 20 events at 200/s take at least 95 ms (the first goes at once).
	if rep.Sent != 20 || rep.Elapsed < 90*time.Millisecond || rep.Rate <= 0 || rep.Rate > 250 {
		t.Fatalf("report = %+v", rep)
	}

	api := httptest.NewServer(s.ControlHandler())
	t.Cleanup(api.Close)
	status, out := post(t, api.URL, "/load", `{"count": 10, "rate": 500}`)
	if status != 200 {
		t.Fatalf("status %d %v", status, out)
	}
	if el, _ := out["elapsed"].(float64); el <= 0 {
		t.Fatalf("elapsed = %v", out["elapsed"])
	}
	if r, _ := out["rate"].(float64); r <= 0 {
		t.Fatalf("rate = %v", out["rate"])
	}
}
