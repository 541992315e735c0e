package config

import "testing"

func TestErrorIsOneLineNamingVariableValueAndAccepted(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{"CORDIS_WS_LARGE_THRESHOLD", "300", "an integer from 50 to 250"},
			`CORDIS_WS_LARGE_THRESHOLD="300": accepted: an integer from 50 to 250`},
		{Error{"CORDIS_AMQP_HOST", "", "host"}, `CORDIS_AMQP_HOST is not set: accepted: host`},
		{Error{"CORDIS_DEBUG", "a\"b\nc", "x"}, `CORDIS_DEBUG="a\"b\nc": accepted: x`},
		{Error{"CORDIS_AUTH", "anything", "a token"}, `CORDIS_AUTH=[redacted]: accepted: a token`},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}
