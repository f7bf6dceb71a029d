package httpx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// The slowest a request body may arrive. A source on Tor with a poor
// circuit uploads at tens of KiB/s and may stall for tens of seconds while
// a circuit is rebuilt; a client that keeps a connection by trickling a
// byte now and then, to hold the server's connections and memory, sends
// far less.
const (
	// DefaultMinBodyRate is the least average rate of a body, in bytes per
	// second.
	DefaultMinBodyRate = 1 << 10
	// DefaultBodyRateWindow is the time over which it is averaged: a body
	// may stall this long, and must make up for it later.
	DefaultBodyRateWindow = time.Minute
	// MaxBodyTime is the longest a body may take, whatever its rate: a
	// submission writes its objects as it arrives and its rows at the
	// end, and the sweep of a bucket's orphans (server, OrphanGrace)
	// must not take the objects of one still arriving. 24 hours carry
	// 4 GiB at 50 KiB/s, a slow Tor circuit's pace.
	MaxBodyTime = 24 * time.Hour
)

// MinBodyRate cuts request bodies that arrive slower than BytesPerSecond
// on average. A body starts with Window of credit; each byte read adds
// 1/BytesPerSecond of a second to it, up to Window; the time spent waiting
// for the client in a read takes from it (not the time the handler spends
// elsewhere: a server busy storing does not count against the client).
// When the credit is spent, the read fails with a timeout, which handlers
// take for the client's fault (ClientFault) and answer without logging.
//
// The credit is enforced by the connection's read deadline, extended as
// data arrives (http.ResponseController), so a client that sends nothing
// is cut even while a read waits; and checked after every read, for the
// handlers that set deadlines of their own (tusd's, in upload/).
//
// A body must also be whole within MaxTime (0: MaxBodyTime), however fast
// it comes.
type MinBodyRate struct {
	BytesPerSecond int64
	Window         time.Duration
	MaxTime        time.Duration
}

// Handler wraps next so that every request body keeps the rate.
func (m MinBodyRate) Handler(next http.Handler) http.Handler {
	if m.BytesPerSecond <= 0 || m.Window <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			end := time.Now().Add(MaxBodyTime)
			if m.MaxTime > 0 {
				end = time.Now().Add(m.MaxTime)
			}
			r.Body = &rateReader{ReadCloser: r.Body, ctx: r.Context(), rc: http.NewResponseController(w), m: m, credit: m.Window, end: end}
		}
		next.ServeHTTP(w, r)
	})
}

// rateReader is a body under MinBodyRate.
type rateReader struct {
	io.ReadCloser
	ctx    context.Context // the request's: cancelled, the body ends too
	rc     *http.ResponseController
	m      MinBodyRate
	credit time.Duration
	end    time.Time // the body must be whole by then
	done   bool
}

// ErrTooSlow is the error of a body cut for its rate. It is a net.Error
// whose Timeout is true, so that ClientFault knows it.
var ErrTooSlow error = tooSlow{}

type tooSlow struct{}

func (tooSlow) Error() string   { return "the request body arrived too slowly" }
func (tooSlow) Timeout() bool   { return true }
func (tooSlow) Temporary() bool { return false }

// Is makes it a deadline's error too: tusd then knows not to extend the
// deadline it keeps.
func (tooSlow) Is(target error) bool { return target == os.ErrDeadlineExceeded }

func (b *rateReader) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	start := time.Now()
	if b.credit <= 0 || b.ctx.Err() != nil || !start.Before(b.end) {
		// Spent, or the request was cancelled (Drain.Cut) between two
		// reads: the deadline set below would outlive the cut's.
		return 0, b.cut()
	}
	// Not all writers support deadlines (a test's recorder): then the
	// check after the read is the only one.
	deadline := start.Add(b.credit)
	if b.end.Before(deadline) {
		deadline = b.end
	}
	b.rc.SetReadDeadline(deadline)
	n, err := b.ReadCloser.Read(p)
	b.credit -= time.Since(start)
	b.credit = min(b.credit+time.Duration(n)*time.Second/time.Duration(b.m.BytesPerSecond), b.m.Window)
	if err == io.EOF {
		// The whole body is in: no deadline for the rest of the request
		// (net/http's background read would otherwise cancel it).
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
		return n, err
	}
	if err != nil && isTimeout(err) {
		return n, b.cut()
	}
	return n, err
}

// cut ends the body: a deadline in the past also ends what net/http reads
// of it after the handler (to keep the connection), so the connection
// closes once the answer is written, whatever deadline the handler set.
func (b *rateReader) cut() error {
	b.rc.SetReadDeadline(time.Unix(1, 0))
	return ErrTooSlow
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
