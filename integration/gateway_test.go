package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gatewayProc is one running cordis-gateway: a subprocess, or a container
// in image mode (see gatewayRunner).
type gatewayProc struct {
	t    *testing.T
	run  gatewayRunner
	done chan struct{}
	exit int

	mu    sync.Mutex
	lines []string         // stderr, line by line
	out   []string         // stdout, line by line
	logs  []map[string]any // stderr lines that are JSON log records
	grow  chan struct{}
}

// testToken is the bot token fakediscord is started with: its first
// segment is the base64 of the bot's user id, like a real token.
const testToken = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.cordis-integration-secret-token"

// startGateway runs the gateway under test with the given CORDIS_*
// variables (on top of a clean environment; CORDIS_DEBUG=true unless
// given: "" gives the default level) and kills it when the test ends. The
// test then fails if the gateway's output (stdout and stderr) shows its
// token in any form: see checkNoToken.
func startGateway(t *testing.T, vars map[string]string) *gatewayProc {
	t.Helper()
	bin := ""
	if env.image == "" {
		bin = gatewayBinary(t)
	}
	return startGatewayFrom(t, bin, vars)
}

// startGatewayFrom is startGateway with the binary to run (ignored in image
// mode), e.g. one built without -race for memory readings.
func startGatewayFrom(t *testing.T, bin string, vars map[string]string) *gatewayProc {
	t.Helper()
	vars = withDebug(vars)
	g := &gatewayProc{t: t, done: make(chan struct{}), grow: make(chan struct{})}
	stdout := newLineWriter(g.addStdout)
	run, err := launchGateway(t, bin, vars, stdout, g.addLine)
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	g.run = run
	go func() {
		g.exit = run.wait()
		stdout.flush()
		close(g.done)
	}()
	t.Cleanup(func() {
		_ = run.signal(syscall.SIGKILL)
		<-g.done
		g.checkNoToken(tokenOf(vars))
		if t.Failed() {
			t.Logf("gateway stderr:\n%s", strings.Join(g.stderr(), "\n"))
			if out := g.stdoutLines(); len(out) > 0 {
				t.Logf("gateway stdout:\n%s", strings.Join(out, "\n"))
			}
		}
	})
	return g
}

func (g *gatewayProc) addLine(line string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lines = append(g.lines, line)
	var rec map[string]any
	if json.Unmarshal([]byte(line), &rec) == nil {
		g.logs = append(g.logs, rec)
	}
	close(g.grow)
	g.grow = make(chan struct{})
}

func (g *gatewayProc) stderr() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.lines...)
}

// waitLog waits until a log record satisfies match.
func (g *gatewayProc) waitLog(timeout time.Duration, what string, match func(map[string]any) bool) map[string]any {
	g.t.Helper()
	deadline := time.After(timeout)
	seen := 0
	for {
		g.mu.Lock()
		for ; seen < len(g.logs); seen++ {
			if match(g.logs[seen]) {
				rec := g.logs[seen]
				g.mu.Unlock()
				return rec
			}
		}
		grow := g.grow
		g.mu.Unlock()
		select {
		case <-grow:
		case <-g.done:
			g.t.Fatalf("gateway exited (%d) before logging %s", g.exit, what)
		case <-deadline:
			g.t.Fatalf("gateway did not log %s within %v", what, timeout)
		}
	}
}

// signal sends sig to the gateway.
func (g *gatewayProc) signal(sig syscall.Signal) {
	_ = g.run.signal(sig)
}

// wait waits for the process to exit and returns its status.
func (g *gatewayProc) wait(timeout time.Duration) (int, error) {
	select {
	case <-g.done:
		return g.exit, nil
	case <-time.After(timeout):
		return -1, fmt.Errorf("gateway still running after %v", timeout)
	}
}

// exited reports whether the process has ended.
func (g *gatewayProc) exited() bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

// testContext is a context bounded by the test's deadline or a minute.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
