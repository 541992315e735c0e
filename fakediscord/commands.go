package fakediscord

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Intent bits the member commands depend on.
const (
	intentGuildMembers   int64 = 1 << 1
	intentGuildPresences int64 = 1 << 8
)

// maxChunkMembers is how many members Discord puts in one
// GUILD_MEMBERS_CHUNK; maxRequestUserIDs is the user_ids limit of op 8.
const (
	maxChunkMembers   = 1000
	maxRequestUserIDs = 100
	maxNonceBytes     = 32
)

var presenceStatuses = map[string]bool{"online": true, "dnd": true, "idle": true, "invisible": true, "offline": true}

// command checks an op 3, 4 or 8 from an authenticated client the way
// Discord documents them and answers op 8 with GUILD_MEMBERS_CHUNKs.
func (c *conn) command(op int64, d any) {
	var err error
	switch op {
	case OpPresenceUpdate:
		err = checkPresence(d)
	case OpVoiceState:
		err = checkVoiceState(d)
	case OpRequestMembers:
		var req membersRequest
		if req, err = parseMembersRequest(d); err == nil {
			c.s.requestMembers(c, req)
			return
		}
	default: // ops 31 and 43 are accepted as they are
		return
	}
	if err != nil {
		c.fail(ViolationInvalidPayload, 4002, "Error while decoding payload.", fmt.Sprintf("op %d: %v", op, err))
	}
}

func checkPresence(d any) error {
	m, ok := d.(map[string]any)
	if !ok {
		return fmt.Errorf("d is %T, not a map", d)
	}
	if v, ok := m["since"]; !ok {
		return errors.New("since missing")
	} else if _, isInt := asInt64(v); v != nil && !isInt {
		return fmt.Errorf("since %v is neither an integer nor null", v)
	}
	acts, ok := m["activities"].([]any)
	if !ok {
		return errors.New("activities missing or not an array")
	}
	for i, a := range acts {
		am, ok := a.(map[string]any)
		if !ok {
			return fmt.Errorf("activities[%d] is not an object", i)
		}
		if _, ok := am["name"].(string); !ok {
			return fmt.Errorf("activities[%d].name missing", i)
		}
		if t, ok := asInt64(am["type"]); !ok || t < 0 || t > 6 {
			return fmt.Errorf("activities[%d].type %v is not an activity type", i, am["type"])
		}
	}
	if st, _ := m["status"].(string); !presenceStatuses[st] {
		return fmt.Errorf("status %v is not online, dnd, idle, invisible or offline", m["status"])
	}
	if _, ok := m["afk"].(bool); !ok {
		return errors.New("afk missing or not a boolean")
	}
	return nil
}

func checkVoiceState(d any) error {
	m, ok := d.(map[string]any)
	if !ok {
		return fmt.Errorf("d is %T, not a map", d)
	}
	if _, ok := asSnowflake(m["guild_id"]); !ok {
		return fmt.Errorf("guild_id %v is not a snowflake", m["guild_id"])
	}
	ch, present := m["channel_id"]
	if !present {
		return errors.New("channel_id missing (null leaves the channel)")
	}
	if _, ok := asSnowflake(ch); ch != nil && !ok {
		return fmt.Errorf("channel_id %v is not a snowflake", ch)
	}
	for _, k := range []string{"self_mute", "self_deaf"} {
		if _, ok := m[k].(bool); !ok {
			return fmt.Errorf("%s missing or not a boolean", k)
		}
	}
	return nil
}

// asSnowflake reads an id sent as a decimal string (JSON) or an integer
// (ETF clients send either).
func asSnowflake(v any) (Snowflake, bool) {
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseUint(x, 10, 64)
		return Snowflake(n), err == nil
	case int64:
		return Snowflake(x), x >= 0
	case uint64:
		return Snowflake(x), true
	}
	return 0, false
}

type membersRequest struct {
	guild     Snowflake
	query     *string
	limit     int64
	userIDs   []Snowflake
	presences bool
	nonce     string
}

func parseMembersRequest(d any) (membersRequest, error) {
	var r membersRequest
	m, ok := d.(map[string]any)
	if !ok {
		return r, fmt.Errorf("d is %T, not a map", d)
	}
	if r.guild, ok = asSnowflake(m["guild_id"]); !ok {
		return r, fmt.Errorf("guild_id %v is not a snowflake", m["guild_id"])
	}
	q, hasQuery := m["query"]
	ids, hasIDs := m["user_ids"]
	if hasQuery == hasIDs {
		return r, errors.New("exactly one of query and user_ids is required")
	}
	if hasQuery {
		s, ok := q.(string)
		if !ok {
			return r, fmt.Errorf("query %v is not a string", q)
		}
		r.query = &s
		if r.limit, ok = asInt64(m["limit"]); !ok || r.limit < 0 {
			return r, fmt.Errorf("limit %v is not an integer >= 0", m["limit"])
		}
	} else {
		list, isList := ids.([]any)
		if !isList {
			list = []any{ids}
		}
		if len(list) > maxRequestUserIDs {
			return r, fmt.Errorf("%d user_ids (max %d)", len(list), maxRequestUserIDs)
		}
		for _, v := range list {
			id, ok := asSnowflake(v)
			if !ok {
				return r, fmt.Errorf("user_ids: %v is not a snowflake", v)
			}
			r.userIDs = append(r.userIDs, id)
		}
		if l, present := m["limit"]; present && l != nil {
			if r.limit, ok = asInt64(l); !ok || r.limit < 0 {
				return r, fmt.Errorf("limit %v is not an integer >= 0", l)
			}
		}
	}
	if p, present := m["presences"]; present && p != nil {
		if r.presences, ok = p.(bool); !ok {
			return r, fmt.Errorf("presences %v is not a boolean", p)
		}
	}
	if n, present := m["nonce"]; present && n != nil {
		s, ok := n.(string)
		if !ok {
			return r, fmt.Errorf("nonce %v is not a string", n)
		}
		if len(s) <= maxNonceBytes { // longer nonces are ignored
			r.nonce = s
		}
	}
	return r, nil
}

// requestMembers answers a valid op 8 with the matching members of one of
// the shard's guilds, in chunks of up to 1000; a guild the shard does not
// have gets no answer.
func (s *Server) requestMembers(c *conn, r membersRequest) {
	s.mu.Lock()
	sess := c.sess
	if sess == nil {
		s.mu.Unlock()
		return
	}
	whole := r.query != nil && *r.query == "" && r.limit == 0
	if whole && sess.intents&intentGuildMembers == 0 {
		s.mu.Unlock()
		c.fail(ViolationInvalidIntents, 4013, "Invalid intent(s).", "requesting the whole member list needs GUILD_MEMBERS")
		return
	}
	defer s.mu.Unlock()
	guilds := GuildIDs(s.opts.Guilds, sess.shard, sess.shardTotal)
	found := false
	for _, g := range guilds {
		found = found || g == r.guild
	}
	if !found {
		return
	}
	members := make([]map[string]any, guildMemberCount)
	for i := range members {
		members[i] = GuildMember(r.guild, i)
	}
	var match []any
	var notFound []any
	if r.query != nil {
		q := strings.ToLower(*r.query)
		for _, m := range members {
			name, _ := m["user"].(map[string]any)["username"].(string)
			if strings.HasPrefix(strings.ToLower(name), q) && (r.limit == 0 || int64(len(match)) < r.limit) {
				match = append(match, m)
			}
		}
	} else {
		notFound = []any{}
		for _, id := range r.userIDs {
			i := memberIndex(r.guild, id)
			if i < 0 {
				notFound = append(notFound, id)
				continue
			}
			match = append(match, members[i])
		}
	}
	presences := r.presences && sess.intents&intentGuildPresences != 0
	count := max((len(match)+maxChunkMembers-1)/maxChunkMembers, 1)
	for i := range count {
		part := match[min(i*maxChunkMembers, len(match)):min((i+1)*maxChunkMembers, len(match))]
		d := map[string]any{
			"guild_id":    r.guild,
			"members":     append([]any{}, part...),
			"chunk_index": i,
			"chunk_count": count,
		}
		if notFound != nil && i == 0 {
			d["not_found"] = notFound
		}
		if presences {
			ps := make([]any, len(part))
			for j, m := range part {
				user := m.(map[string]any)["user"].(map[string]any)
				ps[j] = memberPresence(user["id"].(Snowflake))
			}
			d["presences"] = ps
		}
		if r.nonce != "" {
			d["nonce"] = r.nonce
		}
		_, _ = s.dispatchLocked(sess, "GUILD_MEMBERS_CHUNK", d, true)
	}
	s.notifyLocked()
}

func memberPresence(user Snowflake) map[string]any {
	return map[string]any{
		"user":          map[string]any{"id": user},
		"status":        "online",
		"client_status": map[string]any{"desktop": "online"},
		"activities":    []any{},
	}
}
