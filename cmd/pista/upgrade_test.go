package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/pista-tips/pista"
)

// upgradeFixture is a data folder the release of 1a78f65 (the last one
// before the schema changes of issues 13 and 14) made with its own
// commands: alice's account and key, the Americas desk, and a tip sent
// with `pista submit` (a message, a 300,000-byte file and a contact),
// whose codename is kept beside.
const upgradeFixture = "testdata/upgrade-1a78f65"

// copyFixture copies the fixture's data folder into a new temporary
// folder and returns it.
func copyFixture(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	src := filepath.Join(upgradeFixture, "data")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func fixtureJournalist(t *testing.T) journalist {
	t.Helper()
	uri, err := os.ReadFile(filepath.Join(upgradeFixture, "alice.otpauth"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(uri), "\n")
	u, err := url.Parse(first)
	if err != nil || u.Query().Get("secret") == "" {
		t.Fatalf("the fixture's otpauth URI %q", first)
	}
	// pista pull keeps a device token beside the password file and
	// renews it: copies, so that the committed fixture stays as it is.
	dir := t.TempDir()
	for _, name := range []string{"alice.pass", "alice.pass.device"} {
		b, err := os.ReadFile(filepath.Join(upgradeFixture, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return journalist{name: "alice", keyFile: filepath.Join(upgradeFixture, "alice.key"), pwFile: filepath.Join(dir, "alice.pass"),
		secret: u.Query().Get("secret"), lastStep: new(int64)}
}

// A data folder made by the previous release opens with this one, its
// schema migrated at start: the journalist pulls and opens the tip sent
// before the upgrade, the source logs in with the codename given then,
// and new tips are taken.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	data := copyFixture(t)
	alice := fixtureJournalist(t)
	base, _ := startServer(t, data)

	dir := t.TempDir()
	pulled, opened := filepath.Join(dir, "pulled"), filepath.Join(dir, "opened")
	out := runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulled)
	if !strings.Contains(out, "pulled 3 items") {
		t.Fatalf("pull after the upgrade: %q, want the 3 items of the tip sent before it", out)
	}
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulled, "--out", opened)
	conv := onlyConversation(t, opened)
	msg, _ := os.ReadFile(filepath.Join(conv, "message-1.txt"))
	if !strings.HasPrefix(string(msg), "UPGRADE-FIXTURE-MESSAGE\n") {
		t.Errorf("the message sent before the upgrade reads %q", msg)
	}
	want, _ := os.ReadFile(filepath.Join(upgradeFixture, "ledger.bin"))
	if got, err := os.ReadFile(filepath.Join(conv, "ledger.bin")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the file sent before the upgrade: %d bytes (%v), want the %d sent", len(got), err, len(want))
	}
	if got, _ := os.ReadFile(filepath.Join(conv, "contact.txt")); string(got) != "fixture contact" {
		t.Errorf("the contact sent before the upgrade reads %q", got)
	}

	codename, err := os.ReadFile(filepath.Join(upgradeFixture, "codename.txt"))
	if err != nil {
		t.Fatal(err)
	}
	src := newBrowser(t, base)
	status, page := src.postForm("/login", url.Values{"csrf": {src.csrf("/")}, "codename": {strings.TrimSpace(string(codename))}})
	if status != http.StatusOK || !strings.Contains(page, "No reply yet") {
		t.Fatalf("the source's codename from before the upgrade: %d\n%s", status, page)
	}
	fresh := newBrowser(t, base)
	status, page = fresh.postMultipart("/submit", [][2]string{{"csrf", fresh.csrf("/")}, {"desk", "americas"}, {"message", "after the upgrade"}}, nil)
	if status != http.StatusOK || !codenameRE.MatchString(page) {
		t.Fatalf("a new tip after the upgrade: %d\n%s", status, page)
	}
}

// A data folder a newer pista migrated is refused with a message that
// says what to do, and nothing in it changes.
func TestNewerDataFolderIsRefused(t *testing.T) {
	data := copyFixture(t)
	db, err := sql.Open("sqlite", filepath.Join(data, "pista.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := folderSums(t, data)

	var errb bytes.Buffer
	f := serveFlags{data: data, listen: "127.0.0.1:0", newsroom: "x", maxUpload: "64MiB", scrubMemory: "32MiB", smtpMaxSize: "32MiB"}
	err = serve(context.Background(), env{nil, io.Discard, &errb}, f, func(string) { t.Error("a server started on a newer data folder") })
	var newer *pista.NewerSchemaError
	if !errors.As(err, &newer) || newer.Have != 9999 {
		t.Fatalf("serve on a newer data folder: %v", err)
	}
	if !strings.Contains(err.Error(), "newer pista") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("the refusal does not say what happened: %v", err)
	}
	after := folderSums(t, data)
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("%s changed", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok && name != "pista.lock" {
			t.Errorf("%s appeared", name)
		}
	}
}

// folderSums is the SHA-256 of every file under dir, by relative name.
func folderSums(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		sums[rel] = sha256.Sum256(b)
		return nil
	})
	return sums
}
