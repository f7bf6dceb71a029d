package scrub

// Scrubbing throughput (issue 5): a large JPEG (a 24-megapixel photo with
// EXIF and GPS) and a large PDF (a scanned document: pages of JPEG scans
// with an Info dictionary and XMP), each also encrypted with age to a
// post-quantum recipient in the same run: the cost every byte of an upload
// already pays, the baseline the scrubbers are compared to.
//
//	go test ./scrub/ -run '^$' -bench Scrub -count 5
//
// MB/s is of the file's bytes. benchstat, or the median of the five
// lines of each, gives the figure; divide scrub by encrypt for the ratio.

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
)

// benchPhoto is a w×h JPEG of a smooth, varied picture (a camera's
// photo compresses to a few bits a pixel, like this one), with EXIF.
func benchPhoto(tb testing.TB, w, h, quality int) []byte {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			m.Y[y*m.YStride+x] = uint8((x*x/(w/8+1) + y*3 + (x^y)&15) & 0xff)
		}
	}
	for i := range m.Cb {
		m.Cb[i] = uint8(96 + i%64)
		m.Cr[i] = uint8(160 - i%48)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: quality}); err != nil {
		tb.Fatal(err)
	}
	return slices.Concat(buf.Bytes()[:2], jpegSeg(0xE1, append([]byte("Exif\x00\x00"), mediaTestExif(tb)...)), buf.Bytes()[2:])
}

// benchScanPDF is a PDF of n pages, each a scanned page (a JPEG of 1700×2200,
// A4 at 200 dpi) with a line of text, and the Info dictionary and XMP that
// office scanners write.
func benchScanPDF(tb testing.TB, n int) []byte {
	scan := benchPhoto(tb, 1700, 2200, 75)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /Metadata 4 0 R >>",
		"", // the page tree, below, once the pages are numbered
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		docsStream("/Type /Metadata /Subtype /XML", []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq><rdf:li>Jane Leaker</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>`)),
		"<< /Author (Jane Leaker) /Creator (ScanStation 5) /Producer (LeakPDF 9) /CreationDate (D:20240301100000Z) >>",
	}
	var kids []string
	for i := range n {
		page := len(objs) + 1
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
		content := fmt.Sprintf("q 612 0 0 792 0 0 cm /Im1 Do Q BT /F1 9 Tf 36 20 Td (Page %d of %d) Tj ET", i+1, n)
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> /XObject << /Im1 %d 0 R >> >> /Contents %d 0 R >>", page+1, page+2),
			docsStream("/Type /XObject /Subtype /Image /Width 1700 /Height 2200 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode", scan),
			docsStream("", []byte(content)))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n)
	return docsBuildPDF(objs, "/Root 1 0 R /Info 5 0 R /ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>]")
}

func BenchmarkScrub(b *testing.B) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []struct {
		name, ctype string
		make        func(testing.TB) []byte
	}{
		{"photo.jpg", "image/jpeg", func(tb testing.TB) []byte { return benchPhoto(tb, 6000, 4000, 92) }},
		{"scan.pdf", "application/pdf", func(tb testing.TB) []byte { return benchScanPDF(tb, 24) }},
	} {
		file := f.make(b)
		s := For(file, f.name, f.ctype)
		if s == nil {
			b.Fatalf("no scrubber for %s", f.name)
		}
		// What the benchmark scrubs must be something to scrub.
		rep, err := s.Scrub(bytes.NewReader(file), int64(len(file)), io.Discard)
		if err != nil || len(rep.Found) == 0 {
			b.Fatalf("%s: %v, report %+v", f.name, err, rep)
		}
		b.Run(fmt.Sprintf("%s/%s/%.0fMB/scrub", s.Format(), f.name, float64(len(file))/1e6), func(b *testing.B) {
			b.SetBytes(int64(len(file)))
			for b.Loop() {
				if _, err := s.Scrub(bytes.NewReader(file), int64(len(file)), io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%s/%s/%.0fMB/encrypt", s.Format(), f.name, float64(len(file))/1e6), func(b *testing.B) {
			b.SetBytes(int64(len(file)))
			for b.Loop() {
				w, err := age.Encrypt(io.Discard, id.Recipient())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.Write(file); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
