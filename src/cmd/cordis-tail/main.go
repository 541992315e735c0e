// Command cordis-tail is a tiny Cordis worker: it binds an exclusive queue
// to the gateway's `gateway` exchange and prints one line per dispatch
// (routing key, shard_id header, content type, size) plus a periodic rate
// summary; or, with -command, publishes one command to `gateway_commands`.
// The exchanges are declared exactly as the gateway declares them
// (DESIGN.md section 3), so either side may start first.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const (
	eventsExchange   = "gateway"
	commandsExchange = "gateway_commands"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, getenv, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "cordis-tail:", err)
		return 2
	}

	conn, err := amqp.DialConfig(o.amqpURL, amqp.Config{
		Properties: amqp.Table{"connection_name": "cordis-tail"},
		Heartbeat:  10 * time.Second,
	})
	if err != nil {
		fmt.Fprintf(stderr, "cordis-tail: connect to RabbitMQ: %v\n", err)
		return 1
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		fmt.Fprintf(stderr, "cordis-tail: open channel: %v\n", err)
		return 1
	}

	if o.command != nil {
		err = publishCommand(ctx, ch, o, stdout)
	} else {
		err = tail(ctx, ch, o, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "cordis-tail:", err)
		return 1
	}
	return 0
}

// publishCommand sends o.command to the gateway_commands fanout exchange and
// waits for the broker's confirm.
func publishCommand(ctx context.Context, ch *amqp.Channel, o options, stdout io.Writer) error {
	if err := ch.ExchangeDeclare(commandsExchange, "fanout", true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare %s: %w", commandsExchange, err)
	}
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("enable publisher confirms: %w", err)
	}
	msg := amqp.Publishing{
		ContentType: "application/json",
		Timestamp:   time.Now(),
		Body:        o.command,
	}
	if o.shard >= 0 {
		msg.Headers = amqp.Table{"shard_id": int64(o.shard)}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, commandsExchange, "", false, false, msg)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("wait for confirm: %w", err)
	}
	if !acked {
		return errors.New("the broker nacked the command")
	}
	target := "every shard"
	if o.shard >= 0 {
		target = fmt.Sprintf("shard %d", o.shard)
	}
	fmt.Fprintf(stdout, "published %d bytes to %s (%s)\n", len(o.command), commandsExchange, target)
	return nil
}

// tail binds an exclusive, server-named queue to every event in o.events and
// prints what arrives until ctx ends, the connection drops or o.count events
// were seen.
func tail(ctx context.Context, ch *amqp.Channel, o options, stdout, stderr io.Writer) error {
	if err := ch.ExchangeDeclare(eventsExchange, "direct", false, false, false, false, nil); err != nil {
		return fmt.Errorf("declare %s: %w", eventsExchange, err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return fmt.Errorf("declare queue: %w", err)
	}
	for _, ev := range o.events {
		if err := ch.QueueBind(q.Name, ev, eventsExchange, false, nil); err != nil {
			return fmt.Errorf("bind %s: %w", ev, err)
		}
	}
	deliveries, err := ch.ConsumeWithContext(ctx, q.Name, "cordis-tail", true, true, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	fmt.Fprintf(stderr, "cordis-tail: listening on %s for %d events\n", eventsExchange, len(o.events))

	var tick <-chan time.Time
	if o.every > 0 {
		t := time.NewTicker(o.every)
		defer t.Stop()
		tick = t.C
	}
	st := newStats(time.Now())
	defer func() { fmt.Fprintln(stderr, st.total(time.Now())) }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick:
			fmt.Fprintln(stderr, st.interval(now))
		case d, ok := <-deliveries:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("the broker closed the consumer (connection lost?)")
			}
			st.add(len(d.Body))
			fmt.Fprintln(stdout, formatDelivery(d.RoutingKey, d.Headers["shard_id"], d.ContentType, d.Body, o.body))
			if o.count > 0 && st.n >= o.count {
				return nil
			}
		}
	}
}
