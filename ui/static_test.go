package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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

// TestStaticUpToDate checks that each file the binary sends is the one
// beside it in ui/static: the embedded .gz files are made by
// gzip_static.go, and a style sheet edited or a script rebuilt without
// running it again (go generate ./ui) would otherwise ship the old one.
func TestStaticUpToDate(t *testing.T) {
	plain, err := os.ReadDir("static")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range plain {
		if strings.HasSuffix(e.Name(), ".gz") {
			continue
		}
		n++
		want, err := os.ReadFile(filepath.Join("static", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		f, err := staticFS.Open("static/" + e.Name() + ".gz")
		if err != nil {
			t.Errorf("%s has no embedded .gz: run go generate ./ui", e.Name())
			continue
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s.gz: %v", e.Name(), err)
		}
		got, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatalf("%s.gz: %v", e.Name(), err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s.gz is not %s: run go generate ./ui and commit", e.Name(), e.Name())
		}
	}
	if n < 4 {
		t.Fatalf("only %d plain files in ui/static", n)
	}
}

// TestStaticTypes checks the types and the answers to names that are not
// files the server sends.
func TestStaticTypes(t *testing.T) {
	h := Static()
	get := func(path string) *http.Response {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Result()
	}
	if resp := get("/static/style.css"); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("style.css: %d %v", resp.StatusCode, resp.Header)
	}
	for _, p := range []string{"/static/pista.js.gz", "/static/nothing.js", "/static/", "/static/a/pista.js"} {
		if resp := get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s answered %d, want 404", p, resp.StatusCode)
		}
	}
}
