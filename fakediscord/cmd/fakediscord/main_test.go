package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBinaryPrintsItsURLsServesRESTAndControlAndStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-token", "abc", "-shards", "3", "-heartbeat-interval", "1s"}, pw) }()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var urls map[string]string
	if err := json.Unmarshal([]byte(line), &urls); err != nil {
		t.Fatalf("first line %q: %v", line, err)
	}
	req, _ := http.NewRequest(http.MethodGet, urls["api_url"]+"/gateway/bot", nil)
	req.Header.Set("Authorization", "Bot abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var bot struct {
		Shards int `json:"shards"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&bot)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || bot.Shards != 3 {
		t.Fatalf("gateway/bot: %d %+v", resp.StatusCode, bot)
	}
	resp, err = http.Get(urls["control_url"] + "/state")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"/api/v10/gateway/bot"`) {
		t.Fatalf("state: %s", body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
	pw.Close()
}

func TestBinaryRejectsUnknownFlags(t *testing.T) {
	if err := run(context.Background(), []string{"-nope"}, io.Discard); err == nil {
		t.Fatal("want an error")
	}
}
