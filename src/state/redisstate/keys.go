package redisstate

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// BotID names a bot in Redis keys without revealing its token: the user id
// that Discord encodes (base64) in the token's first segment, or, if that
// segment is not such an id, the first 12 hex digits of the token's SHA-256.
func BotID(token string) string {
	token = strings.TrimPrefix(strings.TrimSpace(token), "Bot ")
	first, _, _ := strings.Cut(token, ".")
	if id, ok := decodeUserID(first); ok {
		return id
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}

// decodeUserID accepts standard and URL-safe base64, padded or not.
func decodeUserID(segment string) (string, bool) {
	segment = strings.TrimRight(segment, "=")
	if segment == "" {
		return "", false
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(segment)
		if err == nil && isSnowflake(b) {
			return string(b), true
		}
	}
	return "", false
}

func isSnowflake(b []byte) bool {
	if len(b) == 0 || len(b) > 20 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func keyPrefix(botID string) string { return "cordis:" + botID + ":" }

// IdentifyKey is the lock of one max_concurrency bucket.
func IdentifyKey(botID string, maxConcurrency, bucket int) string {
	return keyPrefix(botID) + "identify:" + strconv.Itoa(maxConcurrency) + ":" + strconv.Itoa(bucket)
}

// StartLimitKey counts the identifies left in the daily session start limit,
// shared by every cluster; it expires when Discord resets the limit.
func StartLimitKey(botID string) string { return keyPrefix(botID) + "session_start_remaining" }

// SessionKey is the hash holding one shard's session.
func SessionKey(botID string, shardID int) string {
	return keyPrefix(botID) + "session:" + strconv.Itoa(shardID)
}
