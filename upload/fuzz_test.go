package upload_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista/upload"
)

// FuzzRequests sends fuzzed tus requests (method, path, the headers the
// protocol reads, a body) to the handler as the server mounts it, after a
// real upload was made. Whatever arrives, the server answers without a
// 500 (tusd answers 501 for the extensions it is not given), writes
// nothing outside its folder, keeps only files of its own form in it,
// and never lets an upload grow past its length.
func FuzzRequests(f *testing.F) {
	root := f.TempDir()
	dir := filepath.Join(root, "uploads")
	s, err := upload.Open(dir, upload.Config{MaxSize: 1 << 20, MaxPending: 50})
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	if err := s.Register(mux); err != nil {
		f.Fatal(err)
	}
	// One upload of 10 bytes to aim at.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, upload.BasePath, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "10")
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		f.Fatalf("create: %d", rec.Code)
	}
	loc := rec.Header().Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]
	const idPlaceholder = "UPLOAD-ID"

	f.Add("POST", "", "10", "", "", "", []byte(nil))
	f.Add("POST", "", "-1", "", "", "", []byte(nil))
	f.Add("POST", "", "99999999999999999999", "", "", "", []byte(nil))
	f.Add("POST", "", "", "1", "", "", []byte(nil))
	f.Add("POST", "", "10", "", "partial", "", []byte(nil))
	f.Add("POST", "", "10", "", "final;/uploads/"+idPlaceholder, "", []byte(nil))
	f.Add("POST", "", "5", "", "", "application/offset+octet-stream", []byte("hello"))
	f.Add("HEAD", idPlaceholder, "", "", "", "", []byte(nil))
	f.Add("PATCH", idPlaceholder, "0", "", "", "application/offset+octet-stream", []byte("0123456789abc"))
	f.Add("PATCH", idPlaceholder, "3", "", "", "application/offset+octet-stream", []byte("x"))
	f.Add("PATCH", "../x", "0", "", "", "application/offset+octet-stream", []byte("x"))
	f.Add("DELETE", idPlaceholder+"/..", "", "", "", "", []byte(nil))
	f.Add("GET", idPlaceholder, "", "", "", "", []byte(nil))

	f.Fuzz(func(t *testing.T, method, path, length, deferLength, concat, contentType string, body []byte) {
		path = strings.ReplaceAll(path, idPlaceholder, id)
		concat = strings.ReplaceAll(concat, idPlaceholder, id)
		req, err := http.NewRequest(method, "http://127.0.0.1"+upload.BasePath+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Tus-Resumable", "1.0.0")
		for k, v := range map[string]string{"Upload-Length": length, "Upload-Offset": length, "Upload-Defer-Length": deferLength, "Upload-Concat": concat, "Content-Type": contentType} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code == http.StatusInternalServerError || rec.Code > 599 {
			t.Fatalf("%s %q: %d %s", method, path, rec.Code, rec.Body)
		}
		entries, err := os.ReadDir(root)
		if err != nil || len(entries) != 1 || entries[0].Name() != "uploads" {
			t.Fatalf("the data folder holds more than uploads/: %v %v", entries, err)
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range files {
			name := strings.TrimSuffix(e.Name(), ".info")
			if e.IsDir() || len(name) != 32 || strings.Trim(name, "0123456789abcdef") != "" {
				t.Fatalf("uploads/ holds %q", e.Name())
			}
		}
		if fi, err := os.Stat(filepath.Join(dir, id)); err == nil && fi.Size() > 10 {
			t.Fatalf("the upload of 10 bytes holds %d", fi.Size())
		}
	})
}
