package pulled

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// objectFile finds the file of an object in a server's data folder.
func objectFile(t *testing.T, data, key string) string {
	t.Helper()
	var found string
	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == key {
			found = p
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no file for object %s under %s", key, data)
	}
	return found
}

// TestPullMissingObject deletes one object file under a real server's
// data folder: the pull brings the other items, reports the missing one
// and goes on; the next pull does not stop there either, and once the
// object is back (a restore), a pull brings it.
func TestPullMissingObject(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	desk := in.Desk("americas", alice)
	var tips []string
	for range 3 {
		tips = append(tips, in.StoreTip(desk).Items[0].Object)
	}
	lost := objectFile(t, in.Data, tips[1])
	saved, err := os.ReadFile(lost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(lost); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	dir := t.TempDir()
	c, err := NewClient(in.TS.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, alice.Name, alice.Password, alice.Code(t)); err != nil {
		t.Fatalf("login: %v", err)
	}
	defer c.Logout(ctx)
	pull := func() Report {
		t.Helper()
		rep, err := c.Pull(ctx, dir, alice.Name, PullOptions{})
		if err != nil {
			t.Fatalf("pull stopped: %v", err)
		}
		return rep
	}

	rep := pull()
	if rep.Items != 2 || len(rep.Missing) != 1 {
		t.Fatalf("first pull: %d items, missing %+v; want 2 items and 1 missing", rep.Items, rep.Missing)
	}
	if got := pulledItems(t, dir); len(got) != 2 {
		t.Fatalf("pulled files %v, want the 2 items whose objects are there", got)
	}
	if log := in.Log.String(); !strings.Contains(log, "object is missing") || strings.Contains(log, "a tip") {
		t.Errorf("server log does not say the object is missing, or holds the message:\n%s", log)
	}

	// The next pull does not stop at it either, and still reports it.
	in.StoreTip(desk)
	rep = pull()
	if rep.Items != 1 || len(rep.Missing) != 1 {
		t.Fatalf("second pull: %d items, missing %+v; want the new item and still 1 missing", rep.Items, rep.Missing)
	}

	// Restored from a backup: the next pull brings it.
	if err := os.WriteFile(lost, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	rep = pull()
	if rep.Items != 1 || len(rep.Missing) != 0 {
		t.Fatalf("pull after the restore: %d items, missing %+v; want the restored item", rep.Items, rep.Missing)
	}
	if got := pulledItems(t, dir); len(got) != 4 {
		t.Fatalf("pulled files %v, want all 4 items", got)
	}
}

// pulledItems lists the item files of a pulled folder, and fails on any
// temporary file left behind.
func pulledItems(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if strings.Contains(d.Name(), ".part") {
			t.Errorf("a temporary file was left: %s", p)
		}
		if _, _, _, ok := parseItemFile(d.Name()); ok {
			names = append(names, d.Name())
		}
		return nil
	})
	slices.Sort(names)
	return names
}

// TestPullMissingKeepsOrder: item IDs carry no order, so items.jsonl's
// lines are a conversation's order. An item whose object is lost gets its
// line when it is listed, so once restored and pulled it is opened in its
// place, not after the items listed after it; the line written again when
// it arrives does not move it (the first one counts).
func TestPullMissingKeepsOrder(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	desk := in.Desk("americas", alice)
	ctx := context.Background()
	rs, err := keys.ParseRecipients(desk.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	b := intake.NewBatch(in.Srv.Stores.Blobs, rs, -1)
	for _, text := range []string{"first", "second", "third"} {
		if err := b.AddText(ctx, pista.KindMessage, text); err != nil {
			t.Fatal(err)
		}
	}
	src, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	tip := &pista.NewTip{
		Source:       pista.Source{Lookup: bytes.Repeat([]byte{7}, 32), Recipient: src.Recipient().String()},
		Conversation: pista.Conversation{ID: pista.NewConversationID(), DeskID: desk.ID},
		Items:        b.Items(),
	}
	if err := in.Srv.Stores.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	lost := objectFile(t, in.Data, tip.Items[1].Object)
	saved, err := os.ReadFile(lost)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.Remove(lost))

	dir := t.TempDir()
	c, err := NewClient(in.TS.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, alice.Name, alice.Password, alice.Code(t)); err != nil {
		t.Fatalf("login: %v", err)
	}
	defer c.Logout(ctx)
	rep, err := c.Pull(ctx, dir, alice.Name, PullOptions{})
	if err != nil || rep.Items != 2 || len(rep.Missing) != 1 {
		t.Fatalf("first pull: %+v, %v; want 2 items and 1 missing", rep, err)
	}
	missing := rep.Missing[0].ID
	must(t, os.WriteFile(lost, saved, 0o600))
	if rep, err = c.Pull(ctx, dir, alice.Name, PullOptions{}); err != nil || rep.Items != 1 {
		t.Fatalf("pull after the restore: %+v, %v; want the restored item", rep, err)
	}

	d, err := openDir(filepath.Join(dir, tip.Conversation.ID), false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	order, _ := pullOrder(d, &OpenReport{})
	if len(order) != 3 || order[missing] != 1 {
		t.Errorf("items.jsonl's order %v: want 3 items, the restored one (%d) second", order, missing)
	}

	// Open writes the messages in that order.
	out := filepath.Join(t.TempDir(), "opened")
	if _, err := Open([]age.Identity{alice.Identity}, dir, out, Options{}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"first", "second", "third"} {
		got, err := os.ReadFile(filepath.Join(out, tip.Conversation.ID, fmt.Sprintf("message-%d.txt", i+1)))
		if err != nil || string(got) != want {
			t.Errorf("message-%d.txt = %q, %v; want %q", i+1, got, err, want)
		}
	}
}
