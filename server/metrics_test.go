package server_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/metrics"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/upload"
)

// With metrics on, every journey works as without (the observing writer
// passes flushes and deadlines on), the newsroom's routes are observed
// live by pattern, and nothing a source did shows before the hour ends:
// no route, ID or count of theirs.
func TestJourneyWithMetrics(t *testing.T) {
	m := metrics.New()
	in := pistatest.New(t, server.Config{Metrics: m})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	ctx := context.Background()

	src := in.Browser()
	r := src.Submit("americas", "a tip", pistatest.Part{Name: "files", Value: "a file", Filename: "a.pdf"})
	if r.Status != http.StatusOK {
		t.Fatalf("submit: %d", r.Status)
	}
	codename := r.Codename(t)
	home := in.Browser()
	if r := home.Post("/login", map[string][]string{"csrf": {home.Get("/").CSRF(t)}, "codename": {codename}}); r.Status >= 400 {
		t.Fatalf("source login: %d", r.Status)
	}

	req, _ := http.NewRequest(http.MethodPost, in.TS.URL+upload.BasePath, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "5000")
	req.Header.Set(pow.Header, pistatest.Prove(t, in.TS.URL))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %v %v", resp, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	req, _ = http.NewRequest(http.MethodPatch, in.TS.URL+upload.BasePath+loc[strings.LastIndex(loc, "/")+1:], bytes.NewReader(make([]byte, 5000)))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload patch: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	b := in.Browser()
	b.LoginJournalist(alice)
	convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, alice.ID, pista.Page{})
	if err != nil || len(convs) != 1 {
		t.Fatalf("inbox: %v, %v", convs, err)
	}
	conv := "/newsroom/c/" + convs[0].ID
	if r := b.Get(conv); r.Status != http.StatusOK {
		t.Fatalf("conversation: %d", r.Status)
	}
	items, _ := in.Srv.Stores.Tips.ItemsOfConversation(ctx, convs[0].ID)
	for _, it := range items {
		if r := b.Get(conv + "/items/" + strconv.FormatInt(it.ID, 10)); r.Status != http.StatusOK {
			t.Fatalf("download: %d", r.Status)
		}
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`route="GET /newsroom/c/{id}"`, `route="GET /newsroom/c/{id}/items/{item}"`, `route="POST /newsroom/login"`,
		`pista_source_request_duration_seconds_count{code="2xx"} 0`,
		`pista_key_stretch_duration_seconds_count 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the metrics lack %s", want)
		}
	}
	for _, never := range []string{convs[0].ID, "/submit", `"POST /login"`, "/uploads", "/source", codename} {
		if strings.Contains(out, never) {
			t.Errorf("the metrics name %q", never)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}
