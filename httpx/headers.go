package httpx

import (
	"net/http"
	"strings"
)

// CSP is the Content-Security-Policy of every page: nothing but the
// server's own style sheet, images and script (no inline script, no eval),
// scripts that talk to the server only (the resumable uploads, the
// metadata scrubber's download), forms that post only to the server, and
// no framing. script-src 'wasm-unsafe-eval' lets the server's own script
// compile the metadata scrubber (WebAssembly from /static/, as connect-src
// 'self' allows), which removes a source's files' metadata on their device
// before they are encrypted; it allows no JavaScript eval.
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// NewsroomCSP is the policy of the journalists' pages (/newsroom/): CSP,
// and what reading in the browser needs. script-src 'wasm-unsafe-eval':
// WebAssembly compiled by the server's own scripts (hash-wasm's Argon2id
// stretches the passphrase; the metadata scrubber). connect-src 'self':
// the script fetches the encrypted items and sends sealed replies.
// frame-src and img-src blob:: a decrypted image or PDF is previewed from
// a blob: URL in a sandboxed, script-free frame (whose document inherits
// this policy). Source pages never get these (but 'wasm-unsafe-eval').
const NewsroomCSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob:; " +
	"connect-src 'self'; frame-src blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Headers wraps h so every response carries pista's security headers.
// Handlers that serve something else (a download) may override
// Content-Type and Content-Disposition, never these.
func Headers(h http.Handler, onion string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		if strings.HasPrefix(r.URL.Path, "/newsroom/") {
			hd.Set("Content-Security-Policy", NewsroomCSP)
		} else {
			hd.Set("Content-Security-Policy", CSP)
		}
		hd.Set("Cache-Control", "no-store")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Cross-Origin-Embedder-Policy", "require-corp")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=63072000")
		}
		if onion != "" {
			hd.Set("Onion-Location", "http://"+onion+r.URL.RequestURI())
		}
		h.ServeHTTP(w, r)
	})
}
