package main

import (
	"os"
	"path/filepath"
	"strings"
)

// selfCommand is how the user runs pista, for the commands serve and demo
// print: "go run ./cmd/pista" when this process is a binary go run built
// in its temporary folder (which the user would not find by the name
// pista), "pista" otherwise.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "pista"
	}
	return selfCommandFor(exe)
}

// selfCommandFor is selfCommand for the executable at exe. go run builds
// into $GOTMPDIR (or the system's temporary folder)/go-build…/b001/exe/.
func selfCommandFor(exe string) string {
	dir := filepath.Dir(exe)
	if filepath.Base(dir) != "exe" {
		return "pista"
	}
	for d := filepath.Dir(dir); d != filepath.Dir(d); d = filepath.Dir(d) {
		if strings.HasPrefix(filepath.Base(d), "go-build") {
			return "go run ./cmd/pista"
		}
	}
	return "pista"
}
