package hostile

import (
	"archive/zip"
	"bytes"
	"image/png"
	"io"
	"testing"
	"time"
)

// TestSizes checks the bombs are small, quick to make, and what they say.
func TestSizes(t *testing.T) {
	for _, c := range []struct {
		name string
		make func() []byte
		max  int
	}{
		{"pdf", func() []byte { return PDFBomb(300 << 20) }, 1 << 20},
		{"docx", func() []byte { return DOCXBomb(300 << 20) }, 2 << 20},
		{"png", func() []byte { return PNGBomb(100000, 100000) }, 2 << 20},
	} {
		start := time.Now()
		b := c.make()
		t.Logf("%s: %d bytes in %v", c.name, len(b), time.Since(start))
		if len(b) > c.max {
			t.Errorf("%s: %d bytes, more than %d", c.name, len(b), c.max)
		}
	}
}

func TestDOCXInflates(t *testing.T) {
	b := DOCXBomb(10 << 20)
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name != "word/document.xml" {
			continue
		}
		rc, _ := f.Open()
		n, err := io.Copy(io.Discard, rc)
		if err != nil || n < 10<<20-16 || n > 10<<20 {
			t.Fatalf("document.xml: %d bytes, %v", n, err)
		}
		return
	}
	t.Fatal("no document.xml")
}

func TestPNGDeclares(t *testing.T) {
	cfg, err := png.DecodeConfig(bytes.NewReader(PNGBomb(100000, 100000)))
	if err != nil || cfg.Width != 100000 || cfg.Height != 100000 {
		t.Fatalf("%+v %v", cfg, err)
	}
}
