// Package metrics is what pista tells Prometheus about itself, and the
// line it keeps doing so: no metric dates a source's visit more finely
// than the hour pista records every time at (pista.TimeGranularity), and
// none counts anything per desk.
//
// A counter scraped every 15 s dates each of its steps to 15 s: a count of
// submissions, or of requests to POST /submit, would be a log of when each
// tip arrived. Merging the source pages' routes under one label is not
// enough either: a submission takes longer than a page view and answers
// with another status, so its bucket and class would still tell it. So
// pista has two kinds of metric:
//
//   - Live, observed as they happen: what only journalists and operators
//     move, the newsroom's pages (/newsroom/…) and the probes (/healthz,
//     /readyz), by route pattern (never the path, which holds IDs) and
//     status class.
//   - Hourly: whatever a source's visit can move — every other request
//     (the source pages, uploads, the API, static files: one family with
//     no route label), key stretching, the admission gate's queues, the
//     uploads pending, the free disk, the errors logged. They are
//     gathered during the hour and published when it ends, so a scrape
//     sees them change only on the hour (in UTC).
//
// There is no Go runtime or process collector: key stretching allocates
// megabytes and takes a core for a moment, at each submission and each
// login, so heap, GC and CPU counters would date those to the scrape.
//
// For what is happening now, /readyz answers at once; the metrics are for
// trends and capacity.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/admit"
)

// Metrics holds pista's metrics and their registry. Its methods may be
// called on a nil *Metrics, which records nothing: metrics are off.
type Metrics struct {
	reg    *prometheus.Registry
	live   *prometheus.HistogramVec
	hourly *hourly
}

// Buckets of the histograms, in seconds.
var (
	// requestBuckets go from a page served from memory to an upload of
	// several minutes.
	requestBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
	// stretchBuckets frame Argon2id's tens to hundreds of milliseconds.
	stretchBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8}
)

// New returns metrics with nothing recorded yet.
func New() *Metrics {
	return newAt(time.Now)
}

func newAt(now func() time.Time) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		live: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pista_http_request_duration_seconds",
			Help:    "Time to answer a request of the newsroom's pages or the probes (live), by route pattern and status class.",
			Buckets: requestBuckets,
		}, []string{"route", "code"}),
		hourly: newHourly(now),
	}
	m.reg.MustRegister(m.live, m.hourly)
	return m
}

// Handler serves the metrics in Prometheus's formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// Scrapes are cheap, but the listener may be reached by more
		// than Prometheus: one at a time is plenty.
		MaxRequestsInFlight: 2,
		Timeout:             10 * time.Second,
	})
}

// Instrument wraps mux so that each request it serves is observed, under
// the ServeMux pattern that matched it. A live route (liveRoute) is
// observed at once; any other request is a source's, or may be, and
// waits for the end of the hour under no route.
func (m *Metrics) Instrument(mux *http.ServeMux) http.Handler {
	if m == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// r.Pattern is what mux matched, set on this request before
			// it called the handler.
			took := time.Since(start).Seconds()
			class := statusClass(sw.code)
			if liveRoute(r.Pattern) {
				m.live.WithLabelValues(r.Pattern, class).Observe(took)
			} else {
				m.hourly.observeSource(class, took)
			}
		}()
		mux.ServeHTTP(sw, r)
	})
}

// liveRoute reports whether requests of pattern are observed live: only
// the newsroom's and the probes'. Whatever else is added to the mux,
// however named, counts as a source's.
func liveRoute(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	if path == "" {
		path = pattern
	}
	return strings.HasPrefix(path, "/newsroom/") || path == "/healthz" || path == "/readyz"
}

// statusClass is 2xx, 3xx, 4xx or 5xx (a handler that wrote nothing
// answered 200).
func statusClass(code int) string {
	if code == 0 {
		code = http.StatusOK
	}
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// statusWriter remembers the status a handler answered with. Unwrap lets
// http.ResponseController reach the connection's deadlines and flushing.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ObserveStretch records one key stretching (admit.Gate's Observe).
func (m *Metrics) ObserveStretch(took time.Duration) {
	if m != nil {
		m.hourly.observeStretch(took.Seconds())
	}
}

// CountErrors wraps h so that every record at level ERROR is counted.
func (m *Metrics) CountErrors(h slog.Handler) slog.Handler {
	if m == nil {
		return h
	}
	return errorCounter{h, m.hourly}
}

type errorCounter struct {
	slog.Handler
	h *hourly
}

func (c errorCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		c.h.countError()
	}
	return c.Handler.Handle(ctx, r)
}

func (c errorCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return errorCounter{c.Handler.WithAttrs(as), c.h}
}

func (c errorCounter) WithGroup(name string) slog.Handler {
	return errorCounter{c.Handler.WithGroup(name), c.h}
}

// Sources are what Watch samples. A nil function is not sampled.
type Sources struct {
	Gate *admit.Gate
	// Pending counts the uploads pending (upload.Store.Pending).
	Pending func(context.Context) (int, error)
	// Free is the free space on the data folder's disk, and Floor the
	// free space the server keeps (blob.Local.Free, MinFree).
	Free  func() (int64, error)
	Floor int64
}

// SampleEvery is how often Watch samples its sources: a queue or a
// number of uploads between two samples is missed, which a peak over an
// hour can afford.
const SampleEvery = 10 * time.Second

// Watch samples s every SampleEvery until ctx ends, in a goroutine of
// its own: the peaks of the admission gate's queues and of the pending
// uploads, and the lowest free disk, each published hourly. It takes a
// first sample before it returns, published at once: at start-up, before
// the server takes requests, no source is involved.
func (m *Metrics) Watch(ctx context.Context, log *slog.Logger, s Sources) {
	if m == nil {
		return
	}
	m.hourly.setFloor(s.Floor)
	m.sample(ctx, log, s)
	m.hourly.publishNow()
	go func() {
		t := time.NewTicker(SampleEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.sample(ctx, log, s)
			}
		}
	}()
}

func (m *Metrics) sample(ctx context.Context, log *slog.Logger, s Sources) {
	var sm sample
	if s.Gate != nil {
		p := s.Gate.TakePeaks()
		sm.queues = &p
	}
	sm.pending = -1
	if s.Pending != nil {
		cctx, cancel := context.WithTimeout(ctx, SampleEvery)
		n, err := s.Pending(cctx)
		cancel()
		if err == nil {
			sm.pending = n
		} else if ctx.Err() == nil { // not the server stopping
			log.Warn("metrics: counting the uploads pending", "err", err)
		}
	}
	sm.free = -1
	if s.Free != nil {
		if f, err := s.Free(); err == nil {
			sm.free = f
		} else {
			log.Warn("metrics: reading the free disk space", "err", err)
		}
	}
	m.hourly.sample(sm)
}

// hourOf is the hour t is in, as pista counts them.
func hourOf(t time.Time) time.Time { return t.UTC().Truncate(pista.TimeGranularity) }
