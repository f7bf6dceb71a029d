package upload_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pista-tips/pista/upload"
)

// newStore opens a store in a temporary folder and serves it on
// 127.0.0.1:0 as the server mounts it.
func newStore(t *testing.T, dir string, cfg upload.Config) (*upload.Store, string) {
	t.Helper()
	s, err := upload.Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if err := s.Register(mux); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func request(t *testing.T, method, url string, body []byte, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// create makes an upload of n bytes and sends sent of them.
func create(t *testing.T, base string, n, sent int) string {
	t.Helper()
	resp := request(t, http.MethodPost, base+upload.BasePath, nil, "Upload-Length", strconv.Itoa(n))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]
	if sent > 0 {
		resp = request(t, http.MethodPatch, base+upload.BasePath+id, make([]byte, sent),
			"Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH: %d", resp.StatusCode)
		}
	}
	return id
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func age(t *testing.T, path string, d time.Duration) {
	t.Helper()
	when := time.Now().Add(-d)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

// Uploads older than a day go, finished or not; younger ones stay, and so
// does anything an upload in its first day is made of.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, base := newStore(t, dir, upload.Config{MaxSize: 1 << 20})
	oldDone := create(t, base, 100, 100)
	oldHalf := create(t, base, 100, 50)
	fresh := create(t, base, 100, 10)
	for _, id := range []string{oldDone, oldHalf} {
		age(t, filepath.Join(dir, id+".info"), 25*time.Hour)
	}
	// Half made (a crash between an upload's two files), old and new.
	strayOld := "0123456789abcdef0123456789abcdef"
	strayNew := "fedcba9876543210fedcba9876543210"
	for _, n := range []string{strayOld, strayNew} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	age(t, filepath.Join(dir, strayOld), 25*time.Hour)

	n, err := s.Sweep(ctx, time.Now())
	if err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want 2 uploads removed", n, err)
	}
	want := []string{fresh, fresh + ".info", strayNew}
	slices.Sort(want)
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Errorf("after the sweep uploads/ holds %v, want %v", got, want)
	}
	for _, id := range []string{oldDone, oldHalf} {
		if resp := request(t, http.MethodHead, base+upload.BasePath+id, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD of an expired upload: %d, want 404", resp.StatusCode)
		}
		if _, err := s.Claim(ctx, id); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("Claim of an expired upload: %v, want ErrNotFound", err)
		}
	}
	if resp := request(t, http.MethodHead, base+upload.BasePath+fresh, nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Upload-Offset") != "10" {
		t.Errorf("HEAD of a fresh upload: %d, offset %q", resp.StatusCode, resp.Header.Get("Upload-Offset"))
	}

	// At start, what a crash left half made goes whatever its age;
	// uploads in their first day stay.
	if _, err := upload.Open(dir, upload.Config{MaxSize: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{fresh, fresh + ".info"}) {
		t.Errorf("after a restart uploads/ holds %v", got)
	}
}

// A claim takes complete uploads only, and holds them against every
// other request until it is released or deletes them.
func TestClaim(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, base := newStore(t, dir, upload.Config{MaxSize: 1 << 20})
	done := create(t, base, 100, 100)
	half := create(t, base, 100, 50)

	if _, err := s.Claim(ctx, half); !errors.Is(err, upload.ErrIncomplete) {
		t.Errorf("Claim of a half upload: %v, want ErrIncomplete", err)
	}
	for _, id := range []string{"", "../x", strings.ToUpper(done), done + "/"} {
		if _, err := s.Claim(ctx, id); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("Claim(%q): %v, want ErrNotFound", id, err)
		}
	}
	c, err := s.Claim(ctx, done)
	if err != nil {
		t.Fatal(err)
	}
	if c.Size() != 100 {
		t.Errorf("Size = %d", c.Size())
	}
	r, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if len(b) != 100 {
		t.Errorf("Open read %d bytes, want 100", len(b))
	}
	c.Release()
	c, err = s.Claim(ctx, done)
	if err != nil {
		t.Fatalf("Claim after Release: %v", err)
	}
	if err := c.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, done); !errors.Is(err, upload.ErrNotFound) {
		t.Errorf("Claim after Delete: %v, want ErrNotFound", err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{half, half + ".info"}) {
		t.Errorf("uploads/ holds %v", got)
	}

	// An upload longer than the store takes now (its limit was lowered
	// after it was made) is refused.
	s2, err := upload.Open(dir, upload.Config{MaxSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	whole := create(t, base, 20, 20)
	if _, err := s2.Claim(ctx, whole); !errors.Is(err, upload.ErrTooLarge) {
		t.Errorf("Claim of an upload over the limit: %v, want ErrTooLarge", err)
	}
}

func TestCiphertextSize(t *testing.T) {
	for _, tt := range []struct{ n, want int64 }{
		{0, 100 + 16 + 16},
		{1, 100 + 16 + 1 + 16},
		{64 << 10, 100 + 16 + 64<<10 + 16},
		{64<<10 + 1, 100 + 16 + 64<<10 + 1 + 32},
	} {
		if got := upload.CiphertextSize(tt.n, 100); got != tt.want {
			t.Errorf("CiphertextSize(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

// Places held by empty uploads go back: an upload that has received no
// byte for EmptyExpiry since the sweep first saw it empty is removed,
// while one that has received data stays for the day.
func TestEmptyUploadsGoBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, base := newStore(t, dir, upload.Config{MaxSize: 1 << 20, MaxPending: 2})
	empty := create(t, base, 100, 0)
	started := create(t, base, 100, 1)
	if r := request(t, http.MethodPost, base+upload.BasePath, nil, "Upload-Length", "10"); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("past the cap: %d, want 503", r.StatusCode)
	}
	now := time.Now()
	for _, at := range []time.Duration{0, upload.DefaultEmptyExpiry - time.Second} {
		if n, err := s.Sweep(ctx, now.Add(at)); err != nil || n != 0 {
			t.Fatalf("sweep at +%v: %d, %v; want nothing removed yet", at, n, err)
		}
	}
	if n, err := s.Sweep(ctx, now.Add(upload.DefaultEmptyExpiry)); err != nil || n != 1 {
		t.Fatalf("sweep after the empty expiry: %d, %v; want the empty upload removed", n, err)
	}
	got := files(t, dir)
	if slices.Contains(got, empty) || !slices.Contains(got, started) {
		t.Fatalf("left %v; want only %s", got, started)
	}
	// Its place is free again.
	create(t, base, 10, 0)
}

// With RequireProof, a new upload needs a proof of work that verify
// accepts; without one it is refused (428) and nothing is made. Writing
// to an upload needs none.
func TestUploadsNeedProof(t *testing.T) {
	dir := t.TempDir()
	s, err := upload.Open(dir, upload.Config{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	s.RequireProof(func(sol string) error {
		if sol != "good" && sol != "also good" || used[sol] {
			return errors.New("no")
		}
		used[sol] = true
		return nil
	})
	mux := http.NewServeMux()
	if err := s.Register(mux); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(mux)
	defer ts.Close()
	for _, proof := range []string{"", "bad"} {
		r := request(t, http.MethodPost, ts.URL+upload.BasePath, nil, "Upload-Length", "10", "Pista-PoW", proof)
		if r.StatusCode != http.StatusPreconditionRequired {
			t.Errorf("proof %q: %d, want 428", proof, r.StatusCode)
		}
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("refused uploads left %v", got)
	}
	r := request(t, http.MethodPost, ts.URL+upload.BasePath, nil, "Upload-Length", "10", "Pista-PoW", "good")
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("with a proof: %d", r.StatusCode)
	}
	loc := r.Header.Get("Location")
	r = request(t, http.MethodPatch, ts.URL+upload.BasePath+loc[strings.LastIndex(loc, "/")+1:], make([]byte, 10),
		"Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH without a proof: %d", r.StatusCode)
	}
	if r := request(t, http.MethodPost, ts.URL+upload.BasePath, nil, "Upload-Length", "10", "Pista-PoW", "good"); r.StatusCode != http.StatusPreconditionRequired {
		t.Errorf("a used proof: %d, want 428", r.StatusCode)
	}
}
