package integration

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
)

// gatewayRunner is one run of the gateway under test: a subprocess of the
// binary built from source (processRunner) or, in image mode, a container
// of CORDIS_TEST_GATEWAY_IMAGE (imageRunner). gatewayProc and benchGateway
// sit on top of it, so every test runs unchanged in both modes.
type gatewayRunner interface {
	// signal sends sig to the gateway; an error once it has exited.
	signal(sig syscall.Signal) error
	// wait blocks until the gateway has exited and every line of its
	// output was delivered, releases what the run holds, and returns the
	// exit status. Call it once.
	wait() int
	// pid is the gateway's process id on this host, for readings of
	// /proc; false when the gateway runs in a container.
	pid() (int, bool)
}

// launchGateway starts the gateway under test with vars (on top of a clean
// environment): in image mode a container of env.image, otherwise bin as a
// subprocess. Each line the gateway writes to stderr goes to stderrLine;
// its stdout goes to stdout (nil: dropped).
func launchGateway(tb testing.TB, bin string, vars map[string]string, stdout io.Writer, stderrLine func(string)) (gatewayRunner, error) {
	tb.Helper()
	if env.image != "" {
		return startImageRunner(tb, vars, stdout, stderrLine)
	}
	return startProcessRunner(bin, vars, stdout, stderrLine)
}

// processRunner is the gateway as a subprocess.
type processRunner struct {
	cmd     *exec.Cmd
	readers sync.WaitGroup
}

func startProcessRunner(bin string, vars map[string]string, stdout io.Writer, stderrLine func(string)) (*processRunner, error) {
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GORACE=halt_on_error=1"}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout = stdout
	cmd.SysProcAttr = gatewaySysProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	trackGateway(cmd.Process)
	r := &processRunner{cmd: cmd}
	r.readers.Go(func() { scanLines(stderr, stderrLine) })
	return r, nil
}

func (r *processRunner) signal(sig syscall.Signal) error { return r.cmd.Process.Signal(sig) }

func (r *processRunner) wait() int {
	r.readers.Wait() // Wait closes the pipe: read it to the end first
	_ = r.cmd.Wait()
	untrackGateway(r.cmd.Process)
	return r.cmd.ProcessState.ExitCode()
}

func (r *processRunner) pid() (int, bool) { return r.cmd.Process.Pid, true }

// scanLines calls line for each line of r, then drains r so that the
// writer never blocks on a line too long to scan.
func scanLines(r io.Reader, line func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line(sc.Text())
	}
	_, _ = io.Copy(io.Discard, r)
}
