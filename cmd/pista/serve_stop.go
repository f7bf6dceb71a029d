package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/i18n"
)

// The HTTP server's bounds on one connection.
const (
	// readHeaderTimeout bounds the time a request's line and headers may
	// take to arrive, however slowly they trickle: a request over Tor
	// sends them in well under a second.
	readHeaderTimeout = 30 * time.Second
	// idleTimeout is how long a keep-alive connection may wait for its
	// next request.
	idleTimeout = 2 * time.Minute
	// maxHeaderBytes bounds a request's headers (net/http adds 4 KiB).
	maxHeaderBytes = 64 << 10
)

// http2Limits bound what one HTTP/2 connection (with --tls-cert) may
// hold: a few requests at once rather than 100 or more, each a body under
// MinBodyRate, and 512 KiB of received data waiting for its handlers
// rather than 1 MiB, so that the connection bound bounds memory as it does
// for HTTP/1.1. A stream's window of 256 KiB still carries a few MiB/s
// on a clearnet round trip.
var http2Limits = &http.HTTP2Config{
	MaxConcurrentStreams:          16,
	MaxReceiveBufferPerConnection: 512 << 10,
	MaxReceiveBufferPerStream:     256 << 10,
	MaxDecoderHeaderTableSize:     4 << 10,
}

// defaultShutdownGrace is how long, on stop, requests in flight may go
// on: a 10 MiB upload at 64 KiB/s (a slow Tor circuit) takes about that.
const defaultShutdownGrace = 30 * time.Second

// handlerStopWait is how long, once the requests still in flight are
// cut, their handlers have to return (remove what they half wrote and
// answer) before the stores close under them anyway.
const handlerStopWait = 15 * time.Second

// httpServerLimits are the bounds serve puts on its HTTP listener.
type httpServerLimits struct {
	maxConns int
	rate     httpx.MinBodyRate
	write    httpx.MinResponseRate
}

// httpLimits reads the flags on connections and body rate. It raises the
// open-file soft limit to the hard one, and keeps the connection bound
// below what that leaves.
func httpLimits(f serveFlags) (httpServerLimits, error) {
	var l httpServerLimits
	if f.shutdownGrace < 0 {
		return l, hint(errors.New("--shutdown-grace cannot be negative"), "0 cuts requests in flight at once")
	}
	nofile, err := httpx.RaiseFileLimit()
	if err != nil {
		return l, fmt.Errorf("reading the open-file limit: %w", err)
	}
	derived := httpx.MaxConnsFor(nofile)
	switch {
	case f.maxConns < 0:
		return l, hint(errors.New("--max-connections cannot be negative"), "leave it out to derive it from the open-file limit")
	case f.maxConns == 0:
		l.maxConns = derived
	case uint64(f.maxConns) > (nofile-min(nofile, httpx.ReservedFiles))/2:
		return l, hint(fmt.Errorf("--max-connections %d is more than the open-file limit (%d) allows", f.maxConns, nofile),
			"at most "+strconv.FormatUint((nofile-min(nofile, httpx.ReservedFiles))/2, 10)+"; raise the limit (ulimit -Hn, LimitNOFILE=) for more")
	default:
		l.maxConns = f.maxConns
	}
	if f.minBodyRate != "" && f.minBodyRate != "0" {
		r, err := parseSize(f.minBodyRate)
		if err != nil {
			return l, hint(fmt.Errorf("--min-body-rate: %w", err), "write a size per second such as 1KiB")
		}
		if f.bodyWindow <= 0 {
			return l, hint(errors.New("--body-rate-window must be positive"), "the default is "+httpx.DefaultBodyRateWindow.String())
		}
		l.rate = httpx.MinBodyRate{BytesPerSecond: r, Window: f.bodyWindow}
	}
	if f.minRespRate != "" && f.minRespRate != "0" {
		r, err := parseSize(f.minRespRate)
		if err != nil {
			return l, hint(fmt.Errorf("--min-response-rate: %w", err), "write a size per second such as 1KiB")
		}
		if f.respWindow <= 0 {
			return l, hint(errors.New("--response-rate-window must be positive"), "the default is "+httpx.DefaultResponseRateWindow.String())
		}
		l.write = httpx.MinResponseRate{BytesPerSecond: r, Window: f.respWindow}
	}
	return l, nil
}

// shutdown stops hs: it stops taking connections, gives the requests in
// flight grace to end, then cuts those left (their contexts cancelled,
// their bodies' reads ended, their clients told nothing was stored) and
// waits for their handlers to return, so that the stores close only
// after. It logs what it cut, as counts.
func shutdown(hs *http.Server, drain *httpx.Drain, grace time.Duration, log *slog.Logger) error {
	log.Info("stopping", "in_flight", drain.InFlight(), "grace", grace.String())
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	err := hs.Shutdown(ctx)
	cancel()
	if err == nil {
		log.Info("stopped: every request in flight was answered")
		return nil
	}
	cut := drain.Cut()
	if cut == 0 {
		hs.Close()
		log.Info("stopped: no request was in flight")
		return nil
	}
	ctx, cancel = context.WithTimeout(context.Background(), handlerStopWait)
	left := drain.Wait(ctx)
	cancel()
	// The cut requests' answers go out; then what remains is closed.
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	hs.Shutdown(ctx)
	cancel()
	hs.Close()
	if left > 0 {
		log.Error("stopped: requests did not end after they were cut; the stores are closed under them",
			"cut", cut, "still_running", left)
		return fmt.Errorf("%d requests did not stop in time", left)
	}
	log.Warn("stopped: the grace ended and requests in flight were cut; nothing of theirs was stored",
		"cut", cut, "grace", grace.String())
	return nil
}

// refuseStopping answers a request cut by shutdown.
func refuseStopping(w http.ResponseWriter, r *http.Request) {
	l, _ := i18n.FromRequest(r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(w, l.T("error.stopping"))
}
