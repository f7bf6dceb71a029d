package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pista-tips/pista/admit"
)

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// scrape returns the metrics' text exposition.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// What a source's visit moves is published only when its hour ends: a
// scrape during the hour sees no step, one after it sees the whole hour.
func TestSourceRequestsArePublishedOnTheHour(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 10, 17, 3, 0, time.UTC)}
	m := newAt(c.now)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusSeeOther) })
	mux.HandleFunc("GET /newsroom/c/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })
	h := m.Instrument(mux)
	serve := func(method, path string) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	}
	serve("POST", "/submit")
	serve("GET", "/nowhere")
	serve("GET", "/newsroom/c/8f3a9")
	m.ObserveStretch(120 * time.Millisecond)
	m.CountErrors(slog.NewTextHandler(io.Discard, nil)).Handle(context.Background(), slog.NewRecord(c.now(), slog.LevelError, "store failed", 0))

	if got := testutil.CollectAndCount(m.live); got != 1 {
		t.Errorf("%d live series; want the newsroom's one", got)
	}
	out := scrape(t, m)
	for _, want := range []string{
		`pista_http_request_duration_seconds_count{code="2xx",route="GET /newsroom/c/{id}"} 1`,
		`pista_source_request_duration_seconds_count{code="3xx"} 0`,
		`pista_source_request_duration_seconds_count{code="4xx"} 0`,
		`pista_key_stretch_duration_seconds_count 0`,
		`pista_log_errors_total 0`,
		`pista_hourly_until_timestamp_seconds 0`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("within the hour, the scrape lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "8f3a9") || strings.Contains(out, "/submit") {
		t.Errorf("a path or a source route is named:\n%s", out)
	}

	c.set(time.Date(2026, 3, 1, 11, 0, 0, 1, time.UTC))
	out = scrape(t, m)
	for _, want := range []string{
		`pista_source_request_duration_seconds_count{code="3xx"} 1`,
		`pista_source_request_duration_seconds_count{code="4xx"} 1`,
		`pista_key_stretch_duration_seconds_bucket{le="0.25"} 1`,
		`pista_key_stretch_duration_seconds_bucket{le="0.1"} 0`,
		`pista_log_errors_total 1`,
		`pista_hourly_until_timestamp_seconds 1.7723628e+09`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("after the hour, the scrape lacks %q:\n%s", want, out)
		}
	}
	// No Go runtime or process metrics: they would date key stretching.
	for _, line := range strings.Split(out, "\n") {
		if line != "" && !strings.HasPrefix(line, "# ") && !strings.HasPrefix(line, "pista_") {
			t.Errorf("a metric that is not pista's: %s", line)
		}
	}
}

// The gauges are the hour's peaks and low, published when it ends; the
// first sample, taken at start-up, is published at once.
func TestGaugesArePeaksOfTheHour(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	m := newAt(c.now)
	free := int64(5 << 30)
	pending := 2
	g := admit.NewGate(1, time.Minute)
	m.Watch(t.Context(), slog.New(slog.DiscardHandler), Sources{
		Gate:    g,
		Pending: func(context.Context) (int, error) { return pending, nil },
		Free:    func() (int64, error) { return free, nil },
		Floor:   256 << 20,
	})
	out := scrape(t, m)
	for _, want := range []string{"pista_uploads_pending_peak 2", "pista_disk_free_bytes 5.36870912e+09", "pista_disk_floor_bytes 2.68435456e+08", `pista_stretch_queue_peak{lane="new"} 0`} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("at start-up, the scrape lacks %q:\n%s", want, out)
		}
	}
	src := Sources{Pending: func(context.Context) (int, error) { return pending, nil }, Free: func() (int64, error) { return free, nil }}
	log := slog.New(slog.DiscardHandler)
	for _, s := range []struct {
		pending int
		free    int64
	}{{7, 4 << 30}, {3, 3 << 30}, {1, 6 << 30}} {
		c.set(c.now().Add(10 * time.Minute))
		pending, free = s.pending, s.free
		m.sample(t.Context(), log, src)
	}
	if out := scrape(t, m); !strings.Contains(out, "pista_uploads_pending_peak 2\n") {
		t.Errorf("the hour's samples were published before it ended:\n%s", out)
	}
	c.set(time.Date(2026, 3, 1, 11, 0, 5, 0, time.UTC))
	out = scrape(t, m)
	for _, want := range []string{"pista_uploads_pending_peak 7", "pista_disk_free_bytes 3.221225472e+09"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("after the hour, the scrape lacks %q:\n%s", want, out)
		}
	}
}

func TestLiveRoutes(t *testing.T) {
	for pattern, live := range map[string]bool{
		"GET /newsroom/c/{id}":  true,
		"POST /newsroom/login":  true,
		"GET /healthz":          true,
		"GET /readyz":           true,
		"/newsroom/":            true,
		"POST /submit":          false,
		"GET /{$}":              false,
		"/api/":                 false,
		"GET /static/":          false,
		"PATCH /uploads/{id}":   false,
		"":                      false,
		"GET /newsroomish":      false,
		"GET /healthz/anything": false,
	} {
		if got := liveRoute(pattern); got != live {
			t.Errorf("liveRoute(%q) = %v; want %v", pattern, got, live)
		}
	}
}

// A nil *Metrics records nothing and changes nothing.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	mux := http.NewServeMux()
	if h := m.Instrument(mux); h != http.Handler(mux) {
		t.Error("a nil Metrics wrapped the mux")
	}
	m.ObserveStretch(time.Second)
	h := slog.NewTextHandler(io.Discard, nil)
	if m.CountErrors(h) != slog.Handler(h) {
		t.Error("a nil Metrics wrapped the log handler")
	}
	m.Watch(t.Context(), slog.New(slog.DiscardHandler), Sources{})
}
