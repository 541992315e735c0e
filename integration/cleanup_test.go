package integration

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// What a run leaves behind is removed three ways: t.Cleanup for each
// test's processes; the run's cleanup (TestMain's defer, or a timer that
// fires just before go test's -timeout would kill the binary without
// running any defer); and, for a run that died anyway (a panic, SIGKILL),
// a sweep of dead runs' leftovers when the next run starts.

// runDirPrefix names every run's temporary directory in os.TempDir().
const runDirPrefix = "cordis-integration-"

// ownerFile in a run directory holds the pid of the test binary using it.
const ownerFile = "owner.pid"

// legacyAge: a run directory without an owner file (made by an older
// harness, maybe still running) is only swept once this old.
const legacyAge = 2 * time.Hour

// timeoutMargin is how long before go test's -timeout the run cleans up.
const timeoutMargin = 3 * time.Second

// newRunDir creates this run's temporary directory, owned by this process.
func newRunDir() (string, error) {
	dir, err := os.MkdirTemp("", runDirPrefix)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// sweepDeadRuns removes the run directories of test binaries that no
// longer run, after killing any gateway still running from one of them.
// Directories of live runs (other checkouts testing right now) are kept.
func sweepDeadRuns() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), runDirPrefix+"*"))
	for _, dir := range dirs {
		if !deadRun(dir) {
			continue
		}
		killProcessesFrom(dir)
		if err := os.RemoveAll(dir); err == nil {
			fmt.Fprintf(os.Stderr, "integration: removed %s, left behind by an earlier run\n", dir)
		}
	}
}

// deadRun reports whether dir belongs to a run that has ended.
func deadRun(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		fi, statErr := os.Stat(dir)
		return statErr == nil && time.Since(fi.ModTime()) > legacyAge
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return true
	}
	if pid == os.Getpid() {
		return false
	}
	// Signal 0 checks existence; EPERM means it exists (someone else's).
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}

// killProcessesFrom kills every process whose executable lies in dir (a
// gateway whose test binary died before it could stop it).
func killProcessesFrom(dir string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		exe, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(exe, dir+string(filepath.Separator)) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// cleanupBeforeTimeout runs cleanup shortly before go test's -timeout
// panics the binary (which runs no defer and no t.Cleanup). It must be
// called right before m.Run, which starts go test's own alarm. The
// returned func stops the timer.
func cleanupBeforeTimeout(cleanup func()) (stop func()) {
	if !flag.Parsed() {
		flag.Parse()
	}
	f := flag.Lookup("test.timeout")
	if f == nil {
		return func() {}
	}
	timeout, ok := f.Value.(flag.Getter).Get().(time.Duration)
	if !ok || timeout <= 0 {
		return func() {}
	}
	at := max(timeout-timeoutMargin, timeout/2)
	timer := time.AfterFunc(at, func() {
		fmt.Fprintf(os.Stderr, "integration: the run is about to time out (-timeout %v): stopping gateways and removing %s\n",
			timeout, env.dir)
		cleanup()
	})
	return func() { timer.Stop() }
}

// gateways are the gateway processes running now, so that the run's
// cleanup can stop them when the tests' own cleanups will not run.
var gateways struct {
	mu    sync.Mutex
	procs map[*os.Process]bool
}

func trackGateway(p *os.Process) {
	gateways.mu.Lock()
	defer gateways.mu.Unlock()
	if gateways.procs == nil {
		gateways.procs = map[*os.Process]bool{}
	}
	gateways.procs[p] = true
}

func untrackGateway(p *os.Process) {
	gateways.mu.Lock()
	defer gateways.mu.Unlock()
	delete(gateways.procs, p)
}

func killGateways() {
	gateways.mu.Lock()
	defer gateways.mu.Unlock()
	for p := range gateways.procs {
		_ = p.Kill()
	}
}

// gatewaySysProcAttr makes the kernel kill a gateway when the test binary
// dies, however it dies.
func gatewaySysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// build is the lazily built race-enabled gateway: only a test that starts
// a gateway pays for it, once per run.
var build struct {
	once sync.Once
	err  error
}

// gatewayBinary builds env.binary on first use and returns its path.
func gatewayBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		out, err := exec.Command("go", "build", "-race", "-o", env.binary, "../src/cmd/cordis-gateway").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build -race cordis-gateway: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return env.binary
}
