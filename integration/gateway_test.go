package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gatewayProc is one running cordis-gateway subprocess.
type gatewayProc struct {
	t    *testing.T
	cmd  *exec.Cmd
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

// startGateway runs the binary with the given CORDIS_* variables (on top
// of a clean environment; CORDIS_DEBUG=true unless given: "" gives the
// default level) and kills it when the test ends. The test then fails if
// the gateway's output (stdout and stderr) shows its token in any form:
// see checkNoToken.
func startGateway(t *testing.T, vars map[string]string) *gatewayProc {
	t.Helper()
	vars = withDebug(vars)
	g := &gatewayProc{t: t, done: make(chan struct{}), grow: make(chan struct{})}
	stdout := newLineWriter(g.addStdout)
	cmd := exec.Command(gatewayBinary(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GORACE=halt_on_error=1"}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = gatewaySysProcAttr()
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	trackGateway(cmd.Process)
	g.cmd = cmd
	var readers sync.WaitGroup
	readers.Go(func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			g.addLine(sc.Text())
		}
	})
	go func() {
		readers.Wait()
		_ = cmd.Wait()
		g.exit = cmd.ProcessState.ExitCode()
		untrackGateway(cmd.Process)
		stdout.flush()
		close(g.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
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

// signal sends sig to the process.
func (g *gatewayProc) signal(sig syscall.Signal) {
	_ = g.cmd.Process.Signal(sig)
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
