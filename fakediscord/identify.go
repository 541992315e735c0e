package fakediscord

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Intent bits Discord knows, and the privileged ones.
const (
	AllIntents        int64 = 53608447
	PrivilegedIntents int64 = 1<<1 | 1<<8 | 1<<15
)

// identify checks an IDENTIFY the way Discord does and answers with READY
// and the shard's GUILD_CREATEs, op 9 false, or a close.
func (s *Server) identify(c *conn, now time.Time, p map[string]any) {
	d, _ := p["d"].(map[string]any)
	id := Identify{Time: now, ConnID: c.id, URL: c.url, Shard: 0, ShardTotal: 1, Payload: p}

	refuse := func(kind string, code int, reason, detail string) {
		id.Refusal = detail
		s.addIdentify(id)
		if code != 0 {
			c.fail(kind, code, reason, detail)
			return
		}
		s.violation(c, kind, 0, detail)
		_ = s.sendOp(c, OpInvalidSession, false)
	}

	s.mu.Lock()
	already := c.identified
	s.mu.Unlock()
	if already {
		refuse(ViolationAlreadyAuthed, 4005, "Already authenticated.", "second IDENTIFY on one connection")
		return
	}
	if d == nil {
		refuse(ViolationDecode, 4002, "Error while decoding payload.", "IDENTIFY d is not a map")
		return
	}
	if _, ok := d["properties"].(map[string]any); !ok {
		refuse(ViolationDecode, 4002, "Error while decoding payload.", "IDENTIFY without properties")
		return
	}
	if tok, _ := d["token"].(string); !s.tokenOK(tok) {
		refuse(ViolationAuthFailed, 4004, "Authentication failed.", "wrong token")
		return
	}
	if lt, present := d["large_threshold"]; present && lt != nil {
		if n, ok := asInt64(lt); !ok || n < 50 || n > 250 {
			refuse(ViolationInvalidPayload, 4002, "Error while decoding payload.", fmt.Sprintf("large_threshold %v not an integer in 50..250", lt))
			return
		}
	}
	compress, present := d["compress"].(bool)
	if _, there := d["compress"]; there && d["compress"] != nil && !present {
		refuse(ViolationInvalidPayload, 4002, "Error while decoding payload.", fmt.Sprintf("compress %v not a boolean", d["compress"]))
		return
	}
	shardGiven := false
	if raw, present := d["shard"]; present && raw != nil {
		shardGiven = true
		l, _ := raw.([]any)
		var sid, total int64
		ok := len(l) == 2
		if ok {
			var ok1, ok2 bool
			sid, ok1 = asInt64(l[0])
			total, ok2 = asInt64(l[1])
			ok = ok1 && ok2 && total >= 1 && sid >= 0 && sid < total
		}
		if !ok {
			refuse(ViolationInvalidShard, 4010, "Invalid shard.", fmt.Sprintf("shard %v", raw))
			return
		}
		id.Shard, id.ShardTotal = int(sid), int(total)
	}
	intents, ok := asInt64(d["intents"])
	id.Intents = intents
	switch {
	case !ok || intents < 0 || intents&^AllIntents != 0:
		refuse(ViolationInvalidIntents, 4013, "Invalid intent(s).", fmt.Sprintf("intents %v", d["intents"]))
		return
	case intents&PrivilegedIntents&^s.opts.PrivilegedIntents != 0:
		refuse(ViolationDisallowed, 4014, "Disallowed intent(s).",
			fmt.Sprintf("privileged intents %d not enabled", intents&PrivilegedIntents&^s.opts.PrivilegedIntents))
		return
	}

	s.mu.Lock()
	bucket := id.Shard % s.opts.MaxConcurrency
	if last, ok := s.bucketLast[bucket]; ok && now.Sub(last) < s.opts.IdentifyInterval {
		s.mu.Unlock()
		refuse(ViolationIdentifyRate, 0, "", fmt.Sprintf("bucket %d identified %s ago (limit one per %s)",
			bucket, now.Sub(last).Round(time.Millisecond), s.opts.IdentifyInterval))
		return
	}
	s.refillLocked(now)
	if s.remaining <= 0 {
		s.mu.Unlock()
		refuse(ViolationSessionStart, 0, "", "session_start_limit.remaining is 0")
		return
	}
	s.remaining--
	s.bucketLast[bucket] = now

	sess := &session{id: newSessionID(), shard: id.Shard, shardTotal: id.ShardTotal, intents: intents, enc: c.enc, conn: c}
	s.sessions[sess.id] = sess
	s.shards[sess.shard] = sess
	c.sess, c.identified, c.shard = sess, true, sess.shard
	if info := s.connInfo[c.id]; info != nil {
		info.Shard, info.SessionID = sess.shard, sess.id
	}
	id.Accepted, id.SessionID = true, sess.id
	s.rec.identifies = appendCapped(s.rec.identifies, id, s.opts.RecordLimit)

	guilds := GuildIDs(s.opts.Guilds, sess.shard, sess.shardTotal)
	unavailable := make([]any, len(guilds))
	for i, g := range guilds {
		unavailable[i] = map[string]any{"id": g, "unavailable": true}
	}
	version, _ := strconv.Atoi(c.version)
	ready := map[string]any{
		"v":                       version,
		"user":                    SampleUser(Snowflake(s.opts.BotID), "fakebot", true),
		"guilds":                  unavailable,
		"session_id":              sess.id,
		"resume_gateway_url":      s.ResumeURL(),
		"application":             map[string]any{"id": Snowflake(s.opts.BotID), "flags": 0},
		"private_channels":        []any{},
		"presences":               []any{},
		"relationships":           []any{},
		"guild_join_requests":     []any{},
		"geo_ordered_rtc_regions": []any{"us-east", "us-central"},
		"session_type":            "normal",
		"user_settings":           map[string]any{},
		"_trace":                  s.trace(),
	}
	if shardGiven { // Discord echoes shard only when IDENTIFY sent one
		ready["shard"] = []any{sess.shard, sess.shardTotal}
	}
	// Payload compression applies from READY on; transport compression
	// takes precedence.
	c.zlibPayloads.Store(compress && c.compress == CompressNone)
	if _, err := s.dispatchLocked(sess, "READY", ready, true); err == nil {
		for _, g := range guilds {
			_, _ = s.dispatchLocked(sess, "GUILD_CREATE", SampleGuildCreate(g, guildMemberCount), true)
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
}

// tokenOK accepts the token bare or as "Bot <token>", as Discord does in
// IDENTIFY and RESUME.
func (s *Server) tokenOK(tok string) bool {
	return strings.TrimPrefix(tok, "Bot ") == s.opts.Token
}

func (s *Server) addIdentify(id Identify) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.identifies = appendCapped(s.rec.identifies, id, s.opts.RecordLimit)
	s.notifyLocked()
}

// resume re-attaches a session: replays every dispatch after seq, then
// RESUMED; an unknown session or seq gets op 9 false.
func (s *Server) resume(c *conn, now time.Time, p map[string]any) {
	d, _ := p["d"].(map[string]any)
	rs := Resume{Time: now, ConnID: c.id, URL: c.url, Shard: -1}
	if d == nil {
		c.fail(ViolationDecode, 4002, "Error while decoding payload.", "RESUME d is not a map")
		return
	}
	rs.SessionID, _ = d["session_id"].(string)
	seq, seqOK := asInt64(d["seq"])
	rs.Seq = seq

	s.mu.Lock()
	if c.identified {
		s.mu.Unlock()
		c.fail(ViolationAlreadyAuthed, 4005, "Already authenticated.", "RESUME on an identified connection")
		return
	}
	if tok, _ := d["token"].(string); !s.tokenOK(tok) {
		s.mu.Unlock()
		c.fail(ViolationAuthFailed, 4004, "Authentication failed.", "wrong token in RESUME")
		return
	}
	sess := s.sessions[rs.SessionID]
	switch {
	case sess == nil || sess.invalid:
		rs.Refusal = "unknown or ended session"
	case !seqOK || seq < 0:
		rs.Refusal = fmt.Sprintf("seq %v is not a sequence number", d["seq"])
	case seq > sess.seq:
		// Discord closes with 4007 and the session is gone.
		rs.Refusal = fmt.Sprintf("seq %d beyond the last sent (%d)", seq, sess.seq)
		rs.Shard = sess.shard
		sess.end()
		s.rec.resumes = appendCapped(s.rec.resumes, rs, s.opts.RecordLimit)
		s.notifyLocked()
		s.mu.Unlock()
		c.fail(ViolationInvalidSeq, 4007, "Invalid seq.", rs.Refusal)
		return
	case len(sess.events) > 0 && seq < sess.events[0].seq-1:
		rs.Refusal = fmt.Sprintf("seq %d too old (oldest kept %d)", seq, sess.events[0].seq)
	}
	if sess != nil {
		rs.Shard = sess.shard
	}
	if rs.Refusal != "" {
		s.rec.resumes = appendCapped(s.rec.resumes, rs, s.opts.RecordLimit)
		s.notifyLocked()
		s.mu.Unlock()
		_ = s.sendOp(c, OpInvalidSession, false)
		return
	}
	if old := sess.conn; old != nil && old != c {
		old.enqueue(outMsg{kind: outDrop}) // Discord keeps one connection per session
	}
	sess.conn = c
	c.sess, c.identified, c.shard = sess, true, sess.shard
	s.shards[sess.shard] = sess
	if info := s.connInfo[c.id]; info != nil {
		info.Shard, info.SessionID = sess.shard, sess.id
	}
	for _, ev := range sess.events {
		if ev.seq > seq {
			c.enqueue(s.dispatchMsg(c, sess, ev, true, true))
			rs.Replayed++
		}
	}
	rs.Accepted = true
	s.rec.resumes = appendCapped(s.rec.resumes, rs, s.opts.RecordLimit)
	_, _ = s.dispatchLocked(sess, "RESUMED", map[string]any{"_trace": s.trace()}, true)
	s.notifyLocked()
	s.mu.Unlock()
}
