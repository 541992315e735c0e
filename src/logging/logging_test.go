package logging

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestNewLevelFollowsDebug(t *testing.T) {
	for _, tc := range []struct {
		debug     bool
		wantDebug bool
	}{
		{false, false},
		{true, true},
	} {
		var buf bytes.Buffer
		log := New(&buf, tc.debug)
		log.Debug("d")
		log.Info("i")
		lines := bytes.Count(buf.Bytes(), []byte("\n"))
		want := 1
		if tc.wantDebug {
			want = 2
		}
		if lines != want {
			t.Errorf("debug=%v: %d records, want %d:\n%s", tc.debug, lines, want, buf.String())
		}
	}
}

func TestNewWritesJSONWithShardID(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, false).Info("connected", ShardAttr(7))
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.String())
	}
	if rec["msg"] != "connected" || rec["shard_id"] != float64(7) || rec["level"] != "INFO" {
		t.Errorf("got %v", rec)
	}
}
