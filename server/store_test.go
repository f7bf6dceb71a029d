package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// writesInFlight plants what a running server has on disk in the middle
// of uploads: a temporary file being written, and an object written whose
// row is not committed yet. Both look like a crash's leftovers to a sweep.
func writesInFlight(t *testing.T, data string) (tmp, object string) {
	t.Helper()
	tmp = filepath.Join(data, "tmp", "put-inflight")
	if err := os.WriteFile(tmp, []byte("age ciphertext on its way"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("ab", 16)
	object = filepath.Join(data, "objects", "ab", key)
	os.MkdirAll(filepath.Dir(object), 0o700)
	if err := os.WriteFile(object, []byte("age ciphertext, row on its way"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tmp, object
}

// A second server on a running server's data folder refuses to start,
// says why, and deletes nothing: no temporary file, no object, and no
// object of an acknowledged tip.
func TestSecondServerRefuses(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	d := in.Desk("americas", alice)
	for range 3 {
		in.StoreTip(d)
	}
	before := in.Snapshot(alice)
	tmp, object := writesInFlight(t, in.Data)

	second, err := server.New(context.Background(), server.Config{Data: in.Data})
	if err == nil {
		second.Close()
		t.Fatal("a second server started on a running server's data folder")
	}
	if !errors.Is(err, server.ErrInUse) || !strings.Contains(err.Error(), "in use by another pista server") {
		t.Errorf("second server: %v, want ErrInUse", err)
	}
	for _, f := range []string{tmp, object} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the second server removed %s: %v", filepath.Base(f), err)
		}
	}
	os.Remove(tmp)
	os.Remove(object)
	if after := in.Snapshot(alice); after.LastItem != before.LastItem || len(after.Objects) != len(before.Objects) {
		t.Errorf("objects of acknowledged tips lost: %d before, %d after", len(before.Objects), len(after.Objects))
	}

	// Once the first server is gone, the folder is free again, and the
	// server that holds it sweeps.
	in.Srv.Close()
	tmp, object = writesInFlight(t, in.Data)
	third, err := server.New(context.Background(), server.Config{Data: in.Data})
	if err != nil {
		t.Fatalf("a server after the first stopped: %v", err)
	}
	defer third.Close()
	<-third.Swept() // the sweep of what a crash left runs in the background
	for _, f := range []string{tmp, object} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the server holding the folder left %s: %v", filepath.Base(f), err)
		}
	}
}

// An admin command (they all open the stores with server.OpenStores)
// beside a running server leaves its uploads in flight alone: a source in
// the middle of sending a file still gets it stored.
func TestAdminCommandDuringUpload(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	d := in.Desk("americas", alice)
	before := in.Snapshot(alice)

	b := in.Browser()
	form := b.Get("/")
	body, ctype := pistatest.MultipartBody(t, []pistatest.Part{
		{Name: "csrf", Value: form.CSRF(t)}, {Name: "desk", Value: d.Slug}, {Name: "message", Value: "a tip"},
		{Name: "files", Value: strings.Repeat("x", 3<<20), Filename: "big.pdf"},
	})
	whole, _ := io.ReadAll(body)
	pr, pw := io.Pipe()
	done := make(chan *pistatest.Response)
	go func() { done <- b.Do(b.Request(http.MethodPost, "/submit", pr, ctype)) }()
	// Send half, and wait until the server is writing the file in tmp/.
	if _, err := pw.Write(whole[:len(whole)/2]); err != nil {
		t.Fatal(err)
	}
	for len(in.TempFiles()) == 0 {
		pw.Write(nil)
	}

	// The admin command: `pista desk text` and its like.
	st, err := server.OpenStores(context.Background(), in.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Desks.SetDeskText(context.Background(), d.ID, pista.DeskText{Lang: "es", Title: "Américas"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if len(in.TempFiles()) == 0 {
		t.Error("the admin command emptied tmp/ under a running server")
	}

	pw.Write(whole[len(whole)/2:])
	pw.Close()
	r := <-done
	if r.Status != http.StatusOK {
		t.Fatalf("the upload in flight during an admin command: %d\n%s", r.Status, r.Text())
	}
	if after := in.Snapshot(alice); after.LastItem == before.LastItem {
		t.Error("the upload was not stored")
	}
}

// A file error on the server's side (here tmp/ on a read-only disk: EROFS)
// is the server's fault: 500, logged without the source's data, not a 400
// "the form could not be read" with nothing in the log.
func TestServerFileFault(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	pistatest.ReadOnlyDisk(t, filepath.Join(in.Data, "tmp"))
	r := in.Browser().Submit("americas", "the secret message", pistatest.Part{Name: "files", Value: "data", Filename: "secret-name.pdf"})
	if r.Status != http.StatusInternalServerError || !strings.Contains(r.Text(), pistatest.En("error.internal")) {
		t.Errorf("a server file error: %d, want 500\n%s", r.Status, r.Text())
	}
	log := in.Log.String()
	if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "read-only file system") {
		t.Errorf("the server's fault was not logged:\n%s", log)
	}
	for _, secret := range []string{"the secret message", "secret-name"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds the source's %q", secret)
		}
	}
}

// With the disk completely full (not one block free, no floor), the
// newsroom still reads: the inbox, a conversation and its downloads. A
// source's tip is refused with 507 and a log line that says the disk is
// full, not that the floor was reached.
func TestFullDiskReads(t *testing.T) {
	disk := pistatest.SmallDisk(t, 32<<20)
	in := pistatest.New(t, server.Config{Data: filepath.Join(disk, "data"), MinFreeDisk: -1})
	alice := in.Journalist("alice")
	d := in.Desk("americas", alice)
	tip := in.StoreTip(d)
	b := in.Browser()
	b.LoginJournalist(alice)
	pistatest.FillDisk(t, disk)

	conv := "/newsroom/c/" + tip.Conversation.ID
	for _, path := range []string{"/newsroom/", conv, conv + "/items/" + strconv.FormatInt(tip.Items[0].ID, 10)} {
		if r := b.Get(path); r.Status != http.StatusOK {
			t.Errorf("GET %s on a full disk: %d\n%s", path, r.Status, r.Text())
		}
	}
	r := in.Browser().Submit("americas", "a tip")
	if r.Status != http.StatusInsufficientStorage || !strings.Contains(r.Text(), pistatest.En("error.full")) {
		t.Errorf("a tip on a full disk: %d, want 507\n%s", r.Status, r.Text())
	}
	log := in.Log.String()
	if !strings.Contains(log, "the disk is full") || strings.Contains(log, "floor") {
		t.Errorf("the log does not say the disk is full:\n%s", log)
	}
}

// A database that cannot grow at commit (its disk full, the objects on
// another disk with room) answers 507, "no room", not 500; the log says
// the disk is full.
func TestFullDatabase(t *testing.T) {
	// The database on a small disk of its own (SQLite follows the link
	// and keeps its journal next to the file), the rest on a large one.
	small, data := pistatest.SmallDisk(t, 8<<20), t.TempDir()
	if err := os.Symlink(filepath.Join(small, server.DBFile), filepath.Join(data, server.DBFile)); err != nil {
		t.Fatal(err)
	}
	in := pistatest.New(t, server.Config{Data: data, MinFreeDisk: -1})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	if _, err := os.Stat(filepath.Join(small, server.DBFile+"-wal")); err != nil {
		t.Fatalf("the database's journal is not on the small disk: %v", err)
	}
	pistatest.FillDisk(t, small)
	// SQLite reuses the WAL's blocks after a checkpoint: a few tips may
	// still fit. The first refused must be a 507.
	for i := 0; ; i++ {
		r := in.Browser().Submit("americas", "a tip "+strings.Repeat("x", 4000))
		if r.Status == http.StatusOK {
			if i == 200 {
				t.Fatal("200 tips stored on a full disk")
			}
			continue
		}
		if r.Status != http.StatusInsufficientStorage || !strings.Contains(r.Text(), pistatest.En("error.full")) {
			t.Fatalf("a tip the database has no room for: %d, want 507\n%s", r.Status, in.Log.String())
		}
		break
	}
	log := in.Log.String()
	if !strings.Contains(log, "the database could not grow") || strings.Contains(log, "floor") {
		t.Errorf("the log does not say the disk is full:\n%s", log)
	}
}
