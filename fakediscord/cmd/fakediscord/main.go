// Command fakediscord runs the fake Discord (REST + gateway) and a JSON
// control API on a separate port. See fakediscord/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cordis-gateway/cordis/fakediscord"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fakediscord:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, after printing the URLs as one JSON line.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o fakediscord.Options
	fs := flag.NewFlagSet("fakediscord", flag.ContinueOnError)
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:0", "REST and gateway listen address")
	control := fs.String("control-addr", "127.0.0.1:0", "control API listen address")
	fs.StringVar(&o.Token, "token", fakediscord.DefaultToken, "bot token the fake accepts (without \"Bot \")")
	fs.Uint64Var(&o.BotID, "bot-id", fakediscord.DefaultBotID, "bot user and application id")
	fs.IntVar(&o.Shards, "shards", 1, "recommended shard count in /gateway/bot")
	fs.IntVar(&o.MaxConcurrency, "max-concurrency", 1, "session_start_limit.max_concurrency")
	fs.IntVar(&o.SessionStartTotal, "session-start-total", 1000, "session_start_limit.total")
	fs.IntVar(&o.SessionStartRemaining, "session-start-remaining", 0, "session_start_limit.remaining (0 = total, negative = none left)")
	fs.DurationVar(&o.ResetAfter, "reset-after", 24*time.Hour, "session_start_limit.reset_after")
	fs.DurationVar(&o.HeartbeatInterval, "heartbeat-interval", 41250*time.Millisecond, "heartbeat_interval in HELLO")
	fs.DurationVar(&o.ZombieTimeout, "zombie-timeout", 0, "close 4009 after this long without a heartbeat (0 = 1.5 x heartbeat interval)")
	fs.DurationVar(&o.IdentifyInterval, "identify-interval", 5*time.Second, "one IDENTIFY per bucket per this long")
	fs.IntVar(&o.SendLimit, "send-limit", 120, "client messages per send window before 4008")
	fs.DurationVar(&o.SendWindow, "send-window", 60*time.Second, "send limit window")
	fs.IntVar(&o.Guilds, "guilds", 0, "guilds per shard (READY + one GUILD_CREATE each)")
	fs.Int64Var(&o.PrivilegedIntents, "privileged-intents", fakediscord.PrivilegedIntents, "privileged intent bits the bot may use (33026 = all)")
	fs.IntVar(&o.ReplayBuffer, "replay-buffer", 1000, "dispatches kept per session for RESUME")
	fs.IntVar(&o.RecordLimit, "record-limit", 100000, "entries kept per recorded list")
	if err := fs.Parse(args); err != nil {
		return err
	}

	srv := fakediscord.New(o)
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", *control)
	if err != nil {
		return fmt.Errorf("listening for the control API on %s: %w", *control, err)
	}
	ctl := &http.Server{Handler: srv.ControlHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ctl.Serve(ln) }()
	defer ctl.Close()

	// One JSON line for scripts to read the (possibly random) ports.
	line, _ := json.Marshal(map[string]string{
		"api_url":     srv.APIURL(),
		"gateway_url": srv.GatewayURL(),
		"control_url": "http://" + ln.Addr().String(),
		"token":       srv.Options().Token,
	})
	fmt.Fprintln(stdout, string(line))

	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ctl.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stopping the control API: %w", err)
	}
	return nil
}
