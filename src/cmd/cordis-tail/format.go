package main

import (
	"fmt"
	"strings"
	"time"
)

// formatDelivery renders one event as
//
//	MESSAGE_CREATE  shard=0  application/json  1534 B
//
// plus, when body > 0 and the body is JSON, its first body bytes.
func formatDelivery(key string, shard any, contentType string, b []byte, body int) string {
	if key == "" {
		key = `""`
	}
	if contentType == "" {
		contentType = "-"
	}
	line := fmt.Sprintf("%-24s shard=%-3s %-28s %d B", key, shardString(shard), contentType, len(b))
	if body > 0 && contentType == "application/json" {
		s := string(b)
		if len(s) > body {
			s = s[:body] + "..."
		}
		line += "  " + strings.ReplaceAll(s, "\n", " ")
	}
	return line
}

// shardString prints the shard_id header whatever integer type the AMQP
// table decoded it as; "-" when absent.
func shardString(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v)
	default:
		return fmt.Sprintf("%v(%T)", v, v)
	}
}

// stats counts events and bytes for the periodic and the final summary.
type stats struct {
	start, last time.Time
	n, lastN    int
	bytes       int64
	lastBytes   int64
}

func newStats(now time.Time) *stats { return &stats{start: now, last: now} }

func (s *stats) add(size int) {
	s.n++
	s.bytes += int64(size)
}

// interval summarizes the events since the previous call.
func (s *stats) interval(now time.Time) string {
	n, b, d := s.n-s.lastN, s.bytes-s.lastBytes, now.Sub(s.last)
	s.last, s.lastN, s.lastBytes = now, s.n, s.bytes
	return fmt.Sprintf("-- %d events in %s (%.1f/s, %s/s); %d total", n, d.Round(time.Millisecond), rate(float64(n), d), byteSize(rate(float64(b), d)), s.n)
}

// total summarizes everything since the start.
func (s *stats) total(now time.Time) string {
	d := now.Sub(s.start)
	return fmt.Sprintf("-- total: %d events, %s in %s (%.1f/s)", s.n, byteSize(float64(s.bytes)), d.Round(time.Millisecond), rate(float64(s.n), d))
}

func rate(x float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return x / d.Seconds()
}

func byteSize(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}
