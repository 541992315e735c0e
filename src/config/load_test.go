package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testToken = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbCdE.s3cr3t-T0k3n_value"

// env returns a lookup over m plus the two required variables (unless m
// overrides them).
func env(m map[string]string) func(string) (string, bool) {
	full := map[string]string{varAuth: testToken, varAMQPHost: "rabbit"}
	for k, v := range m {
		full[k] = v
	}
	return func(k string) (string, bool) {
		v, ok := full[k]
		return v, ok
	}
}

func TestLoadDefaultsWhenOnlyRequiredAreSet(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Token:            NewSecret(testToken),
		AMQPURL:          "amqp://guest:guest@rabbit:5672/",
		Compress:         "zlib-stream",
		Encoding:         "etf",
		OpenTimeout:      30 * time.Second,
		HelloTimeout:     30 * time.Second,
		ReadyTimeout:     60 * time.Second,
		GuildTimeout:     10 * time.Second,
		ReconnectTimeout: 60 * time.Second,
		LargeThreshold:   250,
		Intents:          53575421,
		DiscordAPI:       "https://discord.com/api/v10",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestEmptyValueMeansUnset(t *testing.T) {
	m := map[string]string{}
	for _, v := range []string{varDebug, varShardCount, varStartingShard, varTotalShardCount, varRedisURL,
		varCompress, varEncoding, varOpenTimeout, varHelloTimeout, varReadyTimeout, varGuildTimeout,
		varReconnectTimeout, varLargeThreshold, varIntents, varDiscordAPI, varMetricsAddr} {
		m[v] = "  "
	}
	got, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	def, _ := Load(env(nil))
	if !reflect.DeepEqual(got, def) {
		t.Errorf("empty values did not give the defaults:\n got %+v\nwant %+v", got, def)
	}
}

func TestRequiredVariablesMissing(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no token", map[string]string{varAuth: ""}, []string{"CORDIS_AUTH is not set: accepted: a Discord bot token"}},
		{"no amqp", map[string]string{varAMQPHost: " "}, []string{"CORDIS_AMQP_HOST is not set: accepted: host, host:port"}},
		{"neither", map[string]string{varAuth: "", varAMQPHost: ""}, []string{"CORDIS_AUTH is not set", "CORDIS_AMQP_HOST is not set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			lines := errLines(t, err)
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d problems %q, want %d", len(lines), lines, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
				}
			}
		})
	}
}

// TestGoodValues covers every variable: value as the operator writes it ->
// the field it sets.
func TestGoodValues(t *testing.T) {
	for _, tc := range []struct {
		v, value string
		field    func(*Config) any
		want     any
	}{
		{varAuth, "Bot " + testToken, func(c *Config) any { return c.Token.Reveal() }, testToken},
		{varAuth, "  bot   " + testToken + "  ", func(c *Config) any { return c.Token.Reveal() }, testToken},
		{varAuth, testToken, func(c *Config) any { return c.Token.Reveal() }, testToken},

		{varAMQPHost, "rabbit", amqp, "amqp://guest:guest@rabbit:5672/"},
		{varAMQPHost, "rabbit:5673", amqp, "amqp://guest:guest@rabbit:5673/"},
		{varAMQPHost, "10.0.0.7", amqp, "amqp://guest:guest@10.0.0.7:5672/"},
		{varAMQPHost, "[::1]:5672", amqp, "amqp://guest:guest@[::1]:5672/"},
		{varAMQPHost, "[::1]", amqp, "amqp://guest:guest@[::1]:5672/"},
		{varAMQPHost, "::1", amqp, "amqp://guest:guest@[::1]:5672/"},
		{varAMQPHost, "amqp://u:p@rabbit:5672/vh", amqp, "amqp://u:p@rabbit:5672/vh"},
		{varAMQPHost, "amqps://u:p@rabbit/", amqp, "amqps://u:p@rabbit/"},
		{varAMQPHost, "amqp://rabbit", amqp, "amqp://rabbit"},
		{varAMQPHost, "AMQP://rabbit", amqp, "AMQP://rabbit"},
		{varAMQPHost, "amqp://u:p@ss@[::1]:5672/%2f", amqp, "amqp://u:p@ss@[::1]:5672/%2f"},
		{varAMQPHost, "rabbit-1.internal.example", amqp, "amqp://guest:guest@rabbit-1.internal.example:5672/"},

		{varDebug, "true", debug, true},
		{varDebug, "TRUE", debug, true},
		{varDebug, "1", debug, true},
		{varDebug, "Yes", debug, true},
		{varDebug, "false", debug, false},
		{varDebug, "0", debug, false},
		{varDebug, "NO", debug, false},

		{varShardCount, "1", func(c *Config) any { return c.ShardCount }, 1},
		{varShardCount, "16", func(c *Config) any { return c.ShardCount }, 16},
		{varStartingShard, "0", func(c *Config) any { return c.StartingShard }, 0},
		{varStartingShard, "32", func(c *Config) any { return c.StartingShard }, 32},
		{varTotalShardCount, "1", func(c *Config) any { return c.TotalShardCount }, 1},
		{varTotalShardCount, "1024", func(c *Config) any { return c.TotalShardCount }, 1024},

		{varRedisURL, "redis://localhost:6379", redis, "redis://localhost:6379"},
		{varRedisURL, "redis://:pw@localhost:6379/2", redis, "redis://:pw@localhost:6379/2"},
		{varRedisURL, "rediss://user:pw@cache.example/", redis, "rediss://user:pw@cache.example/"},

		{varCompress, "true", compress, "zlib-stream"},
		{varCompress, "1", compress, "zlib-stream"},
		{varCompress, "false", compress, ""},
		{varCompress, "no", compress, ""},
		{varCompress, "zlib-stream", compress, "zlib-stream"},
		{varCompress, "ZSTD-STREAM", compress, "zstd-stream"},

		{varEncoding, "etf", encoding, "etf"},
		{varEncoding, "json", encoding, "json"},
		{varEncoding, "JSON", encoding, "json"},

		{varOpenTimeout, "15s", func(c *Config) any { return c.OpenTimeout }, 15 * time.Second},
		{varHelloTimeout, "1m30s", func(c *Config) any { return c.HelloTimeout }, 90 * time.Second},
		{varReadyTimeout, "15000", func(c *Config) any { return c.ReadyTimeout }, 15 * time.Second},
		{varGuildTimeout, "1", func(c *Config) any { return c.GuildTimeout }, time.Millisecond},
		{varReconnectTimeout, "250ms", func(c *Config) any { return c.ReconnectTimeout }, 250 * time.Millisecond},

		{varLargeThreshold, "50", func(c *Config) any { return c.LargeThreshold }, 50},
		{varLargeThreshold, "250", func(c *Config) any { return c.LargeThreshold }, 250},
		{varLargeThreshold, "100", func(c *Config) any { return c.LargeThreshold }, 100},

		{varIntents, "guilds,guildMessages", func(c *Config) any { return c.Intents }, int64(1 | 1<<9)},
		{varIntents, "all", func(c *Config) any { return c.Intents }, int64(53608447)},

		{varDiscordAPI, "http://127.0.0.1:8080/api/v10/", func(c *Config) any { return c.DiscordAPI }, "http://127.0.0.1:8080/api/v10"},
		{varDiscordAPI, "https://discord.com/api/v10", func(c *Config) any { return c.DiscordAPI }, "https://discord.com/api/v10"},
		{varDiscordAPI, "http://localhost:9999", func(c *Config) any { return c.DiscordAPI }, "http://localhost:9999"},

		{varMetricsAddr, ":9090", func(c *Config) any { return c.MetricsAddr }, ":9090"},
		{varMetricsAddr, "127.0.0.1:9090", func(c *Config) any { return c.MetricsAddr }, "127.0.0.1:9090"},
		{varMetricsAddr, "[::]:9090", func(c *Config) any { return c.MetricsAddr }, "[::]:9090"},
	} {
		t.Run(tc.v+"="+tc.value, func(t *testing.T) {
			c, err := Load(env(map[string]string{tc.v: tc.value}))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.field(c); got != tc.want {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func amqp(c *Config) any     { return c.AMQPURL }
func debug(c *Config) any    { return c.Debug }
func redis(c *Config) any    { return c.RedisURL }
func compress(c *Config) any { return c.Compress }
func encoding(c *Config) any { return c.Encoding }

// TestBadValues: every bad value is one line naming the variable, the value
// and what is accepted.
func TestBadValues(t *testing.T) {
	for _, tc := range []struct {
		v, value string
		want     string // the whole line, or its prefix when it ends in "..."
	}{
		{varAMQPHost, "http://rabbit", `CORDIS_AMQP_HOST="http://rabbit": accepted: host, host:port, or a URL amqp://user:pass@host:port/vhost or amqps://...`},
		{varAMQPHost, "rabbit:abc", `CORDIS_AMQP_HOST="rabbit:abc": accepted: host, host:port...`},
		{varAMQPHost, "rabbit:70000", `CORDIS_AMQP_HOST="rabbit:70000": accepted: ...`},
		{varAMQPHost, "rabbit/vhost", `CORDIS_AMQP_HOST="rabbit/vhost": accepted: ...`},
		{varAMQPHost, "amqp://", `CORDIS_AMQP_HOST="amqp://": accepted: ...`},
		{varAMQPHost, "user:hunter2@rabbit", `CORDIS_AMQP_HOST="[redacted]@rabbit": accepted: ...`},
		{varAMQPHost, "ftp://user:hunter2@rabbit", `CORDIS_AMQP_HOST="ftp://[redacted]@rabbit": accepted: ...`},

		{varDebug, "on", `CORDIS_DEBUG="on": accepted: true, false, 1, 0, yes or no (any case)`},
		{varDebug, "2", `CORDIS_DEBUG="2": accepted: ...`},

		{varShardCount, "0", `CORDIS_SHARD_COUNT="0": accepted: an integer >= 1`},
		{varShardCount, "-1", `CORDIS_SHARD_COUNT="-1": accepted: an integer >= 1`},
		{varShardCount, "two", `CORDIS_SHARD_COUNT="two": accepted: an integer >= 1`},
		{varStartingShard, "-1", `CORDIS_STARTING_SHARD="-1": accepted: an integer >= 0`},
		{varStartingShard, "1.5", `CORDIS_STARTING_SHARD="1.5": accepted: an integer >= 0`},
		{varTotalShardCount, "0", `CORDIS_TOTAL_SHARD_COUNT="0": accepted: an integer >= 1`},
		{varTotalShardCount, "99999999999999999999", `CORDIS_TOTAL_SHARD_COUNT="99999999999999999999": accepted: an integer >= 1`},

		{varRedisURL, "localhost:6379", `CORDIS_REDIS_URL="localhost:6379": accepted: a URL redis://[user:pass@]host[:port][/db] or rediss://...`},
		{varRedisURL, "http://localhost", `CORDIS_REDIS_URL="http://localhost": accepted: ...`},
		{varRedisURL, "redis://", `CORDIS_REDIS_URL="redis://": accepted: ...`},
		{varRedisURL, "redis://localhost/x", `CORDIS_REDIS_URL="redis://localhost/x": accepted: ...`},
		{varRedisURL, "unix://:hunter2@/tmp/redis.sock", `CORDIS_REDIS_URL="unix://[redacted]@/tmp/redis.sock": accepted: ...`},

		{varCompress, "gzip", `CORDIS_WS_COMPRESS="gzip": accepted: true (= zlib-stream), false (no compression), zlib-stream or zstd-stream`},
		{varEncoding, "xml", `CORDIS_WS_ENCODING="xml": accepted: etf or json`},

		{varOpenTimeout, "0", `CORDIS_WS_OPEN_TIMEOUT="0": accepted: a positive Go duration (15s, 1m30s) or a whole number of milliseconds (15000)`},
		{varHelloTimeout, "-5s", `CORDIS_WS_HELLO_TIMEOUT="-5s": accepted: a positive Go duration...`},
		{varReadyTimeout, "0s", `CORDIS_WS_READY_TIMEOUT="0s": accepted: ...`},
		{varGuildTimeout, "soon", `CORDIS_WS_GUILD_TIMEOUT="soon": accepted: ...`},
		{varReconnectTimeout, "10 s", `CORDIS_WS_RECONNECT_TIMEOUT="10 s": accepted: ...`},
		{varReconnectTimeout, "9999999999999999", `CORDIS_WS_RECONNECT_TIMEOUT="9999999999999999": accepted: ...`},

		{varLargeThreshold, "300", `CORDIS_WS_LARGE_THRESHOLD="300": accepted: an integer from 50 to 250`},
		{varLargeThreshold, "49", `CORDIS_WS_LARGE_THRESHOLD="49": accepted: an integer from 50 to 250`},

		{varIntents, "guildMesages", `CORDIS_WS_INTENTS="guildMesages": accepted: comma-separated intent names (guilds, ...`},

		{varDiscordAPI, "discord.com/api/v10", `CORDIS_DISCORD_API="discord.com/api/v10": accepted: an http:// or https:// URL without query, e.g. https://discord.com/api/v10`},
		{varDiscordAPI, "ws://discord.com", `CORDIS_DISCORD_API="ws://discord.com": accepted: ...`},
		{varDiscordAPI, "https://discord.com/api?v=10", `CORDIS_DISCORD_API="https://discord.com/api?v=10": accepted: ...`},

		{varMetricsAddr, "9090", `CORDIS_METRICS_ADDR="9090": accepted: host:port or :port, e.g. :9090`},
		{varMetricsAddr, ":http", `CORDIS_METRICS_ADDR=":http": accepted: ...`},
		{varMetricsAddr, "localhost:0", `CORDIS_METRICS_ADDR="localhost:0": accepted: ...`},
	} {
		t.Run(tc.v+"="+tc.value, func(t *testing.T) {
			_, err := Load(env(map[string]string{tc.v: tc.value}))
			lines := errLines(t, err)
			if len(lines) != 1 {
				t.Fatalf("got %d lines %q, want 1", len(lines), lines)
			}
			if prefix, ok := strings.CutSuffix(tc.want, "..."); ok {
				if !strings.HasPrefix(lines[0], prefix) {
					t.Errorf("got  %s\nwant %s", lines[0], tc.want)
				}
			} else if lines[0] != tc.want {
				t.Errorf("got  %s\nwant %s", lines[0], tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Var != tc.v {
				t.Errorf("errors.As *Error: got %#v, want Var %s", e, tc.v)
			}
		})
	}
}

func TestPasswordsNeverInErrors(t *testing.T) {
	for _, value := range []string{
		"amqp://user:hunter2@rabbit:notaport/",
		"gopher://user:hunter2@rabbit",
		"user:hunter2@rabbit:5672",
		"amqp://user:hunter2@@rabbit:port",
	} {
		_, err := Load(env(map[string]string{varAMQPHost: value, varRedisURL: "redis://:hunter2@host/x"}))
		if err == nil {
			t.Fatalf("%q: no error", value)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: password in error: %v", value, err)
		}
	}
}

func TestLoadReportsAllProblemsAtOnce(t *testing.T) {
	_, err := Load(env(map[string]string{
		varAuth:           "",
		varDebug:          "maybe",
		varLargeThreshold: "10",
		varIntents:        "guilds,nope",
		varMetricsAddr:    "x",
	}))
	lines := errLines(t, err)
	want := []string{varAuth, varDebug, varLargeThreshold, varIntents, varMetricsAddr}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), err)
	}
	for i, v := range want {
		if !strings.HasPrefix(lines[i], v) {
			t.Errorf("line %d = %q, want it to name %s", i, lines[i], v)
		}
	}
}

func TestShardRangeCheckedAtLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" = accepted
	}{
		{"count fits", map[string]string{varTotalShardCount: "4", varStartingShard: "2", varShardCount: "2"}, ""},
		{"total alone", map[string]string{varTotalShardCount: "4", varStartingShard: "3"}, ""},
		{"count alone is checked later", map[string]string{varShardCount: "100", varStartingShard: "7"}, ""},
		{"count too large", map[string]string{varTotalShardCount: "4", varStartingShard: "2", varShardCount: "3"},
			`CORDIS_SHARD_COUNT="3": accepted: an integer from 1 to 2 (CORDIS_STARTING_SHARD=2 plus CORDIS_SHARD_COUNT must not exceed the total, CORDIS_TOTAL_SHARD_COUNT=4)`},
		{"starting beyond total", map[string]string{varTotalShardCount: "4", varStartingShard: "4"},
			`CORDIS_STARTING_SHARD="4": accepted: an integer from 0 to 3 (below the total, CORDIS_TOTAL_SHARD_COUNT=4)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestShardRangeNotRecheckedWhenAValueIsBad(t *testing.T) {
	_, err := Load(env(map[string]string{varTotalShardCount: "4", varStartingShard: "2", varShardCount: "x"}))
	if lines := errLines(t, err); len(lines) != 1 {
		t.Errorf("want only the bad CORDIS_SHARD_COUNT, got %q", lines)
	}
}

func errLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	return strings.Split(err.Error(), "\n")
}
