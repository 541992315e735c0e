package fakediscord

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ControlHandler serves the JSON control API (for the binary, demos and
// benchmarks); see README.md for the endpoints. Serve it on its own port.
func (s *Server) ControlHandler() http.Handler {
	h := &controlAPI{s: s}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", h.state)
	mux.HandleFunc("GET /shards/{id}/received", h.received)
	mux.HandleFunc("GET /shards/{id}/dispatches", h.dispatches)
	mux.HandleFunc("POST /dispatch", h.dispatch)
	mux.HandleFunc("POST /shards/{id}/send", h.send)
	mux.HandleFunc("POST /shards/{id}/close", h.close)
	mux.HandleFunc("POST /shards/{id}/drop", h.simple(s.DropShard))
	mux.HandleFunc("POST /shards/{id}/reconnect", h.simple(s.Reconnect))
	mux.HandleFunc("POST /shards/{id}/heartbeat", h.simple(s.RequestHeartbeat))
	mux.HandleFunc("POST /shards/{id}/invalid-session", h.invalidSession)
	mux.HandleFunc("POST /shards/{id}/heartbeat-acks", h.heartbeatACKs)
	mux.HandleFunc("POST /shards/{id}/raw", h.raw(s.SendRaw))
	mux.HandleFunc("POST /shards/{id}/payload", h.raw(s.SendPayload))
	mux.HandleFunc("POST /load", h.load)
	mux.HandleFunc("GET /load", h.loadStatus)
	return mux
}

type controlAPI struct {
	s       *Server
	mu      sync.Mutex
	running bool
	last    *LoadReport
	lastErr string
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	if errors.Is(err, ErrNoSession) || errors.Is(err, ErrNotConnected) {
		status = http.StatusConflict
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func decodeBody(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return fmt.Errorf("reading the JSON body: %w", err)
	}
	return nil
}

// shardID reads {id}: a number or "all".
func shardID(r *http.Request) (int, error) {
	v := r.PathValue("id")
	if v == "all" {
		return AllShards, nil
	}
	id, err := strconv.Atoi(v)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("shard id %q: want a number or all", v)
	}
	return id, nil
}

func (h *controlAPI) simple(f func(int) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := shardID(r)
		if err == nil {
			err = f(id)
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}
}

// stateView is /state: everything but the message bodies.
type stateView struct {
	SessionStartRemaining int          `json:"session_start_remaining"`
	Shards                []ShardState `json:"shards"`
	Connections           []ConnInfo   `json:"connections"`
	Identifies            []Identify   `json:"identifies"`
	Resumes               []Resume     `json:"resumes"`
	Violations            []Violation  `json:"violations"`
	Requests              []Request    `json:"requests"`
	Received              int          `json:"received"`
	Dispatches            int          `json:"dispatches_recorded"`
}

func (h *controlAPI) state(w http.ResponseWriter, r *http.Request) {
	sn := h.s.Snapshot()
	v := stateView{
		SessionStartRemaining: sn.SessionStartRemaining,
		Connections:           orEmpty(sn.Connections),
		Identifies:            orEmpty(sn.Identifies),
		Resumes:               orEmpty(sn.Resumes),
		Violations:            orEmpty(sn.Violations),
		Requests:              orEmpty(sn.Requests),
		Shards:                []ShardState{},
		Received:              len(sn.Received),
		Dispatches:            len(sn.Dispatches),
	}
	for id := range maxShard(sn.Shards) + 1 {
		if st, ok := sn.Shards[id]; ok {
			v.Shards = append(v.Shards, st)
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// orEmpty makes a nil list encode as [] rather than null, for scripts.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func maxShard(m map[int]ShardState) int {
	mx := -1
	for id := range m {
		mx = max(mx, id)
	}
	return mx
}

func (h *controlAPI) received(w http.ResponseWriter, r *http.Request) {
	id, err := shardID(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, orEmpty(h.s.Snapshot().ReceivedBy(id)))
}

func (h *controlAPI) dispatches(w http.ResponseWriter, r *http.Request) {
	id, err := shardID(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, orEmpty(h.s.Snapshot().DispatchesTo(id)))
}

func (h *controlAPI) dispatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Shard *int    `json:"shard"`
		T     string  `json:"t"`
		D     RawJSON `json:"d"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	if req.T == "" {
		writeErr(w, errors.New("t is required"))
		return
	}
	shard := AllShards
	if req.Shard != nil {
		shard = *req.Shard
	}
	var d any = req.D
	if len(req.D) == 0 {
		d = nil
	}
	seq, err := h.s.Dispatch(shard, req.T, d)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"s": seq})
}

func (h *controlAPI) send(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Op int     `json:"op"`
		D  RawJSON `json:"d"`
	}
	id, err := shardID(r)
	if err == nil {
		err = decodeBody(r, &req)
	}
	if err == nil {
		var d any = req.D
		if len(req.D) == 0 {
			d = nil
		}
		err = h.s.Send(id, req.Op, d)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (h *controlAPI) close(w http.ResponseWriter, r *http.Request) {
	req := struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	}{Code: 4000}
	id, err := shardID(r)
	if err == nil {
		err = decodeBody(r, &req)
	}
	if err == nil {
		err = h.s.CloseShard(id, req.Code, req.Reason)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (h *controlAPI) invalidSession(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Resumable bool `json:"resumable"`
	}
	id, err := shardID(r)
	if err == nil {
		err = decodeBody(r, &req)
	}
	if err == nil {
		err = h.s.InvalidSession(id, req.Resumable)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (h *controlAPI) heartbeatACKs(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Enabled bool `json:"enabled"`
	}
	id, err := shardID(r)
	if err == nil {
		err = decodeBody(r, &req)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	h.s.SetHeartbeatACKs(id, req.Enabled)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// raw takes {"base64": "..."} or {"text": "..."}.
func (h *controlAPI) raw(f func(int, []byte) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Base64 string `json:"base64"`
			Text   string `json:"text"`
		}
		id, err := shardID(r)
		if err == nil {
			err = decodeBody(r, &req)
		}
		data := []byte(req.Text)
		if err == nil && req.Base64 != "" {
			data, err = base64.StdEncoding.DecodeString(req.Base64)
		}
		if err == nil {
			err = f(id, data)
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}
}

// load runs the generator; with "async": true it returns at once and
// GET /load reports the result.
func (h *controlAPI) load(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Rate             float64 `json:"rate"`
		Duration         string  `json:"duration"`
		Count            int     `json:"count"`
		Shards           []int   `json:"shards"`
		GuildCreateEvery int     `json:"guild_create_every"`
		Async            bool    `json:"async"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	o := LoadOptions{Rate: req.Rate, Count: req.Count, Shards: req.Shards, GuildCreateEvery: req.GuildCreateEvery}
	if req.Duration != "" {
		d, err := time.ParseDuration(req.Duration)
		if err != nil {
			writeErr(w, fmt.Errorf("duration: %w", err))
			return
		}
		o.Duration = d
	}
	if o.Duration <= 0 && o.Count <= 0 {
		writeErr(w, errors.New("load needs a duration or a count"))
		return
	}
	h.mu.Lock()
	if h.running {
		h.mu.Unlock()
		writeErr(w, errors.New("a load run is already going"))
		return
	}
	h.running = true
	h.mu.Unlock()

	run := func(ctx context.Context) (LoadReport, error) {
		rep, err := h.s.Load(ctx, o)
		h.mu.Lock()
		h.running, h.last, h.lastErr = false, &rep, ""
		if err != nil {
			h.lastErr = err.Error()
		}
		h.mu.Unlock()
		return rep, err
	}
	if req.Async {
		h.s.mu.Lock()
		if h.s.closed {
			h.s.mu.Unlock()
			writeErr(w, errors.New("server closed"))
			return
		}
		h.s.wg.Add(1)
		h.s.mu.Unlock()
		go func() {
			defer h.s.wg.Done()
			_, _ = run(h.s.ctx)
		}()
		writeJSON(w, http.StatusAccepted, map[string]bool{"started": true})
		return
	}
	rep, err := run(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (h *controlAPI) loadStatus(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"running": h.running, "last": h.last, "error": h.lastErr})
}
