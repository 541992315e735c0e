package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestExpansionsMatchTheDesignTable(t *testing.T) {
	var all int64
	for _, in := range intentNames {
		all |= in.bit
	}
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"all", IntentsAll, 53608447},
		{"all is every named bit", all, 53608447},
		{"privileged", IntentsPrivileged, 33026},
		{"nonPrivileged", IntentsNonPrivileged, 53575421},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseIntents(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		// names, any case, both spellings
		{"guilds", 1},
		{"guildMessages", 1 << 9},
		{"GUILD_MESSAGES", 1 << 9},
		{"guildmessages", 1 << 9},
		{"GuildMessages", 1 << 9},
		{"guild_messages", 1 << 9},
		{"messageContent", 1 << 15},
		{"AUTO_MODERATION_EXECUTION", 1 << 21},
		{"directMessagePolls", 1 << 25},
		{"guildScheduledEvents", 1 << 16},
		// aliases
		{"guildBans", 1 << 2},
		{"GUILD_BANS", 1 << 2},
		{"guildModeration", 1 << 2},
		{"guildEmojisAndStickers", 1 << 3},
		{"GUILD_EMOJIS_AND_STICKERS", 1 << 3},
		{"guildEmojis", 1 << 3},
		{"guildExpressions", 1 << 3},
		// expansions
		{"all", 53608447},
		{"ALL", 53608447},
		{"privileged", 33026},
		{"nonPrivileged", 53575421},
		{"NON_PRIVILEGED", 53575421},
		{"nonprivileged", 53575421},
		// numbers
		{"0", 0},
		{"513", 513},
		{"53608447", 53608447},
		// OR-ed parts, spaces and empty parts ignored
		{"guilds, guildMessages ,messageContent", 1 | 1<<9 | 1<<15},
		{"nonPrivileged,privileged", 53608447},
		{"guilds,,guilds,", 1},
		{"512,guilds", 513},
		{" , guilds", 1},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseIntents(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseIntents(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseIntentsRefuses(t *testing.T) {
	for _, tc := range []struct {
		in, value string // value: what the error shows
	}{
		{"guildMesages", "guildMesages"},
		{"guilds,nope,guildMessages,nah", "nope,nah"},
		{"4194304", "4194304"},   // bit 22: Discord would close with 4013
		{"53608448", "53608448"}, // all + 1
		{"99999999999999999999", "99999999999999999999"},
		{"-1", "-1"},
		{"0x200", "0x200"},
		{"guild messages", "guild messages"},
		{",", ","},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseIntents(tc.in)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if e.Var != varIntents || e.Value != tc.value {
				t.Errorf("got Var %s Value %q, want %s %q", e.Var, e.Value, varIntents, tc.value)
			}
		})
	}
}

func TestUnknownIntentErrorListsValidNames(t *testing.T) {
	_, err := ParseIntents("guildMesages")
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("not one line: %q", msg)
	}
	for _, in := range intentNames {
		if !strings.Contains(msg, in.name) {
			t.Errorf("error does not list %s: %s", in.name, msg)
		}
	}
	for _, name := range []string{"guildBans", "guildEmojisAndStickers", "guildEmojis", "all", "privileged", "nonPrivileged"} {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not list %s: %s", name, msg)
		}
	}
}

func TestIntentNames(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want []string
	}{
		{0, nil},
		{1 | 1<<9 | 1<<15, []string{"guilds", "guildMessages", "messageContent"}},
		{IntentsPrivileged, []string{"guildMembers", "guildPresences", "messageContent"}},
		{1<<22 | 1, []string{"guilds", "bit22"}},
	} {
		if got := IntentNames(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("IntentNames(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := len(IntentNames(IntentsAll)); got != len(intentNames) {
		t.Errorf("IntentNames(all) has %d names, want %d", got, len(intentNames))
	}
}

func TestEveryCanonicalNameRoundTrips(t *testing.T) {
	for _, in := range intentNames {
		got, err := ParseIntents(in.name)
		if err != nil || got != in.bit {
			t.Errorf("ParseIntents(%q) = %d, %v; want %d", in.name, got, err, in.bit)
		}
	}
}
