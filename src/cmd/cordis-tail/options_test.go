package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseEvents(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "MESSAGE_CREATE", want: []string{"MESSAGE_CREATE"}},
		{in: " READY , RESUMED,,READY ", want: []string{"READY", "RESUMED"}},
		{in: "message_create,MESSAGE_CREATE", want: []string{"message_create", "MESSAGE_CREATE"}},
		{in: "CUSTOM_EVENT_NOBODY_KNOWS", want: []string{"CUSTOM_EVENT_NOBODY_KNOWS"}},
		{in: "", wantErr: "no event names"},
		{in: " , ,", wantErr: "no event names"},
		{in: "MESSAGE CREATE", wantErr: "contains a blank"},
	}
	for _, tt := range tests {
		got, err := parseEvents(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseEvents(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseEvents(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDefaultEvents(t *testing.T) {
	o, err := parseOptions(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"READY", "RESUMED", "GUILD_CREATE", "MESSAGE_CREATE", "PRESENCE_UPDATE",
		"TYPING_START", "GUILD_MEMBER_UPDATE", "MESSAGE_REACTION_ADD"} {
		if !slices.Contains(o.events, ev) {
			t.Errorf("default events lack %s", ev)
		}
	}
	if got, err := parseEvents(strings.Join(defaultEvents, ",")); err != nil || len(got) != len(defaultEvents) {
		t.Errorf("defaultEvents has duplicates or blanks: %v %v", got, err)
	}
	if o.amqpURL != "amqp://guest:guest@127.0.0.1:5672/" || o.count != 0 || o.every != 5*time.Second ||
		o.command != nil || o.shard != -1 {
		t.Errorf("defaults = %+v", o)
	}
}

func TestAMQPURL(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "rabbit", want: "amqp://guest:guest@rabbit:5672/"},
		{in: "127.0.0.1:5673", want: "amqp://guest:guest@127.0.0.1:5673/"},
		{in: "[::1]:5672", want: "amqp://guest:guest@[::1]:5672/"},
		{in: "amqp://u:p@h:1/vh", want: "amqp://u:p@h:1/vh"},
		{in: "amqps://u:p@h/", want: "amqps://u:p@h/"},
		{in: "", wantErr: "empty"},
		{in: "http://h/", wantErr: "only amqp://"},
		{in: "u@h", wantErr: "expected host"},
	}
	for _, tt := range tests {
		got, err := amqpURL(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("amqpURL(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("amqpURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"-events", "READY,MESSAGE_CREATE", "-n", "3", "-every", "0"},
		env(map[string]string{"CORDIS_AMQP_HOST": "broker:5673"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.amqpURL != "amqp://guest:guest@broker:5673/" || !slices.Equal(o.events, []string{"READY", "MESSAGE_CREATE"}) ||
		o.count != 3 || o.every != 0 {
		t.Errorf("got %+v", o)
	}

	o, err = parseOptions([]string{"-amqp", "amqp://x:y@z/", "-command", `{"op":3,"d":{"status":"idle"}}`, "-shard", "2"},
		env(map[string]string{"CORDIS_AMQP_HOST": "ignored"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.amqpURL != "amqp://x:y@z/" || string(o.command) != `{"op":3,"d":{"status":"idle"}}` || o.shard != 2 {
		t.Errorf("got %+v", o)
	}

	bad := map[string][]string{
		"-n -1":       {"-n", "-1"},
		"-every":      {"-every", "-1s"},
		"-shard":      {"-shard", "-2"},
		"extra arg":   {"READY"},
		"bad command": {"-command", "op=3"},
		"op missing":  {"-command", `{"d":1}`},
		"op float":    {"-command", `{"op":3.5}`},
		"op string":   {"-command", `{"op":"3"}`},
		"identify":    {"-command", `{"op":2,"d":{}}`},
		"heartbeat":   {"-command", `{"op":1,"d":null}`},
		"resume":      {"-command", `{"op":6,"d":{}}`},
		"too big":     {"-command", `{"op":3,"d":"` + strings.Repeat("x", 4096) + `"}`},
		"unknown":     {"-nope"},
	}
	for name, args := range bad {
		if _, err := parseOptions(args, env(nil), &bytes.Buffer{}); err == nil {
			t.Errorf("%s: %q accepted", name, args)
		}
	}

	o, err = parseOptions([]string{"-command", `{"op":2,"d":{}}`, "-unchecked"}, env(nil), &bytes.Buffer{})
	if err != nil || string(o.command) != `{"op":2,"d":{}}` {
		t.Errorf("-unchecked: %+v, %v", o, err)
	}

	var usage bytes.Buffer
	if _, err := parseOptions([]string{"-h"}, env(nil), &usage); !errors.Is(err, errHelp) ||
		!strings.Contains(usage.String(), "-events") {
		t.Errorf("-h: err=%v usage=%q", err, usage.String())
	}
}

func TestFormatDelivery(t *testing.T) {
	got := formatDelivery("MESSAGE_CREATE", int32(7), "application/json", []byte(`{"op":0}`), 0)
	for _, want := range []string{"MESSAGE_CREATE", "shard=7", "application/json", "8 B"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if got := formatDelivery("X", nil, "", nil, 0); !strings.Contains(got, "shard=-") {
		t.Errorf("missing shard: %q", got)
	}
	if got := formatDelivery("X", int64(1), "application/json", []byte(`{"op":0,"t":"X"}`), 6); !strings.HasSuffix(got, `{"op":...`) {
		t.Errorf("body: %q", got)
	}
}
