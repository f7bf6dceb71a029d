package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeIntakeDay checks --intake-day: documented as for tests, and
// refused under a second, before anything is opened.
func TestServeIntakeDay(t *testing.T) {
	var out, errb bytes.Buffer
	run(context.Background(), env{strings.NewReader(""), &out, &errb}, []string{"serve", "--help"})
	help := out.String() + errb.String()
	if !strings.Contains(help, "-intake-day") || !strings.Contains(help, "for tests only") {
		t.Errorf("pista serve --help does not offer --intake-day for tests:\n%s", help)
	}
	data := filepath.Join(t.TempDir(), "data")
	for _, d := range []string{"500ms", "-1s"} {
		stderr := runPistaFails(t, "", "serve", "--data", data, "--listen", "127.0.0.1:0", "--intake-day", d)
		if !strings.Contains(stderr, "--intake-day") || !strings.Contains(stderr, "at least 1s") {
			t.Errorf("--intake-day %s: stderr %q", d, stderr)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(data, "*")); len(matches) > 0 {
		t.Errorf("a refused --intake-day left %v", matches)
	}
}
