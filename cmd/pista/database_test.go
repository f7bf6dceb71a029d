package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista/internal/pgtest"
)

// A password never comes on the command line: `pista serve --database`
// refuses a URL holding one, says where to put it instead and does not
// repeat it; and a password file is read from its first line.
func TestServeDatabaseFlags(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "db.pass")
	if err := os.WriteFile(pwFile, []byte("s3cret-from-file\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"password in the URL", []string{"--database", "postgres://pista:hunter2@127.0.0.1/pista"},
			[]string{"holds a password", "hint:", "PGPASSWORD", "--database-password-file"}},
		{"password as a parameter", []string{"--database", "postgres://pista@127.0.0.1/pista?password=hunter2"},
			[]string{"holds a password", "hint:"}},
		{"not PostgreSQL", []string{"--database", "mysql://pista@127.0.0.1/pista"},
			[]string{"postgres://", "hint:"}},
		{"a password file without a database", []string{"--database-password-file", pwFile},
			[]string{"goes with --database"}},
		{"a missing password file", []string{"--database", "postgres://pista@127.0.0.1/pista", "--database-password-file", filepath.Join(dir, "missing")},
			[]string{"--database-password-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errb bytes.Buffer
			args := append([]string{"serve", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0"}, tt.args...)
			code := run(context.Background(), env{nil, io.Discard, &errb}, args)
			if code == 0 {
				t.Fatalf("exit 0, want a refusal")
			}
			for _, w := range tt.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if strings.Contains(errb.String(), "hunter2") {
				t.Errorf("stderr repeats the password:\n%s", errb.String())
			}
		})
	}
	pw, err := databasePassword(serveFlags{database: "postgres://pista@db.example/pista", databasePWFile: pwFile})
	if err != nil || pw != "s3cret-from-file" {
		t.Errorf("databasePassword = %q, %v; want the file's first line", pw, err)
	}
}

// `pista serve --database` on PostgreSQL, and the admin commands beside
// it given only --data: they reach the server's database through the
// folder, and the running server shows what they made.
func TestServeOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	base, _ := startServer(t, data, func(f *serveFlags) { f.database = url })
	addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas Desk", "--member", "alice")
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Americas Desk") {
		t.Errorf("the landing page does not offer the desk made beside the server:\n%.1500s", body)
	}
	if _, err := os.Stat(filepath.Join(data, "pista.db")); !os.IsNotExist(err) {
		t.Errorf("a pista.db was made beside PostgreSQL: %v", err)
	}
}
