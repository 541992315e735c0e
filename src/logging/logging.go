// Package logging sets up the gateway's structured logs (DESIGN.md §8):
// JSON records on one writer, debug records only when asked for, and a
// guard that keeps secrets out of every record.
package logging

import (
	"io"
	"log/slog"
)

// KeyShardID is the attribute every record about a shard carries.
const KeyShardID = "shard_id"

// New returns a JSON logger at Info level, or Debug when debug is set.
// Any secrets given (the bot token) are masked in every record; see Redact.
func New(w io.Writer, debug bool, secrets ...string) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(Redact(h, secrets...))
}

// ShardAttr is the shard_id attribute, so that every package spells it the
// same way.
func ShardAttr(id int) slog.Attr { return slog.Int(KeyShardID, id) }
