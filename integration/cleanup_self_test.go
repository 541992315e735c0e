package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The start-of-run sweep removes what a dead run left behind (its
// directory, and a gateway still running from it) and leaves live runs
// alone.
func TestSweepRemovesOnlyDeadRunsLeftovers(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mkRun := func(owner string) string {
		dir, err := os.MkdirTemp("", runDirPrefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		if owner != "" {
			if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	deadDir := mkRun(strconv.Itoa(dead.Process.Pid))
	liveDir := mkRun(strconv.Itoa(os.Getpid()))
	legacyDir := mkRun("") // an older harness's run, maybe still going

	// A "gateway" left running from the dead run's directory.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	stray := filepath.Join(deadDir, "cordis-gateway")
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stray, b, 0o700); err != nil {
		t.Fatal(err)
	}
	proc := exec.Command(stray, "60")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = proc.Wait(); close(exited) }()
	t.Cleanup(func() { _ = proc.Process.Kill() })

	sweepDeadRuns()

	if _, err := os.Stat(deadDir); !os.IsNotExist(err) {
		t.Errorf("dead run's directory still there: %v", err)
	}
	for _, dir := range []string{liveDir, legacyDir} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("a live or recent run's directory was removed: %v", err)
		}
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Error("the dead run's gateway is still running")
	}
}
