package hostile

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
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
		{"pdf-streams", func() []byte { return PDFStreamsBomb(2, 192<<20) }, 2 << 20},
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

// TestPDFStreamsInflate checks each stream of PDFStreamsBomb inflates to
// the size asked, the first one being the XMP metadata.
func TestPDFStreamsInflate(t *testing.T) {
	const size = 4 << 20
	pdf := PDFStreamsBomb(3, size)
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.7")) || !bytes.HasSuffix(pdf, []byte("%%EOF\n")) {
		t.Fatal("not a PDF")
	}
	rest, streams := pdf, 0
	for {
		_, after, ok := bytes.Cut(rest, []byte("/FlateDecode >>\nstream\n"))
		if !ok {
			break
		}
		body, tail, ok := bytes.Cut(after, []byte("\nendstream"))
		if !ok {
			t.Fatal("a stream without its end")
		}
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 5)
		io.ReadFull(zr, head)
		if streams == 0 && string(head) != "<x:xm" {
			t.Errorf("the first stream starts %q, want the XMP packet", head)
		}
		n, err := io.Copy(io.Discard, zr)
		if err != nil || n+5 != size {
			t.Errorf("stream %d inflates to %d bytes (%v), want %d", streams, n+5, err, size)
		}
		streams++
		rest = tail
	}
	if streams != 3 {
		t.Errorf("%d streams, want 3", streams)
	}
}
