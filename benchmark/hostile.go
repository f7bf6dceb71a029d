package benchmark

// Hostile files for goal (d): files of at most 2 MB whose compressed
// parts inflate to hundreds of MiB, as a source (or anyone who can reach
// the submission form) can send them. They stand in for the generators
// of internal/hostile until that package lands: swap HostileFiles for a
// function that calls it.

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"fmt"
	"io"
	"strings"
	"sync"
)

// File is a file sent with a tip, held in memory.
type File struct {
	Name, Type string
	Data       []byte
}

// MaxHostileSize is the most a hostile file of goal (d) may weigh.
const MaxHostileSize = 2_000_000

// HostileFiles returns the four files goal (d) scrubs at once: two PDFs
// and two DOCX. Each is made once per process (a few seconds of CPU).
var HostileFiles = sync.OnceValues(func() ([]File, error) {
	pdf, err := PDFBomb(2, 192*MiB)
	if err != nil {
		return nil, err
	}
	docx, err := DOCXBomb(96 * MiB)
	if err != nil {
		return nil, err
	}
	files := []File{
		{"report.pdf", "application/pdf", pdf},
		{"minutes.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx},
		{"annex.pdf", "application/pdf", pdf},
		{"notes.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx},
	}
	for _, f := range files {
		if len(f.Data) > MaxHostileSize {
			return nil, fmt.Errorf("benchmark: hostile file %s is %d bytes, over %d", f.Name, len(f.Data), MaxHostileSize)
		}
	}
	return files, nil
})

// repeated reads s over and over, n bytes in all.
func repeated(s string, n int64) io.Reader {
	return io.LimitReader(&cycle{s: s}, n)
}

type cycle struct {
	s   string
	off int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := copy(p[n:], c.s[c.off:])
		n += m
		c.off = (c.off + m) % len(c.s)
	}
	return n, nil
}

// PDFBomb makes a one-page PDF with an Info dictionary (metadata for the
// scrubber to remove) and streams FlateDecode streams that each inflate to
// inflated bytes of blank content: the page's contents and an XMP
// metadata stream, then more page contents.
func PDFBomb(streams int, inflated int64) ([]byte, error) {
	var objs []string // bodies of objects 1…n
	objs = append(objs,
		"<< /Type /Catalog /Pages 2 0 R /Metadata 5 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"", // the page, below, once the contents' numbers are known
		"<< /Producer (pista bench) /Author (A Source) /Creator (hostile) >>",
	)
	var contents []string
	for i := range streams {
		var z bytes.Buffer
		zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
		if err != nil {
			return nil, err
		}
		body := repeated("                                                               \n", inflated)
		if i == 0 {
			body = repeated("<x:xmpmeta xmlns:x='adobe:ns:meta/'>                          \n", inflated)
		}
		if _, err := io.Copy(zw, body); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		dict := fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>", z.Len())
		if i == 0 {
			dict = fmt.Sprintf("<< /Type /Metadata /Subtype /XML /Length %d /Filter /FlateDecode >>", z.Len())
		} else {
			contents = append(contents, fmt.Sprintf("%d 0 R", len(objs)+1))
		}
		objs = append(objs, dict+"\nstream\n"+z.String()+"\nendstream")
	}
	if len(contents) == 0 {
		return nil, fmt.Errorf("benchmark: a PDF bomb needs at least two streams")
	}
	objs[2] = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >> /Contents [" +
		strings.Join(contents, " ") + "] >>"
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes(), nil
}

// DOCXBomb makes a DOCX whose word/document.xml inflates to about
// inflated bytes of paragraphs, with an author in docProps/core.xml for
// the scrubber to remove.
func DOCXBomb(inflated int64) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	add := func(name string, r io.Reader) error {
		w, err := zw.Create(name)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, r)
		return err
	}
	const para = `<w:p w:rsidR="00A1B2C3"><w:r><w:t>lorem</w:t></w:r></w:p>`
	const w = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"`
	parts := []struct {
		name string
		r    io.Reader
	}{
		{"[Content_Types].xml", strings.NewReader(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>`)},
		{"_rels/.rels", strings.NewReader(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>`)},
		{"docProps/core.xml", strings.NewReader(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>A Source</dc:creator><cp:lastModifiedBy>A Source</cp:lastModifiedBy></cp:coreProperties>`)},
		{"word/document.xml", io.MultiReader(
			strings.NewReader(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+"\n<w:document "+w+"><w:body>"),
			repeated(para, inflated/int64(len(para))*int64(len(para))),
			strings.NewReader("</w:body></w:document>"),
		)},
	}
	for _, p := range parts {
		if err := add(p.name, p.r); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
