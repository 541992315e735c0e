package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"time"
)

// defaultEvents are the dispatch events bound when -events is not given.
var defaultEvents = []string{
	"READY",
	"RESUMED",
	"GUILD_CREATE",
	"GUILD_UPDATE",
	"GUILD_DELETE",
	"GUILD_MEMBER_ADD",
	"GUILD_MEMBER_UPDATE",
	"GUILD_MEMBER_REMOVE",
	"CHANNEL_CREATE",
	"CHANNEL_UPDATE",
	"CHANNEL_DELETE",
	"MESSAGE_CREATE",
	"MESSAGE_UPDATE",
	"MESSAGE_DELETE",
	"MESSAGE_REACTION_ADD",
	"MESSAGE_REACTION_REMOVE",
	"PRESENCE_UPDATE",
	"TYPING_START",
	"VOICE_STATE_UPDATE",
	"INTERACTION_CREATE",
}

// options is the parsed command line.
type options struct {
	amqpURL string
	events  []string
	count   int           // exit after this many events; 0 = run until signalled
	every   time.Duration // rate summary interval; 0 = none
	body    int           // print up to this many bytes of JSON bodies; 0 = none
	command []byte        // publish this command and exit (nil = tail)
	shard   int           // shard_id header for -command; -1 = every shard
}

// errHelp is returned for -h/-help: usage was printed, exit 0.
var errHelp = flag.ErrHelp

// parseOptions parses args (without the program name). getenv supplies
// CORDIS_AMQP_HOST, the default for -amqp.
func parseOptions(args []string, getenv func(string) string, usage io.Writer) (options, error) {
	var (
		o         options
		amqp      string
		events    string
		command   string
		unchecked bool
	)
	fs := flag.NewFlagSet("cordis-tail", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Usage = func() {
		fmt.Fprintf(usage, `cordis-tail: print the dispatches a Cordis gateway publishes, or send it a command.

  cordis-tail [-amqp URL] [-events A,B,...] [-n N]     one line per event + a rate summary
  cordis-tail -command '{"op":3,"d":{...}}' [-shard N] publish to gateway_commands and exit

Flags:
`)
		fs.PrintDefaults()
	}
	defAMQP := getenv("CORDIS_AMQP_HOST")
	if defAMQP == "" {
		defAMQP = "127.0.0.1"
	}
	fs.StringVar(&amqp, "amqp", defAMQP, "RabbitMQ: host, host:port or amqp(s):// URL (env CORDIS_AMQP_HOST)")
	fs.StringVar(&events, "events", strings.Join(defaultEvents, ","), "comma separated event names (routing keys) to bind")
	fs.IntVar(&o.count, "n", 0, "exit after N events (0 = until interrupted)")
	fs.DurationVar(&o.every, "every", 5*time.Second, "interval of the rate summary (0 = off)")
	fs.IntVar(&o.body, "body", 0, "also print up to this many bytes of each JSON body")
	fs.StringVar(&command, "command", "", "publish this JSON command to gateway_commands and exit")
	fs.IntVar(&o.shard, "shard", -1, "with -command: send to this shard only (AMQP header shard_id)")
	fs.BoolVar(&unchecked, "unchecked", false, "with -command: publish even what the gateway will refuse (to test it)")

	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.amqpURL, err = amqpURL(amqp); err != nil {
		return options{}, err
	}
	if o.events, err = parseEvents(events); err != nil {
		return options{}, err
	}
	if o.count < 0 {
		return options{}, fmt.Errorf("-n %d: must be >= 0", o.count)
	}
	if o.every < 0 {
		return options{}, fmt.Errorf("-every %s: must be >= 0", o.every)
	}
	if o.body < 0 {
		return options{}, fmt.Errorf("-body %d: must be >= 0", o.body)
	}
	if o.shard < -1 {
		return options{}, fmt.Errorf("-shard %d: a shard id (>= 0), or -1 for every shard", o.shard)
	}
	if command != "" {
		if err := checkCommand([]byte(command)); err != nil && !unchecked {
			return options{}, fmt.Errorf("-command: %w", err)
		}
		o.command = []byte(command)
	}
	return o, nil
}

// parseEvents splits a comma separated list of event names: blanks are
// trimmed, empty items and duplicates dropped, order kept. Names are routing
// keys and therefore case-sensitive (Discord's are upper case).
func parseEvents(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		name := strings.TrimSpace(part)
		if name == "" || seen[name] {
			continue
		}
		if strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("-events: %q contains a blank", name)
		}
		seen[name] = true
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, errors.New("-events: no event names given")
	}
	return out, nil
}

// amqpURL accepts the forms of CORDIS_AMQP_HOST (DESIGN.md section 2): a bare
// host means amqp://guest:guest@host:5672/, host:port likewise with that port,
// and amqp:// or amqps:// URLs are used as they are.
func amqpURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errors.New("-amqp: empty")
	case strings.HasPrefix(s, "amqp://"), strings.HasPrefix(s, "amqps://"):
		return s, nil
	case strings.Contains(s, "://"):
		return "", fmt.Errorf("-amqp %q: only amqp:// and amqps:// URLs are accepted", s)
	}
	host, port := s, "5672"
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	if host == "" || strings.ContainsAny(host, "/@ ") {
		return "", fmt.Errorf("-amqp %q: expected host, host:port or an amqp:// URL", s)
	}
	return "amqp://guest:guest@" + net.JoinHostPort(host, port) + "/", nil
}

// checkCommand rejects what the gateway would refuse anyway (DESIGN.md
// section 3): not a JSON object with an integer op, ops 1, 2 and 6, or more
// than 4096 bytes. Catching it here gives the user an error instead of a
// silently dropped command.
func checkCommand(b []byte) error {
	if len(b) > 4096 {
		return fmt.Errorf("%d bytes; at most 4096", len(b))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	raw, ok := m["op"]
	if !ok {
		return errors.New(`no "op"`)
	}
	var op float64
	if err := json.Unmarshal(raw, &op); err != nil || op != math.Trunc(op) {
		return fmt.Errorf(`"op" must be an integer, got %s`, raw)
	}
	switch op {
	case 1, 2, 6:
		return fmt.Errorf("op %d (heartbeat/identify/resume) belongs to the gateway and is refused", int(op))
	}
	return nil
}
