package service

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cordis-gateway/cordis/src/broker"
)

// Issue 8 point 9: a shutdown that leaves dispatches unconfirmed exits
// non-zero unless a stored session lets the next start replay them.
func TestShutdownExitStatusTellsWhenDispatchesAreLost(t *testing.T) {
	unconfirmed := &broker.UnconfirmedError{Messages: 20000, Bytes: 1 << 20, Err: context.DeadlineExceeded}
	tests := []struct {
		name     string
		closeErr error
		redis    bool
		saveErr  error
		want     int // 0: no error
	}{
		{"all confirmed, no redis", nil, false, nil, 0},
		{"all confirmed, redis", nil, true, nil, 0},
		{"unconfirmed, no redis: lost", unconfirmed, false, nil, ExitLost},
		{"unconfirmed, redis saved: replayed after a restart", unconfirmed, true, nil, 0},
		{"unconfirmed, redis save failed: lost", unconfirmed, true, errors.New("redis down"), ExitLost},
		{"another close error is not a loss", errors.New("socket closed"), false, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := lostOnShutdown(tt.closeErr, tt.redis, tt.saveErr)
			if tt.want == 0 {
				assert.NoError(t, err)
				return
			}
			var ee *ExitError
			if assert.ErrorAs(t, err, &ee) {
				assert.Equal(t, tt.want, ee.Code)
				assert.Contains(t, ee.Error(), "20000 dispatches")
			}
		})
	}
}
