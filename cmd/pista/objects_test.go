package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista/blob/blobtest"
)

// pista serve --objects takes the bucket's keys from the environment or a
// file, never from the command line, and says what is wrong before it
// listens.
func TestServeObjectsFlags(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	m := blobtest.MinIO(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = "+m.User+"\naws_secret_access_key = "+m.Pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := func(args ...string) string {
		return runPistaFails(t, "", append([]string{"serve", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0"}, args...)...)
	}
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"keys in the URL", []string{"--objects", "s3://AKIAEXAMPLE:hunter2@tips?endpoint=" + m.Endpoint}, "credentials do not go in the URL"},
		{"no keys", []string{"--objects", m.URL("tips")}, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --objects-credentials-file"},
		{"missing file", []string{"--objects", m.URL("tips"), "--objects-credentials-file", creds + ".missing"}, "objects credentials file"},
		{"no bucket", []string{"--objects", m.URL("no-such-bucket"), "--objects-credentials-file", creds}, `bucket "no-such-bucket" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := serve(tc.args...)
			if !strings.Contains(stderr, tc.says) {
				t.Errorf("stderr %q does not say %q", stderr, tc.says)
			}
			if strings.Contains(stderr, "hunter2") || strings.Contains(stderr, m.Pass) {
				t.Errorf("stderr repeats a secret: %q", stderr)
			}
		})
	}
}
