package pulled

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/hostile"
)

// A file the server found too complex to scrub, and one pista open
// --scrub finds too complex, are reported as such, not as scrubbed.
func TestReportTooComplex(t *testing.T) {
	got := describeScrub(&pista.ScrubReport{Format: "PDF", TooComplex: true, Note: "not scrubbed: too complex to clean safely: stored as sent"})
	if !strings.HasPrefix(got, "not scrubbed: too complex to clean safely") {
		t.Errorf("the server's report: %q", got)
	}
	path := filepath.Join(t.TempDir(), "bomb.docx")
	bomb := hostile.DOCXBomb(100 << 20)
	if err := os.WriteFile(path, bomb, 0o600); err != nil {
		t.Fatal(err)
	}
	got = scrubFile(path)
	if !strings.Contains(got, "too complex to clean safely") {
		t.Errorf("pista open --scrub: %q", got)
	}
	if b, _ := os.ReadFile(path); len(b) != len(bomb) {
		t.Errorf("the file was changed: %d bytes, %d sent", len(b), len(bomb))
	}
}
