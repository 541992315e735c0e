// Command floorpub is the floor `just bench-e2e` compares the gateway with: the least a
// Go program must do to publish dispatches to RabbitMQ with confirms, a tight pipelined
// amqp091-go loop. It publishes the bodies of a file (written by the benchmark: what the
// gateway published in its own run) as the gateway does: exchange `gateway`, the event
// name as routing key, the shard_id header, the same content type, transient, with a
// timestamp; at most -window unconfirmed.
//
// Protocol on stdin/stdout, so the benchmark reads this process's CPU time only around
// the publishing: it connects, prints "ready", waits for a line on stdin, publishes
// -count dispatches (cycling through the file), waits for every confirm, prints "done"
// and exits when stdin closes.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

type dispatch struct {
	key     string
	headers amqp.Table
	body    []byte
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floorpub:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ URL")
	file := flag.String("bodies", "", "file of dispatches: repeated [u16 key length][key][u32 shard][u32 body length][body]")
	count := flag.Int("count", 0, "dispatches to publish")
	window := flag.Int("window", 1024, "most dispatches unconfirmed at a time (the gateway's window)")
	contentType := flag.String("content-type", "application/json", "content type")
	flag.Parse()
	ds, err := readDispatches(*file)
	if err != nil {
		return err
	}
	if len(ds) == 0 || *count <= 0 {
		return errors.New("need -bodies with at least one dispatch and -count > 0")
	}

	conn, err := amqp.Dial(*url)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return err
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, *window))

	// Warm-up, not measured, like the gateway's: every body once, confirmed. Its
	// deliveries reach the benchmark's queue before "ready" and are drained there.
	ts := time.Now() // one clock read: the floor pays none per dispatch
	if err := publishAll(ch, confirms, ds, len(ds), *window, *contentType, ts); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if _, err := in.ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the start: %w", err)
	}

	if err := publishAll(ch, confirms, ds, *count, *window, *contentType, ts); err != nil {
		return err
	}
	fmt.Println("done", *count)
	_, _ = io.Copy(io.Discard, in)
	return nil
}

// publishAll publishes count dispatches (cycling through ds), at most window
// unconfirmed, and waits until every one is confirmed.
func publishAll(ch *amqp.Channel, confirms <-chan amqp.Confirmation, ds []dispatch, count, window int, contentType string, ts time.Time) error {
	inflight := 0
	take := func() error {
		c, ok := <-confirms
		if !ok {
			return errors.New("channel closed")
		}
		if !c.Ack {
			return fmt.Errorf("nack of %d", c.DeliveryTag)
		}
		inflight--
		return nil
	}
	for i := range count {
		for inflight >= window {
			if err := take(); err != nil {
				return err
			}
		}
		d := &ds[i%len(ds)]
		if err := ch.Publish("gateway", d.key, false, false, amqp.Publishing{
			Headers:      d.headers,
			ContentType:  contentType,
			DeliveryMode: amqp.Transient,
			Timestamp:    ts,
			Body:         d.body,
		}); err != nil {
			return err
		}
		inflight++
	}
	for inflight > 0 {
		if err := take(); err != nil {
			return err
		}
	}
	return nil
}

func readDispatches(path string) ([]dispatch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReader(f)
	var ds []dispatch
	for {
		var kl uint16
		if err := binary.Read(r, binary.BigEndian, &kl); err != nil {
			if errors.Is(err, io.EOF) {
				return ds, nil
			}
			return nil, err
		}
		key := make([]byte, kl)
		var shard, bl uint32
		if _, err := io.ReadFull(r, key); err != nil {
			return nil, err
		}
		if err := binary.Read(r, binary.BigEndian, &shard); err != nil {
			return nil, err
		}
		if err := binary.Read(r, binary.BigEndian, &bl); err != nil {
			return nil, err
		}
		body := make([]byte, bl)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, err
		}
		ds = append(ds, dispatch{key: string(key), headers: amqp.Table{"shard_id": int32(shard)}, body: body})
	}
}
