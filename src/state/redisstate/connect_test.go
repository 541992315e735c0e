package redisstate

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"
)

func TestConnectPingsTheServer(t *testing.T) {
	mr := miniredis.RunT(t)
	client, err := Connect(context.Background(), "redis://"+mr.Addr()+"/0")
	require.NoError(t, err)
	require.NoError(t, client.Close())
}

func TestConnectErrorsNeverShowThePassword(t *testing.T) {
	const secret = "s3cr3t-pw"
	mr := miniredis.RunT(t)
	mr.RequireAuth("right-password")
	for _, tc := range []struct{ name, url, mention string }{
		{"wrong scheme", "http://user:" + secret + "@127.0.0.1:6379/0", "redis://"},
		{"not a URL", "redis://user:" + secret + "@127.0.0.1:port/0", "not a valid URL"},
		{"bad database", "redis://user:" + secret + "@127.0.0.1:6379/db", "database"},
		{"nobody listening", "redis://:" + secret + "@" + closedAddr(t) + "/0", "PING"},
		{"wrong password", "redis://:" + secret + "@" + mr.Addr() + "/0", "PING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Connect(context.Background(), tc.url)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.mention)
			require.NotContains(t, err.Error(), secret)
		})
	}
}
