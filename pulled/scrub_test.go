//go:build unix

package pulled

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestOpenScrub opens with --scrub: a PNG is written through the
// scrubber, a text file as it is, and no temporary file is left.
func TestOpenScrub(t *testing.T) {
	p := newPulledFolder(t)
	var img bytes.Buffer
	must(t, png.Encode(&img, image.NewGray(image.Rect(0, 0, 4, 4))))
	p.item(7, "file", img.String())
	p.write(ItemFile(7, "file", true), p.seal(`{"name":"photo.png","type":"image/png"}`))
	out := filepath.Join(t.TempDir(), "opened")
	for range 2 { // and again into the same folder
		if _, err := Open([]age.Identity{p.journalist}, p.dir, out, Options{Scrub: true}); err != nil {
			t.Fatal(err)
		}
	}
	report, err := os.ReadFile(filepath.Join(out, liarConv, "metadata-report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), "photo.png: scrubbed here") || !strings.Contains(string(report), "notes.txt: written as it is") {
		t.Errorf("report:\n%s", report)
	}
	if b, _ := os.ReadFile(filepath.Join(out, liarConv, "notes.txt")); string(b) != "a file's bytes" {
		t.Errorf("notes.txt = %q", b)
	}
	if _, err := png.Decode(mustOpen(t, filepath.Join(out, liarConv, "photo.png"))); err != nil {
		t.Errorf("photo.png: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(out, liarConv))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".part-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func mustOpen(t *testing.T, name string) *os.File {
	f, err := os.Open(name)
	must(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}
