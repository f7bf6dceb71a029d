package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runPistaCode runs a command line and returns its exit code, standard
// output and standard error.
func runPistaCode(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), env{strings.NewReader(""), &out, &errb}, args)
	return code, out.String(), errb.String()
}

// TestPullMissingObjectCLI deletes one object file under a running
// server's data folder: pista pull brings the other tips, names the
// missing item and fails, and the next pull does not stop there either.
func TestPullMissingObjectCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	alice := addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	base, _ := startServer(t, data)
	msg := writeFile(t, filepath.Join(dir, "tip.txt"), []byte("a tip"))
	for range 3 {
		runPistaIn(t, "", "submit", "--server", base, "--desk", "americas", "--message-file", msg)
	}
	var objects []string
	filepath.WalkDir(filepath.Join(data, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			objects = append(objects, p)
		}
		return nil
	})
	if len(objects) != 3 {
		t.Fatalf("%d objects, want 3", len(objects))
	}
	if err := os.Remove(objects[1]); err != nil {
		t.Fatal(err)
	}

	pulledDir := filepath.Join(dir, "pulled")
	pull := func(extra ...string) (int, string, string) {
		return runPistaCode(append([]string{"pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir}, extra...)...)
	}
	code, out, errs := pull()
	if code != 1 || !strings.Contains(out, "pulled 2 items") || !strings.Contains(errs, "is missing on the server") || !strings.Contains(errs, "restore") {
		t.Fatalf("first pull: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = pull()
	if code != 1 || !strings.Contains(out, "pulled 0 items") || !strings.Contains(errs, "1 items are missing") {
		t.Fatalf("second pull: exit %d\n%s%s", code, out, errs)
	}
	opened := filepath.Join(dir, "opened")
	if out := runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", opened); !strings.Contains(out, "opened 2 items") {
		t.Fatalf("open: %s", out)
	}
}

// TestPullMaxTotal: --max-total is read, documented, and stops a pull
// that would pass it with a message that says so.
func TestPullMaxTotal(t *testing.T) {
	code, _, errs := runPistaCode("pull", "--help")
	if code != 0 || !strings.Contains(errs, "--max-total 20GiB") || !strings.Contains(errs, "default 8GiB") {
		t.Errorf("pull --help does not document --max-total with an example:\n%s", errs)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	alice := addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	base, _ := startServer(t, data)
	args := func(total string) []string {
		return []string{"pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", filepath.Join(dir, "pulled"), "--max-total", total}
	}
	if code, _, errs := runPistaCode(args("lots")...); code == 0 || !strings.Contains(errs, "--max-total") || !strings.Contains(errs, "hint:") {
		t.Errorf("--max-total lots: exit %d\n%s", code, errs)
	}
	code, _, errs = runPistaCode(args("2KiB")...)
	if code != 1 || !strings.Contains(errs, "--max-total 2 KiB") || !strings.Contains(errs, "run pull again") {
		t.Errorf("a pull past --max-total: exit %d\n%s", code, errs)
	}
}
