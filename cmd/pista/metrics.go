package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/metrics"
)

// opsFlags are serve's flags for whoever runs the server: metrics and the
// log's format.
type opsFlags struct {
	metricsListen string // --metrics-listen: "" is off
	metricsPublic bool   // --metrics-public: let it listen beyond this machine
	logFormat     string // --log-format: text or json
}

func addOpsFlags(fs *flag.FlagSet, f *opsFlags) {
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://`ADDR`/metrics, e.g. 127.0.0.1:9464 (default: off; see the README for what each metric reveals)")
	fs.BoolVar(&f.metricsPublic, "metrics-public", false, "let --metrics-listen be an address other machines reach (default: loopback only)")
	fs.StringVar(&f.logFormat, "log-format", "text", "write the log as `FORMAT` text (key=value) or json (one object a line), to standard error")
}

// check refuses what the flags cannot mean, before anything starts.
func (f opsFlags) check() error {
	switch f.logFormat {
	case "", "text", "json":
	default:
		return hint(fmt.Errorf("--log-format %q is not a format", f.logFormat), "choose text or json")
	}
	if f.metricsListen == "" {
		if f.metricsPublic {
			return errors.New("--metrics-public goes with --metrics-listen")
		}
		return nil
	}
	host, _, err := net.SplitHostPort(f.metricsListen)
	if err != nil {
		return hint(fmt.Errorf("--metrics-listen: %w", err), "write HOST:PORT, e.g. 127.0.0.1:9464")
	}
	if !f.metricsPublic && !loopback(host) {
		return hint(fmt.Errorf("--metrics-listen %s: not a loopback address", f.metricsListen),
			"metrics tell how busy the tip line is: keep them on 127.0.0.1 or [::1] and let Prometheus reach them through a tunnel, or add --metrics-public")
	}
	return nil
}

// loopback reports whether host names only this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newMetrics returns the metrics the flags ask for (nil: off).
func (f opsFlags) newMetrics() *metrics.Metrics {
	if f.metricsListen == "" {
		return nil
	}
	return metrics.New()
}

// newLogger is serve's logger: text or JSON on w, times to the hour
// (coarseTime), clients' aborts dropped, errors counted by m.
func (f opsFlags) newLogger(w io.Writer, m *metrics.Metrics) *slog.Logger {
	opts := &slog.HandlerOptions{ReplaceAttr: coarseTime}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if f.logFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	// A client's abort is not the server's failure: its traces are dropped.
	return slog.New(m.CountErrors(httpx.QuietAborts(h)))
}

// startMetrics listens on --metrics-listen and serves m there until stop
// is called. It returns the address it listens on ("" when off).
func (f opsFlags) startMetrics(m *metrics.Metrics, logger *slog.Logger) (addr string, stop func(), err error) {
	if m == nil {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", f.metricsListen)
	if err != nil {
		return "", nil, hint(fmt.Errorf("--metrics-listen: %w", err), "is another server using that address? choose another")
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	hs := &http.Server{
		Handler:           httpx.Headers(mux, ""),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(io.Discard, "", 0), // would name clients' addresses
	}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "err", err)
		}
	}()
	return ln.Addr().String(), func() { hs.Shutdown(context.Background()) }, nil
}
