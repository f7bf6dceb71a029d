package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista/blob/blobtest"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/migrate"
	"github.com/pista-tips/pista/server"
)

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/pista":                   "/var/lib/pista",
		"postgres://pista@db/pista":        "postgres://pista@db/pista",
		"s3://tips?endpoint=h:9&tls=false": "'s3://tips?endpoint=h:9&tls=false'",
		"it's":                             `'it'\''s'`,
		"":                                 "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// pista migrate refuses, with what to do, a password on the command line,
// missing flags and a folder a server runs on.
func TestMigrateFlags(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addJournalist(t, dir, data, "alice")
	refused := func(args ...string) string {
		return runPistaFails(t, "", append([]string{"migrate"}, args...)...)
	}
	for _, tc := range []struct {
		name string
		args []string
		says []string
	}{
		{"no target", []string{"--data", data}, []string{"--to-database is required"}},
		{"password in the URL", []string{"--data", data, "--to-database", "postgres://pista:hunter2@127.0.0.1/pista", "--to-objects", "s3://tips"},
			[]string{"--to-database", "holds a password", "hint:", "--to-database-password-file"}},
		{"not an instance", []string{"--data", dir, "--to-database", "postgres://pista@127.0.0.1/pista", "--to-objects", "s3://tips"},
			[]string{"no pista.db", "hint:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := refused(tc.args...)
			for _, s := range tc.says {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("stderr repeats the password:\n%s", stderr)
			}
		})
	}
	startServer(t, data)
	stderr := refused("--data", data, "--to-database", "postgres://pista@127.0.0.1/pista", "--to-objects", "s3://tips")
	if !strings.Contains(stderr, "in use by another pista server") || !strings.Contains(stderr, "stop the pista serve") {
		t.Errorf("with a server running:\n%s", stderr)
	}
}

// The command as an admin runs it: an instance made with the commands,
// moved with the password and the keys in files, then served from the
// new database and bucket with the command it prints.
func TestMigrateCommand(t *testing.T) {
	db := pgtest.URL(t)
	m := blobtest.MinIO(t)
	bucket := m.Bucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	dir := t.TempDir()
	creds := writeFile(t, filepath.Join(dir, "credentials"), []byte("[default]\naws_access_key_id = "+m.User+"\naws_secret_access_key = "+m.Pass+"\n"))
	pw := writeFile(t, filepath.Join(dir, "db.pass"), []byte("unused-with-trust\n"))
	data := filepath.Join(dir, "data")
	addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas Desk", "--member", "alice")

	var out, errb bytes.Buffer
	args := []string{"migrate", "--data", data, "--to-database", db, "--to-database-password-file", pw,
		"--to-objects", m.URL(bucket), "--to-objects-credentials-file", creds}
	if code := run(context.Background(), env{nil, &out, &errb}, args); code != 0 {
		t.Fatalf("pista migrate: exit %d\n%s", code, errb.String())
	}
	said := errb.String()
	for _, s := range []string{"copying rows", "journalists", "Done:", "pista serve --data " + data + "-pg --database '" + db + "' --objects '" + m.URL(bucket) + "'"} {
		if !strings.Contains(said, s) {
			t.Errorf("pista migrate does not say %q:\n%s", s, said)
		}
	}
	if strings.Contains(said, m.Pass) || strings.Contains(said, "unused-with-trust") {
		t.Errorf("pista migrate repeats a secret:\n%s", said)
	}

	again := runPistaFails(t, "", args...)
	if !strings.Contains(again, "not empty") || !strings.Contains(again, "hint: pista migrate fills an empty database only") {
		t.Errorf("a second pista migrate into the database:\n%s", again)
	}

	base, _ := startServer(t, data+"-pg", func(f *serveFlags) {
		f.database, f.databasePWFile, f.objects, f.objectsCredentials = db, pw, m.URL(bucket), creds
	})
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Americas Desk") {
		t.Errorf("the landing page on the new database does not offer the desk:\n%.1500s", body)
	}
	if _, err := os.Stat(filepath.Join(data+"-pg", "pista.db")); !os.IsNotExist(err) {
		t.Errorf("the new folder has a pista.db: %v", err)
	}
}

// Each refusal of the migrate package comes with what to do.
func TestMigrateHints(t *testing.T) {
	for _, tc := range []struct {
		err  error
		says string
	}{
		{server.ErrInUse, "stop the pista serve"},
		{migrate.ErrJournal, "start pista serve --data DIR once and stop it cleanly"},
		{migrate.ErrNoDatabase, "the folder pista serve used"},
		{migrate.ErrMoved, "already on PostgreSQL"},
		{migrate.ErrNotEmpty, "an empty database only"},
		{migrate.ErrSchema, "brings the database up to date"},
		{migrate.ErrChanged, "run pista migrate again"},
	} {
		got := migrateHint(fmt.Errorf("DIR: %w", tc.err), "DIR").Error()
		if !strings.Contains(got, "hint: ") || !strings.Contains(got, tc.says) {
			t.Errorf("%v: %q does not say %q", tc.err, got, tc.says)
		}
	}
}
