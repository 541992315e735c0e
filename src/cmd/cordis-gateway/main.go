// Command cordis-gateway connects a Discord bot's gateway shards to
// RabbitMQ. Configuration comes from CORDIS_* environment variables; see the
// README.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cordis-gateway/cordis/src/broker"
	"github.com/cordis-gateway/cordis/src/config"
	"github.com/cordis-gateway/cordis/src/logging"
	"github.com/cordis-gateway/cordis/src/memlimit"
	"github.com/cordis-gateway/cordis/src/service"
)

// shutdownLimit is how long a graceful shutdown may take (DESIGN.md §7).
const shutdownLimit = 10 * time.Second

// version is set at link time (-X main.version=..., see nix/package.nix).
var version = "dev"

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-version", "--version", "version":
			fmt.Println("cordis-gateway", version)
			return 0
		default:
			fmt.Fprintf(os.Stderr, "cordis-gateway %s takes no arguments: it is configured with CORDIS_* environment variables (see the README)\n", version)
			return 2
		}
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(os.Stderr, "cordis-gateway: configuration error: %s\n", line)
		}
		return 2
	}
	log := logging.New(os.Stderr, cfg.Debug, cfg.Token.Reveal())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-signals
		log.Info("signal received; shutting down", slog.String("signal", sig.String()))
		cancel()
		select {
		case <-signals:
			log.Warn("second signal; exiting at once")
		case <-time.After(shutdownLimit):
			log.Error("shutdown took longer than 10s; exiting")
		}
		os.Exit(1)
	}()

	// A fixed GC headroom above the live heap instead of GOGC's 100%, so that a full
	// dispatch buffer costs at most ~1.2x its bound in RSS (src/memlimit). GOMEMLIMIT wins.
	memLimited := memlimit.Start(ctx, os.LookupEnv, broker.DefaultMaxBufferBytes)

	log.Info("starting cordis-gateway", slog.String("version", version), slog.Any("config", cfg),
		slog.Bool("gc_headroom_limit", memLimited))
	err = service.Run(ctx, cfg, log, version)
	if err == nil {
		log.Info("stopped")
		return 0
	}
	code := 1
	var ee *service.ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	log.Error("gateway stopped", slog.Any("error", err))
	return code
}
