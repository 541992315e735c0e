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
		givenUp  int // unconfirmed dispatches of sessions given up before
		want     int // 0: no error
		says     string
	}{
		{"all confirmed, no redis", nil, false, nil, 0, 0, ""},
		{"all confirmed, redis", nil, true, nil, 0, 0, ""},
		{"unconfirmed, no redis: lost", unconfirmed, false, nil, 0, ExitLost, "20000 dispatches"},
		{"unconfirmed, redis saved: replayed after a restart", unconfirmed, true, nil, 0, 0, ""},
		{"unconfirmed, redis save failed: lost", unconfirmed, true, errors.New("redis down"), 0, ExitLost, "20000 dispatches"},
		{"unconfirmed, redis saved, some of a session given up: those lost", unconfirmed, true, nil, 7, ExitLost, "lost 7 dispatches"},
		{"another close error is not a loss", errors.New("socket closed"), false, nil, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := lostOnShutdown(tt.closeErr, tt.redis, tt.saveErr, tt.givenUp)
			if tt.want == 0 {
				assert.NoError(t, err)
				return
			}
			var ee *ExitError
			if assert.ErrorAs(t, err, &ee) {
				assert.Equal(t, tt.want, ee.Code)
				assert.Contains(t, ee.Error(), tt.says)
			}
		})
	}
}
