package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/admit"
	"github.com/pista-tips/pista/metrics"
	"github.com/pista-tips/pista/upload"
)

// registerHealth adds the probes a supervisor or a load balancer asks:
// GET /healthz, 200 "ok" while the process serves; GET /readyz, 200 "ok"
// while its stores answer too (a cheap database query, and the floor of
// free disk), else 503 and a short reason that names no path and no
// secret. They need no session, carry the usual headers (build wraps the
// mux) and, as every request, are not logged.
func registerHealth(mux *http.ServeMux, st *Stores) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	ready := &readiness{st: st}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if reason := ready.check(r.Context()); reason != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready: "+reason+"\n")
			return
		}
		io.WriteString(w, "ok\n")
	})
}

// readyFor is how long a readiness answer is reused: probes from
// anywhere cost at most one database query a second.
const readyFor = time.Second

// readyTimeout bounds one check: a database that takes longer is not
// ready.
const readyTimeout = 2 * time.Second

// readiness checks the stores, at most once per readyFor.
type readiness struct {
	st *Stores

	mu     sync.Mutex // held during a check: probes arriving meanwhile wait for it
	at     time.Time
	reason string
}

func (r *readiness) check(ctx context.Context) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.at) < readyFor {
		return r.reason
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	r.reason, r.at = r.st.unready(ctx), time.Now()
	return r.reason
}

// unready says why the stores are not ready to take tips, or "".
func (s *Stores) unready(ctx context.Context) string {
	if err := s.Ping(ctx); err != nil {
		return "the database does not answer"
	}
	if room, ok := s.Blobs.(pista.Roomer); ok {
		if err := room.Room(0); errors.Is(err, pista.ErrStorageFull) {
			return "the disk is at its floor of free space"
		} else if err != nil {
			return "the disk's free space cannot be read"
		}
	}
	return ""
}

// Ping runs the cheapest query the database answers.
func (s *Stores) Ping(ctx context.Context) error {
	p, ok := s.db.(interface{ Ping(context.Context) error })
	if !ok {
		return errors.New("server: the database cannot be pinged")
	}
	return p.Ping(ctx)
}

// watch wires cfg.Metrics, if any, to the server's key stretching, and
// starts sampling its queues, uploads and disk until ctx ends.
func watch(ctx context.Context, cfg Config, st *Stores, up *upload.Store, gate *admit.Gate) {
	if cfg.Metrics == nil {
		return
	}
	gate.Observe = cfg.Metrics.ObserveStretch
	cfg.Metrics.Watch(ctx, cfg.Log, metrics.Sources{Gate: gate, Pending: up.Pending, Free: st.Local.Free, Floor: st.Local.MinFree})
}
