package discordapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordis-gateway/cordis/src/clock"
	"github.com/cordis-gateway/cordis/src/config"
)

var token = config.NewSecret("MTIzNDU2.GAbCdE.s3cr3t-t0k3n")

const (
	okBody  = `{"url":"wss://gateway.discord.gg","shards":9,"session_start_limit":{"total":1000,"remaining":999,"reset_after":14400000,"max_concurrency":16}}`
	version = "1.2.3"
)

// reply is one scripted answer of the fake Discord.
type reply struct {
	status int
	header map[string]string
	body   string
}

// fakeDiscord answers with the replies in order (the last one repeats)
// and records every request.
type fakeDiscord struct {
	*httptest.Server
	mu       sync.Mutex
	replies  []reply
	requests []*http.Request
}

func newFakeDiscord(t *testing.T, replies ...reply) *fakeDiscord {
	f := &fakeDiscord{replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r)
		rep := f.replies[min(len(f.requests), len(f.replies))-1]
		f.mu.Unlock()
		if rep.status == 0 { // drop the connection without answering
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.status)
		fmt.Fprint(w, rep.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeDiscord) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeDiscord) base() string { return f.URL + "/api/v10" }

// client never reuses connections, so the transport's own retry of a
// request on a reused connection cannot add requests behind our back.
func client() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func withJitter(j float64) Option { return func(o *options) { o.jitter = func() float64 { return j } } }

type result struct {
	gb  GatewayBot
	err error
}

// start runs GetGatewayBot on a fake clock in the background.
func start(ctx context.Context, f *fakeDiscord, clk *clock.Fake) <-chan result {
	out := make(chan result, 1)
	go func() {
		gb, err := GetGatewayBot(ctx, client(), f.base(), token, WithClock(clk), WithVersion(version), withJitter(0.5))
		out <- result{gb, err}
	}()
	return out
}

func get(t *testing.T, f *fakeDiscord) (GatewayBot, error) {
	t.Helper()
	res := <-start(context.Background(), f, clock.NewFake(time.Unix(0, 0)))
	return res.gb, res.err
}

func TestSendsOneRequestWithTokenAndUserAgent(t *testing.T) {
	f := newFakeDiscord(t, reply{status: 200, body: okBody})
	gb, err := get(t, f)
	if err != nil {
		t.Fatal(err)
	}
	want := GatewayBot{URL: "wss://gateway.discord.gg", Shards: 9, SessionStartLimit: SessionStartLimit{
		Total: 1000, Remaining: 999, ResetAfter: 4 * time.Hour, MaxConcurrency: 16}}
	if gb != want {
		t.Errorf("got %+v, want %+v", gb, want)
	}
	if n := f.count(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	r := f.requests[0]
	for _, c := range []struct{ name, got, want string }{
		{"method", r.Method, "GET"},
		{"path", r.URL.Path, "/api/v10/gateway/bot"},
		{"query", r.URL.RawQuery, ""},
		{"Authorization", r.Header.Get("Authorization"), "Bot " + token.Reveal()},
		{"User-Agent", r.Header.Get("User-Agent"), "DiscordBot (https://github.com/cordis-gateway/cordis, 1.2.3)"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestBaseWithTrailingSlash(t *testing.T) {
	f := newFakeDiscord(t, reply{status: 200, body: okBody})
	_, err := GetGatewayBot(context.Background(), client(), f.base()+"/", token)
	if err != nil {
		t.Fatal(err)
	}
	if p := f.requests[0].URL.Path; p != "/api/v10/gateway/bot" {
		t.Errorf("path %q", p)
	}
}

func TestUnauthorizedIsFatalAndNotRetried(t *testing.T) {
	f := newFakeDiscord(t, reply{status: 401, body: `{"message": "401: Unauthorized", "code": 0}`})
	_, err := get(t, f)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), "Discord rejected the token (401") {
		t.Errorf("unclear message: %v", err)
	}
	if n := f.count(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestOtherClientErrorsAreNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  reply
		want string
	}{
		{"403 with Discord message", reply{status: 403, body: `{"message": "Missing Access", "code": 50001}`}, "status 403 Forbidden: Missing Access"},
		{"404 html", reply{status: 404, body: "<html>\n  not found\n</html>"}, "status 404 Not Found: <html> not found </html>"},
		{"redirect is not followed", reply{status: 302, header: map[string]string{"Location": "/elsewhere"}}, "status 302 Found"},
		{"204 is not an answer", reply{status: 204}, "status 204 No Content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDiscord(t, tc.rep)
			_, err := get(t, f)
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tc.rep.status {
				t.Fatalf("got %v, want *StatusError %d", err, tc.rep.status)
			}
			if !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("got %q, want suffix %q", err, tc.want)
			}
			if n := f.count(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	echo := `{"message": "bad header Bot ` + token.Reveal() + `"}`
	for _, rep := range []reply{{status: 403, body: echo}, {status: 401, body: echo}, {status: 200, body: `{"url": "` + token.Reveal() + `"}`}} {
		f := newFakeDiscord(t, rep)
		_, err := get(t, f)
		if err == nil {
			t.Fatal("no error")
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(s, "s3cr3t") {
				t.Errorf("status %d: token in error: %s", rep.status, s)
			}
		}
	}
}

// awaitWait advances the fake clock by exactly want once the client is
// waiting, proving it waits want and not a nanosecond less.
func awaitWait(t *testing.T, clk *clock.Fake, f *fakeDiscord, want time.Duration) {
	t.Helper()
	if err := clk.AwaitTimer(want, time.After(10*time.Second)); err != nil {
		t.Fatalf("the client never waited %v: %v", want, err)
	}
	before := f.count()
	clk.Advance(want - time.Nanosecond)
	if n := f.count(); n != before {
		t.Fatalf("retried before %v", want)
	}
	clk.Advance(time.Nanosecond)
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replies []reply
		waits   []time.Duration // with jitter 0.5: 1.5 s, 3 s, 6 s, ...
	}{
		{"429 body retry_after wins over header", []reply{
			{status: 429, header: map[string]string{"Retry-After": "3"}, body: `{"message":"You are being rate limited.","retry_after":2.5,"global":false}`},
			{status: 200, body: okBody}}, []time.Duration{2500 * time.Millisecond}},
		{"429 Retry-After header", []reply{
			{status: 429, header: map[string]string{"Retry-After": "3"}, body: "<html>cloudflare</html>"},
			{status: 200, body: okBody}}, []time.Duration{3 * time.Second}},
		{"429 without a hint waits the floor", []reply{
			{status: 429}, {status: 200, body: okBody}}, []time.Duration{1500 * time.Millisecond}},
		{"500 then 200", []reply{
			{status: 500}, {status: 200, body: okBody}}, []time.Duration{1500 * time.Millisecond}},
		{"5xx back off exponentially", []reply{
			{status: 500}, {status: 502}, {status: 503}, {status: 504}, {status: 500}, {status: 500}, {status: 500},
			{status: 200, body: okBody}},
			[]time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second, 12 * time.Second,
				22500 * time.Millisecond, 22500 * time.Millisecond, 22500 * time.Millisecond}},
		{"dropped connection then 200", []reply{
			{status: 0}, {status: 200, body: okBody}}, []time.Duration{1500 * time.Millisecond}},
		{"429 does not grow the 5xx backoff", []reply{
			{status: 500}, {status: 429, body: `{"retry_after": 0.1}`}, {status: 500}, {status: 200, body: okBody}},
			[]time.Duration{1500 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}},
		{"429 waits at least 1 s, doubling per 429", []reply{
			{status: 429, body: `{"retry_after": 0.001}`}, {status: 429, body: `{"retry_after": 0.001}`},
			{status: 429, body: `{"retry_after": 0.001}`}, {status: 200, body: okBody}},
			[]time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second}},
		{"repeated 429s are capped at 60 s", []reply{
			{status: 429}, {status: 429}, {status: 429}, {status: 429}, {status: 429}, {status: 429}, {status: 429},
			{status: 200, body: okBody}},
			[]time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second, 12 * time.Second,
				24 * time.Second, 45 * time.Second, 45 * time.Second}},
		{"a longer retry_after than the floor is honoured", []reply{
			{status: 429, body: `{"retry_after": 0.001}`}, {status: 429, body: `{"retry_after": 7.5}`}, {status: 200, body: okBody}},
			[]time.Duration{1500 * time.Millisecond, 7500 * time.Millisecond}},
		{"global 429 takes the longest hint", []reply{
			{status: 429, header: map[string]string{"Retry-After": "9"}, body: `{"retry_after": 2.5, "global": true}`},
			{status: 200, body: okBody}}, []time.Duration{9 * time.Second}},
		{"global header 429 takes the longest hint", []reply{
			{status: 429, header: map[string]string{"Retry-After": "4", "X-RateLimit-Global": "true"}, body: `{"retry_after": 2.5}`},
			{status: 200, body: okBody}}, []time.Duration{4 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDiscord(t, tc.replies...)
			clk := clock.NewFake(time.Unix(0, 0))
			res := start(context.Background(), f, clk)
			for _, w := range tc.waits {
				awaitWait(t, clk, f, w)
			}
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.gb.Shards != 9 {
				t.Errorf("got %+v", r.gb)
			}
			if n, want := f.count(), len(tc.waits)+1; n != want {
				t.Errorf("%d requests, want %d", n, want)
			}
		})
	}
}

func TestRetriesStopWhenContextEnds(t *testing.T) {
	f := newFakeDiscord(t, reply{status: 503, body: "upstream down"})
	clk := clock.NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	res := start(ctx, f, clk)
	clk.BlockUntil(1)
	cancel()
	r := <-res
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", r.err)
	}
	if !strings.Contains(r.err.Error(), "status 503 Service Unavailable: upstream down") {
		t.Errorf("last failure not reported: %v", r.err)
	}
}

func TestInvalidAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"bad JSON", `{"url":`, "decode response"},
		{"not an object", `[]`, "decode response"},
		{"no url", `{"shards":1}`, `url "" is not a ws:// or wss:// URL`},
		{"http url", `{"url":"https://gateway.discord.gg","shards":1}`, "not a ws:// or wss:// URL"},
		{"url with query", `{"url":"wss://gateway.discord.gg/?v=10","shards":1}`, "not a ws:// or wss:// URL"},
		{"no shards", `{"url":"wss://gateway.discord.gg","shards":0}`, "shards = 0, want >= 1"},
		{"negative concurrency", `{"url":"wss://g","shards":1,"session_start_limit":{"max_concurrency":-1}}`, "negative session_start_limit"},
		{"negative remaining", `{"url":"wss://g","shards":1,"session_start_limit":{"remaining":-1}}`, "negative session_start_limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDiscord(t, reply{status: 200, body: tc.body})
			_, err := get(t, f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
			if n := f.count(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestAnswerDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       GatewayBot
	}{
		{"max_concurrency 0 means 1", `{"url":"ws://127.0.0.1:8080","shards":2,"session_start_limit":{"total":5,"remaining":0,"reset_after":1500,"max_concurrency":0}}`,
			GatewayBot{URL: "ws://127.0.0.1:8080", Shards: 2, SessionStartLimit: SessionStartLimit{Total: 5, ResetAfter: 1500 * time.Millisecond, MaxConcurrency: 1}}},
		{"no session_start_limit", `{"url":"wss://g.example/","shards":1}`,
			GatewayBot{URL: "wss://g.example", Shards: 1, SessionStartLimit: SessionStartLimit{MaxConcurrency: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gb, err := get(t, newFakeDiscord(t, reply{status: 200, body: tc.body}))
			if err != nil {
				t.Fatal(err)
			}
			if gb != tc.want {
				t.Errorf("got %+v, want %+v", gb, tc.want)
			}
		})
	}
}

func TestEachRetryIsLogged(t *testing.T) {
	f := newFakeDiscord(t, reply{status: 500, body: "oops"}, reply{status: 200, body: okBody})
	clk := clock.NewFake(time.Unix(0, 0))
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	res := make(chan error, 1)
	go func() {
		_, err := GetGatewayBot(context.Background(), client(), f.base(), token, WithClock(clk), WithLogger(log), withJitter(0))
		res <- err
	}()
	clk.BlockUntil(1)
	clk.Advance(maxBackoff)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	for _, want := range []string{`"level":"WARN"`, `"error":"status 500 Internal Server Error: oops"`, `"retry_in":1000000000`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want one record: %s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestRateLimitedHotLoopIsPacedAndLoggedOnce replays the production fault: a
// 429 asking for 1 ms, forever. Over 10 s of (fake) time the old client sent
// ~7,400 requests and as many warnings; now the waits start at 1 s and grow,
// and repeated warnings are held back, the next one saying how many.
func TestRateLimitedHotLoopIsPacedAndLoggedOnce(t *testing.T) {
	f := newFakeDiscord(t, reply{status: 429, body: `{"message":"You are being rate limited.","retry_after":0.001,"global":false}`})
	clk := clock.NewFake(time.Unix(0, 0))
	var (
		mu  sync.Mutex
		buf strings.Builder
	)
	lines := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Split(strings.TrimSpace(buf.String()), "\n")
	}
	log := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = GetGatewayBot(ctx, client(), f.base(), token, WithClock(clk), WithLogger(log), withJitter(0.5))
	}()
	defer func() { cancel(); <-done }()

	// Step time in 10 ms ticks, each only once the client waits again.
	run := func(until time.Duration) {
		for clk.Now().Sub(time.Unix(0, 0)) < until {
			clk.BlockUntil(1)
			clk.Advance(10 * time.Millisecond)
			if n := f.count(); n > 100 {
				t.Fatalf("%d requests by %v: hot loop", n, clk.Now().Sub(time.Unix(0, 0)))
			}
		}
	}
	run(10 * time.Second)
	// Requests at 0, 1.5 s, 4.5 s (waits 1.5 s, 3 s, 6 s with jitter 0.5).
	if n := f.count(); n != 3 {
		t.Errorf("%d requests in 10 s, want 3", n)
	}
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], `"level":"WARN"`) || !strings.Contains(got[0], `"global":false`) {
		t.Errorf("want one warning in 10 s, got %d: %q", len(got), got)
	}
	// Waits 12 s, 24 s, then 45 s (capped): requests at 10.5 s, 22.5 s, 46.5 s;
	// the one at 46.5 s is past warnEvery and reports the four held back.
	run(47 * time.Second)
	if n := f.count(); n != 6 {
		t.Errorf("%d requests in 47 s, want 6", n)
	}
	got := lines()
	if len(got) != 2 || !strings.Contains(got[1], `"suppressed":4`) {
		t.Errorf("want a second warning reporting 4 suppressed, got %q", got)
	}
}
