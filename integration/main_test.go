// Package integration proves the spec end to end: it builds the real
// cordis-gateway binary and runs it as a subprocess against fakediscord and
// a real RabbitMQ (and Redis). With CORDIS_TEST_GATEWAY_IMAGE set it runs
// that container image instead (gateway_image_test.go).
//
// Services come from CORDIS_TEST_AMQP_URL / CORDIS_TEST_REDIS_URL when set;
// otherwise testcontainers-go starts rabbitmq and redis containers (Docker
// needed). With neither the suite skips, except under CI, where it fails.
package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// env is what every test gets from TestMain.
var env struct {
	amqpURL  string // a broker the gateway can reach
	redisURL string // redis://host:port (no DB: tests pick their own)
	dir      string // this run's temporary directory
	binary   string // path of cordis-gateway, built on first use: gatewayBinary (unused in image mode)
	image    string // CORDIS_TEST_GATEWAY_IMAGE: the gateway is this image instead
	skip     string // non-empty: why tests must skip
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	sweepDeadRuns()
	dir, err := newRunDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	env.dir, env.binary = dir, filepath.Join(dir, "cordis-gateway")
	var (
		once     sync.Once
		stopSvcs = func() {}
	)
	cleanup := func() {
		once.Do(func() {
			killGateways()
			stopSvcs()
			_ = os.RemoveAll(dir)
		})
	}
	defer cleanup()

	svc, err := startServices(ctx)
	if err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintf(os.Stderr, "integration: CI is set but no services: %v\n", err)
			return 1
		}
		env.skip = fmt.Sprintf("no RabbitMQ/Redis for the integration suite (%v); set CORDIS_TEST_AMQP_URL and CORDIS_TEST_REDIS_URL, or run Docker for testcontainers", err)
	} else {
		stopSvcs = svc.stop
		env.amqpURL, env.redisURL = svc.amqpURL, svc.redisURL
		if err := waitForAMQP(ctx, env.amqpURL); err != nil {
			fmt.Fprintln(os.Stderr, "integration:", err)
			return 1
		}
	}

	if env.image = os.Getenv("CORDIS_TEST_GATEWAY_IMAGE"); env.image != "" {
		if err := setupImageMode(ctx, env.image); err != nil {
			fmt.Fprintln(os.Stderr, "integration: CORDIS_TEST_GATEWAY_IMAGE:", err)
			return 1
		}
	}
	defer cleanupBeforeTimeout(cleanup)()
	return m.Run()
}

// requireServices skips (or, under CI, fails) a test that needs RabbitMQ/Redis.
func requireServices(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
}
