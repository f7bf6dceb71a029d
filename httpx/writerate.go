package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// The slowest a response may be taken. A source on Tor fetching the
// scrubber's script, or a journalist on a poor link downloading a large
// file, takes tens of KiB/s and may stall for tens of seconds while a
// circuit is rebuilt; a client that asks for a large answer and then reads
// it a byte now and then, to hold a connection and its handler, takes far
// less.
const (
	// DefaultMinResponseRate is the least average rate at which a client
	// must take a response, in bytes per second.
	DefaultMinResponseRate = 1 << 10
	// DefaultResponseRateWindow is the time over which it is averaged: a
	// client may stop reading this long, and must make up for it later.
	DefaultResponseRateWindow = time.Minute
)

// MinResponseRate cuts responses that the client takes slower than
// BytesPerSecond on average: the symmetric of MinBodyRate. A response
// starts with Window of credit; each byte the connection accepts adds
// 1/BytesPerSecond of a second to it, up to Window; the time a write
// waits for the client (its kernel buffers full because the client reads
// nothing) takes from it. The handler's own time between writes does not
// count: a server busy decrypting or reading its disk is not the client.
//
// The credit is enforced by the connection's write deadline, set before
// each write to now plus what is left, so that a write blocked on a client
// that reads nothing fails when the credit is spent. The write then
// returns ErrReaderTooSlow, the request's context is cancelled (so the
// handler stops what it was producing, and its error path sees
// context.Canceled, which QuietAborts keeps out of the log), and the
// connection is closed: its place is free for another client.
//
// Every response goes through it, whatever the route: it wraps the whole
// server's handler. Handlers that set write deadlines of their own (tusd)
// keep them until their next write, which sets the credit's.
type MinResponseRate struct {
	BytesPerSecond int64
	Window         time.Duration
}

// ErrReaderTooSlow is the error of a write to a client that took the
// response too slowly. It is a deadline's error (os.ErrDeadlineExceeded)
// and a cancellation (context.Canceled): the client gave up in all but
// name, and what a handler logs of it is dropped by QuietAborts.
var ErrReaderTooSlow error = readerTooSlow{}

type readerTooSlow struct{}

func (readerTooSlow) Error() string   { return "the client took the response too slowly" }
func (readerTooSlow) Timeout() bool   { return true }
func (readerTooSlow) Temporary() bool { return false }
func (readerTooSlow) Is(target error) bool {
	return target == os.ErrDeadlineExceeded || target == context.Canceled
}

// Handler wraps next so that every response keeps the rate.
func (m MinResponseRate) Handler(next http.Handler) http.Handler {
	if m.BytesPerSecond <= 0 || m.Window <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		rw := &rateWriter{ResponseWriter: w, rc: http.NewResponseController(w), m: m, credit: m.Window, cancel: cancel}
		// A fresh deadline for this request: the one the previous request
		// of a keep-alive connection left must not cut this one, and a
		// handler that writes nothing itself (a redirect, a 204) still has
		// its answer flushed under one.
		rw.rc.SetWriteDeadline(time.Now().Add(m.Window))
		// A request cut while it writes (Drain.Cut, on stopping, once the
		// grace is over) or whose client left: a write blocked on the
		// client ends now, rather than when the credit is spent.
		stop := context.AfterFunc(r.Context(), rw.end)
		defer func() {
			if stop() {
				// The answer's tail, still in net/http's buffer, is
				// flushed after the handler returns: under the credit left.
				rw.mu.Lock()
				if !rw.cut {
					rw.rc.SetWriteDeadline(time.Now().Add(max(rw.credit, time.Second)))
				}
				rw.mu.Unlock()
			}
		}()
		next.ServeHTTP(rw, r.WithContext(ctx))
	})
}

// rateWriter is a ResponseWriter under MinResponseRate.
type rateWriter struct {
	http.ResponseWriter
	rc     *http.ResponseController
	m      MinResponseRate
	cancel context.CancelCauseFunc

	mu      sync.Mutex // guards the deadline against end, from another goroutine
	credit  time.Duration
	started bool // bytes of the body were written
	cut     bool
}

func (w *rateWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// end cuts a response whose request was cancelled while its body was
// being written. One that had not started keeps its deadline, so that
// Drain's refusal, or the handler's error page, still goes out.
func (w *rateWriter) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started && !w.cut {
		w.cut = true
		w.rc.SetWriteDeadline(time.Unix(1, 0))
	}
}

// Write writes p in pieces that a client at the minimum rate takes in
// half the window, so that a large write does not need more credit than
// the window holds.
func (w *rateWriter) Write(p []byte) (int, error) {
	piece := max(int(min(w.m.BytesPerSecond*int64(w.m.Window/time.Second)/2, 1<<30)), 4<<10)
	total := 0
	for len(p) > 0 {
		q := p[:min(len(p), piece)]
		n, err := w.timed(len(q), func() (int, error) { return w.ResponseWriter.Write(q) })
		total += n
		p = p[n:]
		if err != nil {
			return total, err
		}
		if n < len(q) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// FlushError flushes under the credit too (http.ResponseController calls
// it).
func (w *rateWriter) FlushError() error {
	_, err := w.timed(0, func() (int, error) { return 0, w.rc.Flush() })
	return err
}

// Flush is http.Flusher's, for the handlers that ask for one.
func (w *rateWriter) Flush() { w.FlushError() }

// timed runs one write under the credit left, and accounts for it.
func (w *rateWriter) timed(n int, write func() (int, error)) (int, error) {
	w.mu.Lock()
	if w.cut || w.credit <= 0 {
		w.mu.Unlock()
		return 0, w.tooSlow()
	}
	w.started = true
	start := time.Now()
	w.rc.SetWriteDeadline(start.Add(w.credit))
	w.mu.Unlock()

	wrote, err := write()

	w.mu.Lock()
	w.credit -= time.Since(start)
	w.credit = min(w.credit+time.Duration(wrote)*time.Second/time.Duration(w.m.BytesPerSecond), w.m.Window)
	cut := w.cut
	w.mu.Unlock()
	if err != nil && (cut || errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err)) {
		return wrote, w.tooSlow()
	}
	return wrote, err
}

// tooSlow ends the response: the request's context is cancelled and the
// connection closes (a deadline in the past ends whatever net/http would
// still write to it).
func (w *rateWriter) tooSlow() error {
	w.mu.Lock()
	w.cut = true
	w.rc.SetWriteDeadline(time.Unix(1, 0))
	w.mu.Unlock()
	w.cancel(ErrReaderTooSlow)
	return ErrReaderTooSlow
}
