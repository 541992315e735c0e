package integration

// Image mode: with CORDIS_TEST_GATEWAY_IMAGE=<image> the suite proves that
// container image instead of a binary built from source. Every gateway a
// test starts is a container of the image, run through testcontainers-go
// with host networking (it reaches fakediscord, the fault proxies and the
// services on loopback, like the subprocess does); signals, logs and the
// exit status go through the Docker API.
//
//	CORDIS_TEST_GATEWAY_IMAGE=cordis-gateway:dev go test ./integration/...
//
// A test that cannot apply to a container (a reading of /proc/<pid>) skips
// in image mode with that reason: see skipInImageMode.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// imageDocker is the Docker client of image mode, set by setupImageMode.
var imageDocker *testcontainers.DockerClient

// setupImageMode connects to Docker and checks that the image is there, so
// that a missing image fails the run once and clearly instead of every test.
func setupImageMode(ctx context.Context, image string) (err error) {
	defer func() {
		if r := recover(); r != nil { // testcontainers panics when no Docker is found
			err = fmt.Errorf("docker: %v", r)
		}
	}()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("connect to docker: %w", err)
	}
	img, err := cli.ImageInspect(ctx, image)
	if err != nil {
		_ = cli.Close()
		return fmt.Errorf("%w (the image must be in the engine: build or load it first, e.g. `just image-docker`)", err)
	}
	// Which build was proven, for the run's log.
	version := "unlabelled"
	if img.Config != nil && img.Config.Labels["org.opencontainers.image.version"] != "" {
		version = img.Config.Labels["org.opencontainers.image.version"]
	}
	fmt.Printf("integration: the gateway under test is the image %s (%s, version %s)\n", image, img.ID, version)
	imageDocker = cli
	return nil
}

// skipInImageMode skips a test that cannot apply to a gateway in a
// container, in image mode only.
func skipInImageMode(tb testing.TB, why string) {
	tb.Helper()
	if env.image != "" {
		tb.Skipf("image mode (%s): %s", env.image, why)
	}
}

// Time limits of the Docker API calls of one gateway container.
const (
	imageStartTimeout = 2 * time.Minute
	imageCallTimeout  = 30 * time.Second
)

// imageRunner is the gateway as a container of env.image.
type imageRunner struct {
	ctr      *testcontainers.DockerContainer
	logsDone chan struct{} // the log stream ended: every line was delivered
}

func startImageRunner(tb testing.TB, vars map[string]string, stdout io.Writer, stderrLine func(string)) (*imageRunner, error) {
	ctx, cancel := context.WithTimeout(context.Background(), imageStartTimeout)
	defer cancel()
	// testcontainers logs each step to the test; a benchmark stops its
	// gateway after the sub-benchmark completed, where logging would panic.
	logger := tclog.NewNoopLogger()
	if t, ok := tb.(*testing.T); ok {
		logger = tclog.TestLogger(t)
	}
	ctr, err := testcontainers.Run(ctx, env.image,
		testcontainers.WithEnv(vars),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.NetworkMode = "host"
		}),
		testcontainers.WithLogger(logger),
	)
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return nil, fmt.Errorf("run container of %s: %w", env.image, err)
	}
	// One following stream from the container's first line: it ends when
	// the container stops, so nothing is missed even if it already exited.
	logs, err := imageDocker.ContainerLogs(context.Background(), ctr.GetContainerID(), client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     true,
	})
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return nil, fmt.Errorf("logs of container %s: %w", ctr.GetContainerID(), err)
	}
	if stdout == nil {
		stdout = io.Discard
	}
	r := &imageRunner{ctr: ctr, logsDone: make(chan struct{})}
	stderrR, stderrW := io.Pipe()
	var lines sync.WaitGroup
	lines.Go(func() { scanLines(stderrR, stderrLine) })
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderrW, logs)
		_ = logs.Close()
		_ = stderrW.CloseWithError(err)
		lines.Wait()
		close(r.logsDone)
	}()
	return r, nil
}

func (r *imageRunner) signal(sig syscall.Signal) error {
	ctx, cancel := context.WithTimeout(context.Background(), imageCallTimeout)
	defer cancel()
	_, err := imageDocker.ContainerKill(ctx, r.ctr.GetContainerID(), client.ContainerKillOptions{Signal: strconv.Itoa(int(sig))})
	return err
}

func (r *imageRunner) wait() int {
	code, err := r.exitCode()
	select {
	case <-r.logsDone:
	case <-time.After(imageCallTimeout):
		err = errors.Join(err, errors.New("the log stream did not end"))
	}
	if terr := testcontainers.TerminateContainer(r.ctr); terr != nil {
		err = errors.Join(err, fmt.Errorf("remove: %w", terr))
	}
	if err != nil {
		// Not tb.Errorf: a benchmark stops its gateway after its sub-benchmark
		// completed. The status -1 fails a test that expects one.
		fmt.Fprintf(os.Stderr, "integration: gateway container %s: %v\n", r.ctr.GetContainerID(), err)
		return -1
	}
	return code
}

// exitCode waits for the container to stop and returns its exit status.
func (r *imageRunner) exitCode() (int, error) {
	res := imageDocker.ContainerWait(context.Background(), r.ctr.GetContainerID(), client.ContainerWaitOptions{
		Condition: container.WaitConditionNotRunning,
	})
	select {
	case w := <-res.Result:
		if w.Error != nil && w.Error.Message != "" {
			return -1, fmt.Errorf("wait: %s", w.Error.Message)
		}
		return int(w.StatusCode), nil
	case err := <-res.Error:
		return -1, fmt.Errorf("wait: %w", err)
	}
}

func (r *imageRunner) pid() (int, bool) { return 0, false }
