package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// The probes answer without a session, with the usual headers, and are
// not logged.
func TestProbes(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	logged := len(in.Log.String())
	b := in.Browser()
	for _, path := range []string{"/healthz", "/readyz"} {
		r := b.Get(path)
		if r.Status != http.StatusOK || r.Body != "ok\n" {
			t.Errorf("GET %s: %d %q; want 200 ok", path, r.Status, r.Body)
		}
		if csp := r.Header.Get("Content-Security-Policy"); csp != httpx.CSP {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		for h, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("GET %s: %s %q; want %q", path, h, got, want)
			}
		}
		if r.Header.Get("Set-Cookie") != "" {
			t.Errorf("GET %s set a cookie", path)
		}
		if r := b.Do(b.Request("POST", path, nil, "")); r.Status != http.StatusNotFound {
			t.Errorf("POST %s: %d; want the usual 404 page", path, r.Status)
		}
	}
	if l := in.Log.String()[logged:]; l != "" {
		t.Errorf("the probes were logged:\n%s", l)
	}
}

// /readyz says which store is not ready, in words that name no path.
func TestReadyzNotReady(t *testing.T) {
	t.Run("disk at its floor", func(t *testing.T) {
		in := pistatest.New(t, server.Config{MinFreeDisk: 1 << 60})
		b := in.Browser()
		r := b.Get("/readyz")
		if r.Status != http.StatusServiceUnavailable || r.Body != "not ready: the disk is at its floor of free space\n" {
			t.Errorf("GET /readyz: %d %q", r.Status, r.Body)
		}
		if r := b.Get("/healthz"); r.Status != http.StatusOK {
			t.Errorf("GET /healthz with the disk at its floor: %d; the process still serves", r.Status)
		}
	})
	t.Run("database closed", func(t *testing.T) {
		in := pistatest.New(t, server.Config{})
		in.Srv.Stores.Close()
		r := in.Browser().Get("/readyz")
		if r.Status != http.StatusServiceUnavailable || r.Body != "not ready: the database does not answer\n" {
			t.Errorf("GET /readyz: %d %q", r.Status, r.Body)
		}
		if strings.Contains(r.Body, in.Data) {
			t.Errorf("the answer names the data folder: %q", r.Body)
		}
	})
}

// On PostgreSQL, /readyz pings the database server.
func TestReadyzPostgres(t *testing.T) {
	in := pistatest.New(t, server.Config{Database: pgtest.URL(t)})
	b := in.Browser()
	if r := b.Get("/readyz"); r.Status != http.StatusOK || r.Body != "ok\n" {
		t.Fatalf("GET /readyz: %d %q", r.Status, r.Body)
	}
	in.Srv.Stores.Close()
	time.Sleep(1100 * time.Millisecond) // past the reused answer
	if r := b.Get("/readyz"); r.Status != http.StatusServiceUnavailable || r.Body != "not ready: the database does not answer\n" {
		t.Errorf("GET /readyz with the pool closed: %d %q", r.Status, r.Body)
	}
}
