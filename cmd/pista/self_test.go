package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSelfCommandFor(t *testing.T) {
	for exe, want := range map[string]string{
		"/tmp/go-build2860093476/b001/exe/pista":       "go run ./cmd/pista",
		"/home/a/.cache/tmp/go-build12/b001/exe/pista": "go run ./cmd/pista",
		"/usr/bin/pista":                               "pista",
		"/home/a/pista/pista":                          "pista",
		"/opt/exe/pista":                               "pista",
		"/home/a/go-build-things/pista":                "pista",
		filepath.Join(os.TempDir(), "pista-123/pista"): "pista",
	} {
		if got := selfCommandFor(exe); got != want {
			t.Errorf("selfCommandFor(%q) = %q, want %q", exe, got, want)
		}
	}
}

// TestSelfCommandGoRun runs a real go run of a program that calls the
// same function on its own executable.
func TestSelfCommandGoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program with go run")
	}
	src, err := os.ReadFile("self.go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	prog := string(src) + "\nfunc main() { print(selfCommand()) }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(prog), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module selfcheck\n\ngo 1.24\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "go run ./cmd/pista" {
		t.Errorf("under go run, selfCommand() = %q, want go run ./cmd/pista", got)
	}
}
