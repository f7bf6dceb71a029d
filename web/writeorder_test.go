package web_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/ui"
	"github.com/pista-tips/pista/web"
)

// crashingTips fails where a crash between writing the objects and the
// rows would strike.
type crashingTips struct{ pista.TipStore }

var errCrash = errors.New("the process died here")

func (crashingTips) CreateTip(context.Context, *pista.NewTip) error { return errCrash }

// The write order: objects first, then rows. A failure between the two
// leaves no row (the rows come last, in one transaction) and the handler
// deletes the objects; a crash that kills the process before it can
// delete them leaves objects no row names, which the next start removes.
func TestWriteOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := server.OpenStores(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	in := &pistatest.Instance{T: t, Srv: &server.Server{Stores: st}, Data: dir}
	alice := in.Journalist("alice")
	in.Desk("americas", alice)

	render, err := ui.NewRenderer(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	salt, _ := st.CodenameSalt(ctx)
	sessions, err := web.NewSessions(server.SourceSessionKeys(st.Settings), st.Tips, false)
	if err != nil {
		t.Fatal(err)
	}
	h := &web.Handler{
		Desks: st.Desks, Tips: crashingTips{st.Tips}, Settings: st.Settings, Blobs: st.Blobs,
		Sessions: sessions, CSRF: httpx.NewCSRF([]byte("test key")), Render: render,
		Log: slog.New(slog.DiscardHandler), Salt: salt, MaxUpload: 1 << 20,
	}
	mux := http.NewServeMux()
	h.Register(mux)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	in.TS = ts

	before := in.Snapshot(alice)
	r := in.Browser().Submit("americas", "a tip", pistatest.Part{Name: "files", Value: "file bytes", Filename: "a.pdf"})
	if r.Status != http.StatusInternalServerError || !strings.Contains(r.Text(), pistatest.En("error.internal")) {
		t.Fatalf("a failure between objects and rows: %d\n%s", r.Status, r.Body)
	}
	in.CheckUnchanged(t, before, alice)

	// A crash after the objects and before the rows, with no chance to
	// clean up: the objects stay, unreferenced, until the next start.
	key, _, err := st.Blobs.Put(ctx, strings.NewReader("age-encryption.org/v1\n..."))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tmp", "put-12345"), []byte("half an object"), 0o600)
	st.Close()
	srv, err := server.New(ctx, server.Config{Data: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	<-srv.Swept()
	if keys, _ := srv.Stores.Blobs.Keys(ctx); len(keys) != len(before.Objects) {
		t.Fatalf("after a restart %d objects remain, want %d (the orphan %s removed)", len(keys), len(before.Objects), key)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Fatalf("temporary files left after a restart: %v", left)
	}
}
