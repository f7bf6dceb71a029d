package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestStatic(t *testing.T) {
	h := Static()
	get := func(path, enc string) *http.Response {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if enc != "" {
			r.Header.Set("Accept-Encoding", enc)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	plain, _ := io.ReadAll(get("/static/pista.js", "").Body)
	if len(plain) < 1000 {
		t.Fatalf("pista.js is %d bytes", len(plain))
	}
	resp := get("/static/pista.js", "gzip, deflate, br")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("headers %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Fatal("the gzipped script is not the script")
	}
	if resp := get("/static/pista.js", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent to a browser that refuses it")
	}
	if resp := get("/static/", "gzip"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the folder answered %d", resp.StatusCode)
	}
}

// TestStaticPrecompressed checks the scrubber's WebAssembly, committed
// gzipped: sent as it is to browsers that take gzip, unpacked for others,
// typed application/wasm either way.
func TestStaticPrecompressed(t *testing.T) {
	h := Static()
	get := func(enc string) *http.Response {
		r := httptest.NewRequest(http.MethodGet, "/static/scrub.wasm", nil)
		if enc != "" {
			r.Header.Set("Accept-Encoding", enc)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	plainResp := get("")
	plain, _ := io.ReadAll(plainResp.Body)
	if plainResp.StatusCode != http.StatusOK || !bytes.HasPrefix(plain, []byte("\x00asm")) ||
		plainResp.Header.Get("Content-Type") != "application/wasm" || plainResp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("plain: %d %v, %d bytes starting %q", plainResp.StatusCode, plainResp.Header, len(plain), plain[:min(8, len(plain))])
	}
	resp := get("gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "application/wasm" {
		t.Fatalf("gzip: headers %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Fatal("the gzipped and the plain scrubber differ")
	}
}
