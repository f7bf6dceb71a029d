package server_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/postgres"
	"github.com/pista-tips/pista/server"
)

// TestPostgres runs a server on PostgreSQL (Config.Database) with its
// objects in a data folder: a source submits a tip through the web form,
// the desk reads it back through the stores and a second connection to
// the database, and the start-up sweep keeps the tip's objects and
// removes an orphan.
func TestPostgres(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	data := t.TempDir()
	in := pistatest.New(t, server.Config{Data: data, Database: url})
	j := in.Journalist("ana")
	desk, deskID := in.DeskWithIdentity("americas", j)

	const message = "the board knew in March"
	r := in.Browser().Submit("americas", message, pistatest.Part{Name: "files", Filename: "minutes.pdf", Value: "%PDF-1.7 minutes"})
	if r.Status != http.StatusOK {
		t.Fatalf("submission: status %d\n%.2000s", r.Status, r.Body)
	}
	r.Codename(t)

	// The rows are in PostgreSQL: another connection sees them.
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	convs, err := postgres.NewTipStore(db).ConversationsFor(ctx, j.ID, pista.Page{})
	if err != nil || len(convs) != 1 || convs[0].DeskID != desk.ID || !convs[0].Unread {
		t.Fatalf("ConversationsFor through another connection = %+v, %v; want one unread conversation of %s", convs, err, desk.Slug)
	}
	if _, err := os.Stat(filepath.Join(data, server.DBFile)); !os.IsNotExist(err) {
		t.Errorf("a %s was made in the data folder beside PostgreSQL: %v", server.DBFile, err)
	}

	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, convs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []pista.ItemKind
	var kept []string
	for _, it := range items {
		kinds = append(kinds, it.Kind)
		kept = append(kept, it.Object)
		if it.Meta != "" {
			kept = append(kept, it.Meta)
		}
	}
	if want := []pista.ItemKind{pista.KindMessage, pista.KindFile}; !slices.Equal(kinds, want) {
		t.Fatalf("items %v, want %v", kinds, want)
	}
	obj, err := in.Srv.Stores.Blobs.Open(ctx, items[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := age.Decrypt(obj, deskID)
	if err != nil {
		t.Fatalf("the desk key does not open the message: %v", err)
	}
	b, _ := io.ReadAll(plain)
	obj.Close()
	if !strings.Contains(string(b), message) {
		t.Errorf("the message decrypts to %.100q, which lacks %q", b, message)
	}

	// A restart on the same database and folder: the sweep removes an
	// orphan and nothing of the tip.
	orphan, _, err := in.Srv.Stores.Blobs.Put(ctx, strings.NewReader("age-encryption.org/v1 left by a crash"))
	if err != nil {
		t.Fatal(err)
	}
	in.TS.Close()
	in.Srv.Close()
	again := pistatest.New(t, server.Config{Data: data, Database: url})
	exists := func(key string) bool {
		obj, err := again.Srv.Stores.Blobs.Open(ctx, key)
		if err == nil {
			obj.Close()
		}
		return err == nil
	}
	if exists(orphan) {
		t.Error("the orphan object survived the restart")
	}
	for _, k := range kept {
		if !exists(k) {
			t.Errorf("object %s of the tip was removed at start-up", k)
		}
	}
	if c, err := again.Srv.Stores.Tips.ConversationFor(ctx, j.ID, convs[0].ID); err != nil || c.Items != 2 {
		t.Errorf("after the restart: ConversationFor = %+v, %v", c, err)
	}
}

// TestPostgresFolderMismatch refuses a data folder with the other
// backend's rows: its objects would all be orphans to sweep.
func TestPostgresFolderMismatch(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)

	lite := t.TempDir()
	st, err := server.OpenStores(ctx, lite)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := server.New(ctx, server.Config{Data: lite, Database: url}); err == nil || !strings.Contains(err.Error(), server.DBFile) {
		t.Errorf("PostgreSQL on a SQLite folder: %v, want a refusal naming %s", err, server.DBFile)
	}

	// A folder of PostgreSQL: admin commands (--data only) reach its
	// database through the mark; another database is refused.
	pg := t.TempDir()
	st, err = server.OpenStoresOn(ctx, pg, server.Database{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := st.Settings.Secret(ctx, "x", 16)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = server.OpenStores(ctx, pg)
	if err != nil {
		t.Fatalf("OpenStores on a folder of PostgreSQL: %v", err)
	}
	if again, err := st.Settings.Secret(ctx, "x", 16); err != nil || string(again) != string(secret) {
		t.Errorf("OpenStores on a folder of PostgreSQL does not reach its database: %x, %v", again, err)
	}
	st.Close()
	if _, err := os.Stat(filepath.Join(pg, server.DBFile)); !os.IsNotExist(err) {
		t.Errorf("OpenStores on a folder of PostgreSQL made %s: %v", server.DBFile, err)
	}
	other := pgtest.URL(t)
	if _, err := server.New(ctx, server.Config{Data: pg, Database: other}); err == nil || !strings.Contains(err.Error(), server.PostgresMark) {
		t.Errorf("another database on the folder: %v, want a refusal naming %s", err, server.PostgresMark)
	}

	if _, err := server.New(ctx, server.Config{Data: t.TempDir(), Database: "postgres://pista:hunter2@127.0.0.1/x"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a URL with a password: %v, want a refusal that does not repeat it", err)
	}
}
