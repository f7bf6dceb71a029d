package httpx

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Drain follows the requests in flight so that a server stopping can cut
// them and wait for their handlers to return before it closes the stores
// they use.
//
// Cut cancels every request's context, and ends its body's read at once
// (a read deadline in the past), so that a handler reading a slow upload
// or waiting on a store returns promptly, through its usual error path,
// which removes what it had half written. If the handler then answers
// with an error, and had not started its answer before, Refuse answers
// instead (a 503 saying the server is stopping), so that the client knows
// to send again; a success goes through.
type Drain struct {
	// Refuse writes the answer to a cut request.
	Refuse http.Handler

	mu    sync.Mutex
	reqs  map[*flight]struct{}
	wg    sync.WaitGroup
	ended bool
}

// flight is a request in flight.
type flight struct {
	rc     *http.ResponseController
	cancel context.CancelFunc
	w      *drainWriter
}

// Handler wraps next so that Drain knows its requests.
func (d *Drain) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		dw := &drainWriter{ResponseWriter: w, r: r, refuse: d.Refuse}
		f := &flight{rc: http.NewResponseController(w), cancel: cancel, w: dw}
		d.mu.Lock()
		if d.ended {
			d.mu.Unlock()
			dw.cut()
			dw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if d.reqs == nil {
			d.reqs = map[*flight]struct{}{}
		}
		d.reqs[f] = struct{}{}
		d.wg.Add(1)
		d.mu.Unlock()
		defer func() {
			d.mu.Lock()
			delete(d.reqs, f)
			d.mu.Unlock()
			d.wg.Done()
		}()
		next.ServeHTTP(dw, r.WithContext(ctx))
	})
}

// InFlight is the number of requests whose handlers are running.
func (d *Drain) InFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.reqs)
}

// Cut cuts every request in flight, and every one that comes after, and
// returns how many it cut.
func (d *Drain) Cut() int {
	d.mu.Lock()
	d.ended = true
	fs := make([]*flight, 0, len(d.reqs))
	for f := range d.reqs {
		fs = append(fs, f)
	}
	d.mu.Unlock()
	past := time.Unix(1, 0)
	for _, f := range fs {
		f.w.cut()
		f.rc.SetReadDeadline(past)
		f.cancel()
	}
	return len(fs)
}

// Wait waits until every handler has returned, or ctx ends; it reports
// how many are still running.
func (d *Drain) Wait(ctx context.Context) int {
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return 0
	case <-ctx.Done():
		return d.InFlight()
	}
}

// drainWriter replaces a cut request's answer by Drain.Refuse's, unless
// the answer had started.
type drainWriter struct {
	http.ResponseWriter
	r      *http.Request
	refuse http.Handler

	mu      sync.Mutex
	started bool // the handler has written its header
	isCut   bool // the request was cut before that
	swallow bool // the refusal was written: drop the handler's answer
}

func (w *drainWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *drainWriter) cut() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started {
		w.isCut = true
	}
}

// begin reports whether the handler's answer, of status code, goes
// through: a cut request's failure is answered by Refuse instead, which
// tells the client why. A success goes through, cut or not: the handler
// stored what it answers for.
func (w *drainWriter) begin(code int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.swallow {
		return false
	}
	if w.isCut && code >= 400 {
		w.swallow = true
		h := w.ResponseWriter.Header()
		for k := range h {
			delete(h, k)
		}
		h.Set("Connection", "close")
		h.Set("Retry-After", "120")
		if w.refuse != nil {
			w.refuse.ServeHTTP(w.ResponseWriter, w.r)
		} else {
			http.Error(w.ResponseWriter, "The server is stopping. Nothing was stored: please send again in a few minutes.", http.StatusServiceUnavailable)
		}
		return false
	}
	w.started = true
	return true
}

func (w *drainWriter) WriteHeader(code int) {
	if code < 200 { // 1xx: informational, not the answer
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.begin(code) {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *drainWriter) Write(p []byte) (int, error) {
	if w.begin(http.StatusOK) {
		return w.ResponseWriter.Write(p)
	}
	return len(p), nil
}
