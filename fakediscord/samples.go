package fakediscord

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// discordEpoch is 2015-01-01 in Unix milliseconds.
const discordEpoch = 1420070400000

var snowflakeCounter atomic.Uint64

// NewSnowflake returns a fresh, increasing snowflake for now.
func NewSnowflake() Snowflake {
	ms := uint64(time.Now().UnixMilli() - discordEpoch)
	return Snowflake(ms<<22 | snowflakeCounter.Add(1)&0x3fffff)
}

// GuildIDs returns n guild ids that belong to shard (id>>22 % total ==
// shard), the same ids every time for the same arguments.
func GuildIDs(n, shard, total int) []Snowflake {
	if total < 1 {
		total = 1
	}
	const base = uint64(300000000000) // a 2017-ish timestamp in ms
	ts := base - base%uint64(total) + uint64(shard)
	ids := make([]Snowflake, n)
	for i := range ids {
		ids[i] = Snowflake((ts+uint64(i*total))<<22 | 1)
	}
	return ids
}

func timestamp() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000000+00:00") }

// SampleUser is a Discord user object.
func SampleUser(id Snowflake, name string, bot bool) map[string]any {
	u := map[string]any{
		"id":                     id,
		"username":               name,
		"discriminator":          "0",
		"global_name":            strings.ToUpper(name[:1]) + name[1:],
		"avatar":                 "a1b2c3d4e5f60718293a4b5c6d7e8f90",
		"avatar_decoration_data": nil,
		"public_flags":           0,
		"flags":                  0,
		"clan":                   nil,
		"primary_guild":          nil,
	}
	if bot {
		u["bot"] = true
		u["verified"] = true
		u["mfa_enabled"] = false
	}
	return u
}

// SampleMember is a guild member object (without user when withUser is
// false, as in MESSAGE_CREATE's member).
func SampleMember(userID Snowflake, withUser bool) map[string]any {
	m := map[string]any{
		"roles":                        []any{NewSnowflake(), NewSnowflake()},
		"nick":                         nil,
		"avatar":                       nil,
		"banner":                       nil,
		"premium_since":                nil,
		"joined_at":                    "2021-03-14T15:09:26.535000+00:00",
		"deaf":                         false,
		"mute":                         false,
		"pending":                      false,
		"flags":                        0,
		"communication_disabled_until": nil,
	}
	if withUser {
		m["user"] = SampleUser(userID, fmt.Sprintf("user%d", uint64(userID)%100000), false)
	}
	return m
}

// SampleMessageCreate is a MESSAGE_CREATE d (~1.5 KB of JSON).
func SampleMessageCreate() map[string]any {
	author := NewSnowflake()
	return map[string]any{
		"id":               NewSnowflake(),
		"type":             0,
		"channel_id":       NewSnowflake(),
		"guild_id":         NewSnowflake(),
		"author":           SampleUser(author, fmt.Sprintf("user%d", uint64(author)%100000), false),
		"member":           SampleMember(author, false),
		"content":          "Has anyone tried the new build yet? The gateway reconnects look much smoother since the last deploy, and the shard dashboard finally shows sane latencies.",
		"timestamp":        timestamp(),
		"edited_timestamp": nil,
		"tts":              false,
		"mention_everyone": false,
		"mentions":         []any{SampleUser(NewSnowflake(), "mentioned", false)},
		"mention_roles":    []any{},
		"mention_channels": []any{},
		"attachments":      []any{},
		"embeds":           []any{},
		"reactions":        []any{},
		"components":       []any{},
		"sticker_items":    []any{},
		"pinned":           false,
		"nonce":            fmt.Sprint(uint64(NewSnowflake())),
		"flags":            0,
		"channel_type":     0,
	}
}

// SampleTypingStart is a TYPING_START d (~300 B without member, more with).
func SampleTypingStart() map[string]any {
	user := NewSnowflake()
	return map[string]any{
		"channel_id": NewSnowflake(),
		"guild_id":   NewSnowflake(),
		"user_id":    user,
		"timestamp":  time.Now().Unix(),
		"member":     SampleMember(user, true),
	}
}

// SamplePresenceUpdate is a PRESENCE_UPDATE d.
func SamplePresenceUpdate() map[string]any {
	return map[string]any{
		"user":          map[string]any{"id": NewSnowflake()},
		"guild_id":      NewSnowflake(),
		"status":        "online",
		"client_status": map[string]any{"desktop": "online", "mobile": "idle"},
		"activities": []any{map[string]any{
			"id":         "spotify:1",
			"name":       "Spotify",
			"type":       2,
			"created_at": time.Now().UnixMilli(),
			"details":    "Some Song Title",
			"state":      "Some Artist; Another Artist",
			"sync_id":    "6rqhFgbbKwnb9MLmUQDhG6",
			"party":      map[string]any{"id": "spotify:" + NewSnowflake().String()},
			"assets":     map[string]any{"large_image": "spotify:ab67616d0000b273", "large_text": "Some Album"},
			"timestamps": map[string]any{"start": time.Now().UnixMilli() - 60000, "end": time.Now().UnixMilli() + 120000},
			"flags":      48,
		}},
	}
}

// SampleGuildMemberUpdate is a GUILD_MEMBER_UPDATE d.
func SampleGuildMemberUpdate() map[string]any {
	user := NewSnowflake()
	m := SampleMember(user, true)
	m["guild_id"] = NewSnowflake()
	m["nick"] = "a new nickname"
	return m
}

// SampleMessageReactionAdd is a MESSAGE_REACTION_ADD d.
func SampleMessageReactionAdd() map[string]any {
	user := NewSnowflake()
	return map[string]any{
		"user_id":           user,
		"channel_id":        NewSnowflake(),
		"message_id":        NewSnowflake(),
		"guild_id":          NewSnowflake(),
		"member":            SampleMember(user, true),
		"emoji":             map[string]any{"id": nil, "name": "👍"},
		"message_author_id": NewSnowflake(),
		"burst":             false,
		"burst_colors":      []any{},
		"type":              0,
	}
}

// guildMemberCount is how many members each guild of a shard has (the
// GUILD_CREATE after READY and the op 8 answers agree on them).
const guildMemberCount = 5

var memberNames = []string{"ada", "bram", "chloe", "dmitri", "elena", "farid", "grace", "hiro", "ines", "jonas"}

// GuildMember is member i of guild: the same user id, name and roles every
// time, so GUILD_CREATE and GUILD_MEMBERS_CHUNK agree.
func GuildMember(guild Snowflake, i int) map[string]any {
	id := Snowflake(uint64(guild) + 1 + uint64(i))
	m := SampleMember(id, false)
	name := fmt.Sprintf("%s%d", memberNames[i%len(memberNames)], i)
	m["user"] = SampleUser(id, name, false)
	m["roles"] = []any{}
	if i%4 == 0 {
		m["roles"] = []any{guildRoleID(guild, 1)}
	}
	return m
}

// memberIndex is the i of GuildMember(guild, i) with user id, or -1.
func memberIndex(guild, id Snowflake) int {
	if id <= guild || uint64(id-guild-1) >= guildMemberCount {
		return -1
	}
	return int(id - guild - 1)
}

func guildRoleID(guild Snowflake, k int) Snowflake {
	if k == 0 {
		return guild // @everyone has the guild's id
	}
	return Snowflake(uint64(guild) + 1<<20 + uint64(k))
}

func sampleRole(guild Snowflake, k int, name string, color int, perms string) map[string]any {
	return map[string]any{
		"id": guildRoleID(guild, k), "name": name, "color": color,
		"colors": map[string]any{"primary_color": color, "secondary_color": nil, "tertiary_color": nil},
		"hoist":  k > 0, "icon": nil, "unicode_emoji": nil, "position": k, "permissions": perms,
		"managed": false, "mentionable": k > 0, "flags": 0,
	}
}

// SampleGuildCreate is a GUILD_CREATE d for guild id with members members
// (GuildMember 0..members-1), channels and roles; about 60 KB of JSON with
// members = 120.
func SampleGuildCreate(id Snowflake, members int) map[string]any {
	ms := make([]any, members)
	for i := range ms {
		ms[i] = GuildMember(id, i)
	}
	nch := max(members/4, 2)
	channels := make([]any, nch)
	for i := range channels {
		channels[i] = map[string]any{
			"id": NewSnowflake(), "type": 0, "name": fmt.Sprintf("channel-%d", i), "position": i,
			"parent_id": nil, "topic": "Talk about anything here", "nsfw": false, "rate_limit_per_user": 0,
			"last_message_id": NewSnowflake(), "permission_overwrites": []any{}, "flags": 0,
		}
	}
	chID := func(i int) any { return channels[i].(map[string]any)["id"] }
	roles := []any{
		sampleRole(id, 0, "@everyone", 0, "2248473465835073"),
		sampleRole(id, 1, "Moderators", 3447003, "1099511627775"),
	}
	return map[string]any{
		"id":                            id,
		"name":                          fmt.Sprintf("Guild %d", uint64(id)%100000),
		"icon":                          "8342729096ea3675442027381ff50dfe",
		"splash":                        nil,
		"discovery_splash":              nil,
		"owner_id":                      NewSnowflake(),
		"afk_channel_id":                nil,
		"afk_timeout":                   300,
		"widget_enabled":                false,
		"widget_channel_id":             nil,
		"verification_level":            1,
		"default_message_notifications": 1,
		"explicit_content_filter":       2,
		"roles":                         roles,
		"emojis":                        []any{},
		"features":                      []any{"COMMUNITY", "NEWS"},
		"mfa_level":                     0,
		"application_id":                nil,
		"system_channel_id":             chID(0),
		"system_channel_flags":          0,
		"rules_channel_id":              chID(0),
		"max_members":                   500000,
		"vanity_url_code":               nil,
		"description":                   "A place to talk about the gateway",
		"banner":                        nil,
		"premium_tier":                  0,
		"premium_subscription_count":    0,
		"preferred_locale":              "en-US",
		"public_updates_channel_id":     chID(1),
		"max_video_channel_users":       25,
		"max_stage_video_channel_users": 50,
		"nsfw_level":                    0,
		"stickers":                      []any{},
		"premium_progress_bar_enabled":  false,
		"safety_alerts_channel_id":      nil,
		"incidents_data":                nil,
		"joined_at":                     "2021-03-14T15:09:26.535000+00:00",
		"large":                         members >= 250,
		"unavailable":                   false,
		"member_count":                  members,
		"voice_states":                  []any{},
		"members":                       ms,
		"channels":                      channels,
		"threads":                       []any{},
		"presences":                     []any{},
		"stage_instances":               []any{},
		"guild_scheduled_events":        []any{},
		"soundboard_sounds":             []any{},
	}
}
