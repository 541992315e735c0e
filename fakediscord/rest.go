package fakediscord

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// serveREST answers GET /api/v10/gateway/bot and 404s everything else,
// recording every request.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	authorized := r.Header.Get("Authorization") == "Bot "+s.opts.Token
	hdr := r.Header.Clone()
	hdr.Del("Authorization")
	req := Request{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: hdr, Authorized: authorized}

	status, body := s.restAnswer(r, authorized)
	req.Status = status

	s.mu.Lock()
	s.rec.requests = appendCapped(s.rec.requests, req, s.opts.RecordLimit)
	s.notifyLocked()
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) restAnswer(r *http.Request, authorized bool) (int, any) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path != "/api/v10/gateway/bot" && path != "/api/v10/gateway" && path != "/api/v9/gateway/bot" && path != "/api/v9/gateway" {
		return http.StatusNotFound, map[string]any{"message": "404: Not Found", "code": 0}
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, map[string]any{"message": "405: Method Not Allowed", "code": 0}
	}
	if strings.HasSuffix(path, "/gateway") { // no authorization needed
		return http.StatusOK, map[string]any{"url": s.GatewayURL()}
	}
	if !authorized {
		return http.StatusUnauthorized, map[string]any{"message": "401: Unauthorized", "code": 0}
	}
	s.mu.Lock()
	s.refillLocked(time.Now())
	remaining := s.remaining
	resetAfter := time.Until(s.resetAt).Milliseconds()
	s.mu.Unlock()
	return http.StatusOK, map[string]any{
		"url":    s.GatewayURL(),
		"shards": s.opts.Shards,
		"session_start_limit": map[string]any{
			"total":           s.opts.SessionStartTotal,
			"remaining":       remaining,
			"reset_after":     max(resetAfter, 0),
			"max_concurrency": s.opts.MaxConcurrency,
		},
	}
}

// refillLocked restores the session start budget once reset_after passed.
func (s *Server) refillLocked(now time.Time) {
	if !now.Before(s.resetAt) {
		s.remaining = s.opts.SessionStartTotal
		s.resetAt = now.Add(s.opts.ResetAfter)
	}
}
