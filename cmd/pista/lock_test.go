package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The review's case: a second `pista serve` on a running server's data
// folder, which then cannot bind the first one's port either. It must say
// why and delete nothing (it used to sweep the first server's writes in
// flight before failing); an admin command beside the running server must
// work and sweep nothing either.
func TestSecondServeAndAdminBesideARunningServer(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	base, logs := startServer(t, data)
	// The running server's own start-up sweep, in the background, deletes
	// what it finds with no row, objects of keys without an hour among
	// them: let it finish first. (A running server's own writes have keys
	// of their hour, which that sweep never lists.)
	for i := 0; !strings.Contains(logs.syncBuffer.String(), "swept the objects written before start"); i++ {
		if i == 600 {
			t.Fatalf("the server did not sweep within a minute\n%s", logs.syncBuffer.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Writes in flight: a temporary file, and an object whose row is not
	// committed yet.
	tmp := filepath.Join(data, "tmp", "put-inflight")
	object := filepath.Join(data, "objects", "ab", strings.Repeat("ab", 16))
	os.MkdirAll(filepath.Dir(object), 0o700)
	for _, f := range []string{tmp, object} {
		if err := os.WriteFile(f, []byte("ciphertext"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	var errb bytes.Buffer
	code := run(context.Background(), env{nil, io.Discard, &errb},
		[]string{"serve", "--data", data, "--listen", strings.TrimPrefix(base, "http://")})
	if code == 0 || !strings.Contains(errb.String(), "in use by another pista server") || !strings.Contains(errb.String(), "hint:") {
		t.Errorf("a second serve on the folder: exit %d, %q", code, errb.String())
	}
	runPista(t, "desk", "text", "--data", data, "--name", "americas", "--lang", "es", "--title", "Américas")
	for _, f := range []string{tmp, object} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(f), err)
		}
	}
}
