// Package hostile makes files that attack whatever parses them: small on
// the wire, huge once decompressed or decoded. Tests and benchmarks build
// them in memory (nothing is shipped in testdata) to check that pista
// bounds the memory and time it spends on a file, whatever the file says.
//
// Every generator is deterministic and takes well under a second for the
// sizes tests use.
package hostile

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// chunk is what a bomb repeats: compressing it again and again costs
// little, since the compressor finds each copy in its window.
var chunk = bytes.Repeat([]byte(" "), 64<<10)

// deflatedAround returns the zlib stream of prefix, spaces up to offset
// at, then suffix.
func deflatedAround(prefix []byte, at int, suffix []byte) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	w.Write(prefix)
	for left := at - len(prefix); left > 0; left -= len(chunk) {
		w.Write(chunk[:min(left, len(chunk))])
	}
	w.Write(suffix)
	w.Close()
	return b.Bytes()
}

// deflated returns the zlib (wrap true) or raw deflate stream of prefix
// followed by fill bytes of spaces, up to size bytes in all.
func deflated(prefix []byte, size int, wrap bool) []byte {
	var b bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	if wrap {
		w, _ = zlib.NewWriterLevel(&b, zlib.BestCompression)
	} else {
		w, _ = flate.NewWriter(&b, flate.BestCompression)
	}
	w.Write(prefix)
	for left := size - len(prefix); left > 0; left -= len(chunk) {
		w.Write(chunk[:min(left, len(chunk))])
	}
	w.Close()
	return b.Bytes()
}

// PDFBomb returns a valid PDF of blank pages (one per 64 MiB), under 1 MB for size up to
// about 1 GiB, whose object streams (/Type /ObjStm, which a reader must
// decompress to find the objects in them) inflate to size bytes in all,
// split into streams of at most 64 MiB. Its cross-reference table is a
// stream that points into them, and the pages are in them, so a reader
// cannot skip them.
func PDFBomb(size int) []byte {
	const part = 64 << 20
	n := max(1, (size+part-1)/part)
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	// Objects 1 and 2 are plain, the catalog and the page tree; each
	// object stream 3+2i holds object 4+2i, a page, padded with spaces
	// inside its dictionary so that a reader must inflate the whole
	// stream to read the page.
	type xref struct{ typ, f2, f3 int }
	entries := []xref{{0, 0, 65535}}
	obj := func(body string) {
		entries = append(entries, xref{1, b.Len(), 0})
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(entries)-1, body)
	}
	var kids bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&kids, " %d 0 R", 4+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s ] /Count %d >>", kids.String(), n))
	for i := 0; i < n; i++ {
		this := min(part, size-i*part)
		inner := len(entries) + 1
		head := fmt.Sprintf("%d 0 ", inner)
		page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >>"
		data := deflatedAround([]byte(head+page), max(this-2, len(head)+len(page)), []byte(">>"))
		entries = append(entries, xref{1, b.Len(), 0})
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n",
			len(entries)-1, len(head), len(data))
		b.Write(data)
		b.WriteString("\nendstream\nendobj\n")
		entries = append(entries, xref{2, len(entries) - 1, 0})
	}
	// The cross-reference stream, uncompressed: fields of 1, 4 and 2 bytes.
	self := len(entries)
	entries = append(entries, xref{1, b.Len(), 0})
	var x bytes.Buffer
	for _, e := range entries {
		x.WriteByte(byte(e.typ))
		x.Write(binary.BigEndian.AppendUint32(nil, uint32(e.f2)))
		x.Write(binary.BigEndian.AppendUint16(nil, uint16(e.f3)))
	}
	start := entries[self].f2
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", self, len(entries), x.Len())
	b.Write(x.Bytes())
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", start)
	return b.Bytes()
}

// DOCXBomb returns a Word document (DOCX) whose main part,
// word/document.xml, is a well-formed XML document of size bytes: an
// empty paragraph repeated, which compresses about a thousand times. Its
// ZIP headers tell the true sizes.
func DOCXBomb(size int) []byte {
	const (
		head = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
			`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`
		tail = `</w:body></w:document>`
		para = `<w:p/>`
	)
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	add := func(name, content string) {
		w, _ := zw.Create(name)
		w.Write([]byte(content))
	}
	add("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`)
	add("_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "word/document.xml", Method: zip.Deflate})
	// zip's own deflater at its default level: write the repeated
	// paragraphs in large blocks.
	block := bytes.Repeat([]byte(para), (64<<10)/len(para))
	w.Write([]byte(head))
	left := size - len(head) - len(tail)
	for ; left >= len(block); left -= len(block) {
		w.Write(block)
	}
	w.Write(block[:left/len(para)*len(para)])
	w.Write([]byte(tail))
	zw.Close()
	return b.Bytes()
}

// PNGBomb returns a PNG that declares width × height pixels (8-bit
// grey): a decoder that trusts the header allocates width × height bytes.
// Its image data is a valid zlib stream of the first rows only, at most
// 16 MiB of them, so a decoder that streams fails on the missing rest;
// its CRCs are right, so a chunk filter reads it as a PNG.
func PNGBomb(width, height int) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunkTo := func(typ string, data []byte) {
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(data))))
		c := append([]byte(typ), data...)
		b.Write(c)
		b.Write(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(c)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(width))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(height))
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // 8 bits, grey, deflate, adaptive filters, no interlace
	chunkTo("IHDR", ihdr)
	row := int64(width) + 1 // a filter byte, then the row
	rows := max(1, min(int64(height), (16<<20)/row))
	idat := deflatedZeros(int(rows * row))
	chunkTo("IDAT", idat)
	chunkTo("IEND", nil)
	return b.Bytes()
}

// deflatedZeros is a zlib stream of n zero bytes.
func deflatedZeros(n int) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	zero := make([]byte, 64<<10)
	for left := n; left > 0; left -= len(zero) {
		w.Write(zero[:min(left, len(zero))])
	}
	w.Close()
	return b.Bytes()
}

// PDFStreamsBomb returns a one-page PDF with an Info dictionary and an XMP
// metadata stream (metadata for a scrubber to remove) whose plain
// FlateDecode streams, not object streams, each inflate to size bytes:
// the metadata stream, then streams-1 content streams of the page. A
// reader that decodes a stream to look at it, as a scrubber looks for
// metadata, pays for all of it.
func PDFStreamsBomb(streams, size int) []byte {
	streams = max(2, streams)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /Metadata 5 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"", // the page, once its contents' numbers are known
		"<< /Producer (hostile) /Author (A Source) /Creator (hostile) >>",
	}
	var contents bytes.Buffer
	for i := range streams {
		dict := "/Type /Metadata /Subtype /XML "
		prefix := []byte("<x:xmpmeta xmlns:x='adobe:ns:meta/'>")
		if i > 0 {
			dict, prefix = "", nil
			fmt.Fprintf(&contents, " %d 0 R", len(objs)+1)
		}
		data := deflated(prefix, size, true)
		objs = append(objs, fmt.Sprintf("<< %s/Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", dict, len(data), data))
	}
	objs[2] = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >> /Contents [" + contents.String() + " ] >>"
	return plainPDF(objs, 4)
}

// ScannedPDF returns an ordinary PDF of about size bytes, not hostile at
// all: one page whose image is size bytes of uncompressed grey pixels (as
// a scanner makes them), and an author in its Info dictionary. A scrubber
// needs memory in proportion to it.
func ScannedPDF(size int) []byte {
	const side = 1024
	rows := max(1, size/side)
	pixels := make([]byte, side*rows)
	var x uint32 = 2463534242
	for i := range pixels { // xorshift: noise that does not compress
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		pixels[i] = byte(x)
	}
	return plainPDF([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
		fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n%s\nendstream", side, rows, len(pixels), pixels),
		"<< /Length 29 >>\nstream\nq 612 0 0 792 0 0 cm /Im1 Do Q\nendstream",
		"<< /Author (A Source) /Producer (scanner) >>",
	}, 6)
}

// plainPDF writes objects 1…n (1 the catalog, info the Info dictionary)
// with a classic cross-reference table.
func plainPDF(objs []string, info int) []byte {
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
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, info, xref)
	return b.Bytes()
}
