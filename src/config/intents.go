package config

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Intent bits (DESIGN.md §2).
const (
	IntentGuilds                      int64 = 1 << 0
	IntentGuildMembers                int64 = 1 << 1
	IntentGuildModeration             int64 = 1 << 2
	IntentGuildExpressions            int64 = 1 << 3
	IntentGuildIntegrations           int64 = 1 << 4
	IntentGuildWebhooks               int64 = 1 << 5
	IntentGuildInvites                int64 = 1 << 6
	IntentGuildVoiceStates            int64 = 1 << 7
	IntentGuildPresences              int64 = 1 << 8
	IntentGuildMessages               int64 = 1 << 9
	IntentGuildMessageReactions       int64 = 1 << 10
	IntentGuildMessageTyping          int64 = 1 << 11
	IntentDirectMessages              int64 = 1 << 12
	IntentDirectMessageReactions      int64 = 1 << 13
	IntentDirectMessageTyping         int64 = 1 << 14
	IntentMessageContent              int64 = 1 << 15
	IntentGuildScheduledEvents        int64 = 1 << 16
	IntentAutoModerationConfiguration int64 = 1 << 20
	IntentAutoModerationExecution     int64 = 1 << 21
	IntentGuildMessagePolls           int64 = 1 << 24
	IntentDirectMessagePolls          int64 = 1 << 25

	IntentsAll           int64 = 53608447
	IntentsPrivileged    int64 = IntentGuildMembers | IntentGuildPresences | IntentMessageContent // 33026
	IntentsNonPrivileged int64 = IntentsAll &^ IntentsPrivileged                                  // 53575421
)

// intentNames lists the canonical names in bit order; they are what
// IntentNames returns and what an error shows.
var intentNames = [...]struct {
	name string
	bit  int64
}{
	{"guilds", IntentGuilds},
	{"guildMembers", IntentGuildMembers},
	{"guildModeration", IntentGuildModeration},
	{"guildExpressions", IntentGuildExpressions},
	{"guildIntegrations", IntentGuildIntegrations},
	{"guildWebhooks", IntentGuildWebhooks},
	{"guildInvites", IntentGuildInvites},
	{"guildVoiceStates", IntentGuildVoiceStates},
	{"guildPresences", IntentGuildPresences},
	{"guildMessages", IntentGuildMessages},
	{"guildMessageReactions", IntentGuildMessageReactions},
	{"guildMessageTyping", IntentGuildMessageTyping},
	{"directMessages", IntentDirectMessages},
	{"directMessageReactions", IntentDirectMessageReactions},
	{"directMessageTyping", IntentDirectMessageTyping},
	{"messageContent", IntentMessageContent},
	{"guildScheduledEvents", IntentGuildScheduledEvents},
	{"autoModerationConfiguration", IntentAutoModerationConfiguration},
	{"autoModerationExecution", IntentAutoModerationExecution},
	{"guildMessagePolls", IntentGuildMessagePolls},
	{"directMessagePolls", IntentDirectMessagePolls},
}

// intentExtras are the aliases and expansions, keyed by their normalized form.
var intentExtras = map[string]int64{
	"guildbans":              IntentGuildModeration,
	"guildemojisandstickers": IntentGuildExpressions,
	"guildemojis":            IntentGuildExpressions,
	"all":                    IntentsAll,
	"privileged":             IntentsPrivileged,
	"nonprivileged":          IntentsNonPrivileged,
}

// normalizeIntent folds camelCase and Discord's SCREAMING_SNAKE spelling
// into one key: guildMessages, GUILD_MESSAGES and guildmessages all match.
func normalizeIntent(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "_", ""))
}

func lookupIntent(name string) (int64, bool) {
	key := normalizeIntent(name)
	for _, in := range intentNames {
		if normalizeIntent(in.name) == key {
			return in.bit, true
		}
	}
	bit, ok := intentExtras[key]
	return bit, ok
}

func acceptedIntents() string {
	names := make([]string, len(intentNames))
	for i, in := range intentNames {
		names[i] = in.name
	}
	return fmt.Sprintf("comma-separated intent names (%s; aliases guildBans, guildEmojisAndStickers, guildEmojis), "+
		"all, privileged, nonPrivileged, or a bitfield of known bits (all = %d); case-insensitive, GUILD_MESSAGES spelling too",
		strings.Join(names, ", "), IntentsAll)
}

// ParseIntents parses a CORDIS_WS_INTENTS value: the parts are OR-ed and
// empty parts are ignored. A number with bits Discord does not know is
// refused here, because Discord would close the connection with 4013.
// The error is an *Error naming every part that was not understood.
func ParseIntents(s string) (int64, error) {
	var intents int64
	var bad []string
	seen := false
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		seen = true
		if isDigits(part) {
			n, err := strconv.ParseInt(part, 10, 64)
			if err != nil || n&^IntentsAll != 0 {
				bad = append(bad, part)
				continue
			}
			intents |= n
			continue
		}
		bit, ok := lookupIntent(part)
		if !ok {
			bad = append(bad, part)
			continue
		}
		intents |= bit
	}
	if !seen { // only commas: almost certainly a templating mistake
		return 0, &Error{Var: varIntents, Value: s, Accepted: acceptedIntents()}
	}
	if len(bad) > 0 {
		return 0, &Error{Var: varIntents, Value: strings.Join(bad, ","), Accepted: acceptedIntents()}
	}
	return intents, nil
}

// IntentNames returns the canonical names of the bits set in intents, in
// bit order, for logs; unknown bits appear as "bitN".
func IntentNames(intents int64) []string {
	var names []string
	for _, in := range intentNames {
		if intents&in.bit != 0 {
			names = append(names, in.name)
		}
	}
	for rest := uint64(intents &^ IntentsAll); rest != 0; rest &= rest - 1 {
		names = append(names, "bit"+strconv.Itoa(bits.TrailingZeros64(rest)))
	}
	return names
}
