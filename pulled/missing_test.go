package pulled

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
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
