package pulled

import (
	"os"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/hostile"
	"github.com/pista-tips/pista/scrub"
)

// A file the server found too complex to scrub, and one pista open
// --scrub finds too complex, are reported as such, not as scrubbed.
func TestReportTooComplex(t *testing.T) {
	got := describeScrub(&pista.ScrubReport{Format: "PDF", TooComplex: true, Note: "not scrubbed: too complex to clean safely: stored as sent"})
	if !strings.HasPrefix(got, "not scrubbed: too complex to clean safely") {
		t.Errorf("the server's report: %q", got)
	}
	out, err := openDir(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	path := out.join("bomb.docx")
	// Past what the journalist's computer spends on one file
	// (scrub.DeviceBudget: an XML part may be an eighth of its memory).
	bomb := hostile.DOCXBomb(int(scrub.DeviceBudget.Memory/8) + 1<<20)
	tf, err := out.create("bomb.docx")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Write(bomb); err != nil {
		t.Fatal(err)
	}
	tf, got = scrubInto(tf, out, "bomb.docx")
	if !strings.Contains(got, "too complex to clean safely") {
		t.Errorf("pista open --scrub: %q", got)
	}
	if err := tf.commit(map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) != len(bomb) {
		t.Errorf("the file was changed: %d bytes, %d sent", len(b), len(bomb))
	}
}
