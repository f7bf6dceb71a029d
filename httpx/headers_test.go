package httpx

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHeaders(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A download sets its own type; the security headers stay.
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte("x"))
	})
	tests := []struct {
		name      string
		tls       bool
		onion     string
		wantHSTS  bool
		wantOnion string
	}{
		{"plain HTTP", false, "", false, ""},
		{"TLS", true, "", true, ""},
		{"onion address set", false, "abcdefghijklmnop.onion", false, "http://abcdefghijklmnop.onion/newsroom/?lang=fr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/newsroom/?lang=fr", nil)
			csp := NewsroomCSP
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			Headers(inner, tt.onion).ServeHTTP(w, r)
			h := w.Result().Header
			for k, want := range map[string]string{
				"Content-Security-Policy":      csp,
				"Cache-Control":                "no-store",
				"Referrer-Policy":              "no-referrer",
				"X-Content-Type-Options":       "nosniff",
				"X-Frame-Options":              "DENY",
				"Cross-Origin-Opener-Policy":   "same-origin",
				"Cross-Origin-Resource-Policy": "same-origin",
				"Content-Type":                 "application/octet-stream",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := h.Get("Strict-Transport-Security"); (got != "") != tt.wantHSTS {
				t.Errorf("Strict-Transport-Security = %q, want set: %v", got, tt.wantHSTS)
			}
			if got := h.Get("Onion-Location"); got != tt.wantOnion {
				t.Errorf("Onion-Location = %q, want %q", got, tt.wantOnion)
			}
		})
	}
}

// TestNewsroomCSP checks that only the journalists' pages get the
// newsroom's policy, and that it loosens nothing but what reading in the
// browser needs.
func TestNewsroomCSP(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for path, want := range map[string]string{"/": CSP, "/source": CSP, "/newsroom/c/x": NewsroomCSP, "/newsroomx": CSP} {
		w := httptest.NewRecorder()
		Headers(inner, "").ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if got := w.Result().Header.Get("Content-Security-Policy"); got != want {
			t.Errorf("%s: CSP %q, want %q", path, got, want)
		}
	}
	// hash-wasm's Argon2id (the login) needs 'wasm-unsafe-eval'.
	allowed := map[string]bool{"img-src blob:": true, "frame-src blob:": true, "script-src 'wasm-unsafe-eval'": true}
	for _, directive := range strings.Split(NewsroomCSP, ";") {
		fields := strings.Fields(directive)
		for _, source := range fields[1:] {
			if source != "'self'" && source != "'none'" && !allowed[fields[0]+" "+source] {
				t.Errorf("NewsroomCSP directive %q allows %s", fields[0], source)
			}
		}
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(NewsroomCSP, want) {
			t.Errorf("NewsroomCSP %q lacks %q", NewsroomCSP, want)
		}
	}
}

func TestCSP(t *testing.T) {
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP %q lacks %q", CSP, want)
		}
	}
	// Scripts, if any, come from the server's own files: nothing inline,
	// no eval, no other origin; the server's script may compile its own
	// WebAssembly (the metadata scrubber) and nothing else.
	for _, directive := range strings.Split(CSP, ";") {
		fields := strings.Fields(directive)
		if len(fields) == 0 {
			continue
		}
		for _, source := range fields[1:] {
			if source != "'self'" && source != "'none'" && (fields[0] != "script-src" || source != "'wasm-unsafe-eval'") {
				t.Errorf("CSP directive %q allows %s", fields[0], source)
			}
		}
	}
}

// TestNewsroomCSPPaths: the journalists' pages may compile WebAssembly
// (the passphrase's Argon2id, the scrubber), source pages too (the
// scrubber, before files are encrypted); neither may eval.
func TestNewsroomCSPPaths(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for path, want := range map[string]string{
		"/":                   CSP,
		"/submit":             CSP,
		"/source":             CSP,
		"/newsroom/login":     NewsroomCSP,
		"/newsroom/settings":  NewsroomCSP,
		"/newsroomx":          CSP,
		"/static/newsroom.js": CSP,
	} {
		w := httptest.NewRecorder()
		Headers(inner, "").ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if got := w.Result().Header.Get("Content-Security-Policy"); got != want {
			t.Errorf("%s: CSP %q, want %q", path, got, want)
		}
	}
	if !strings.Contains(CSP, "script-src 'self' 'wasm-unsafe-eval';") || strings.Contains(CSP, "'unsafe-eval'") || strings.Contains(CSP, "unsafe-inline") {
		t.Errorf("source pages' CSP %q: want the server's own scripts and WebAssembly, no eval, nothing inline", CSP)
	}
	if !strings.Contains(NewsroomCSP, "script-src 'self' 'wasm-unsafe-eval';") || strings.Contains(NewsroomCSP, "'unsafe-eval'") {
		t.Errorf("NewsroomCSP %q", NewsroomCSP)
	}
}
