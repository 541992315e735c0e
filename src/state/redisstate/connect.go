package redisstate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// connectTimeout bounds the start-up PING: an operator who set a Redis URL
// wants to hear quickly that it does not answer.
const connectTimeout = 3 * time.Second

// Connect parses a redis:// or rediss:// URL and PINGs the server once.
// Errors never contain the URL's password.
func Connect(ctx context.Context, rawURL string) (*redis.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, password included: keep only
		// the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis URL is not a valid URL: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("redis URL %s: scheme must be redis:// or rediss://", u.Redacted())
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL %s: %w", u.Redacted(), err)
	}
	// Lets the per-call deadlines of this package bound socket I/O too.
	opt.ContextTimeoutEnabled = true
	client := redis.NewClient(opt)

	pingCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis at %s does not answer PING: %w", u.Redacted(), err)
	}
	return client, nil
}
