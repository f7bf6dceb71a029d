package browsertest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
)

// chromiumNames are the commands looked for on PATH, in order.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// findChromium returns the browser to drive: $PISTA_CHROMIUM when it is set
// (a path, or a command name looked up on PATH), else the first of
// chromiumNames found on PATH.
func findChromium() (string, error) {
	if p := os.Getenv("PISTA_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("PISTA_CHROMIUM=%s: %w", p, err)
		}
		return path, nil
	}
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", errors.New("none of " + strings.Join(chromiumNames, ", ") + " is on PATH (or set PISTA_CHROMIUM to the browser's path)")
}

// needChromium returns the path of the browser, or skips t when there is
// none (fails it when PISTA_TEST_REQUIRE requires chromium).
func needChromium(t testing.TB) string {
	t.Helper()
	path, err := findChromium()
	if err == nil {
		return path
	}
	if pistatest.Required("chromium") {
		t.Fatalf("Chromium is required (PISTA_TEST_REQUIRE=%q) but not found: %v. Install it: apt-get install -y chromium", os.Getenv("PISTA_TEST_REQUIRE"), err)
	}
	t.Skipf("skipping browser test: no Chromium found: %v. Install it (apt-get install -y chromium) or set PISTA_TEST_REQUIRE=chromium to make this a failure", err)
	return ""
}
