package redisstate

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBotIDIsTheUserIDFromTheToken(t *testing.T) {
	const id = "198622483471925248"
	for _, tc := range []struct{ name, first string }{
		{"discord example", "MTk4NjIyNDgzNDcxOTI1MjQ4"},
		{"padded", base64.StdEncoding.EncodeToString([]byte("12345678901234567"))},
		{"unpadded", base64.RawStdEncoding.EncodeToString([]byte("12345678901234567"))},
		{"url-safe", base64.URLEncoding.EncodeToString([]byte("12345678901234567"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := "12345678901234567"
			if tc.name == "discord example" {
				want = id
			}
			token := tc.first + ".Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"
			require.Equal(t, want, BotID(token))
			require.Equal(t, want, BotID("Bot "+token), "leading Bot is ignored")
		})
	}
}

func TestBotIDHashesTokensWithoutAUserID(t *testing.T) {
	for _, token := range []string{
		"not-a-discord-token",
		base64.StdEncoding.EncodeToString([]byte("hello")) + ".x.y", // decodes, not digits
		".abc.def",
		"",
	} {
		got := BotID(token)
		sum := sha256.Sum256([]byte(token))
		require.Equal(t, hex.EncodeToString(sum[:])[:12], got, "token %q", token)
		if token != "" {
			require.False(t, strings.Contains(got, token), "bot id must not contain the token")
		}
	}
}

func TestKeysFollowTheDesignLayout(t *testing.T) {
	require.Equal(t, "cordis:42:identify:16:3", IdentifyKey("42", 16, 3))
	require.Equal(t, "cordis:42:session:7", SessionKey("42", 7))
}
