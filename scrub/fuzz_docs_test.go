package scrub

import (
	"bytes"
	"errors"
	"testing"
)

// docsFuzz scrubs b: whatever it is, the scrubber returns (an error or an
// output) without panicking, and what it writes it can read again. A
// panic recovered inside the ZIP-based scrubbers (scrub's own code) fails
// the target; one inside pdfcpu is a FormatError, as it is in production.
// The input is scrubbed within fuzzBudget, and fails the target if it
// allocates more than that budget allows (fuzzWithin).
func docsFuzz(t *testing.T, s Scrubber, b []byte, ownCode bool) {
	var out bytes.Buffer
	_, err := fuzzWithin(t, s, b, &out)
	if err != nil {
		if ownCode && errors.Is(err, errDocPanic) {
			t.Fatal(err)
		}
		return
	}
	var again bytes.Buffer
	if _, err := s.Scrub(bytes.NewReader(out.Bytes()), int64(out.Len()), &again); err != nil {
		t.Fatalf("the scrubbed output cannot be scrubbed again: %v", err)
	}
}

func FuzzPDF(f *testing.F) {
	pdf := docsTestPDF()
	f.Add(pdf)
	f.Add(pdf[:len(pdf)/2])
	f.Add(docsBuildPDF([]string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"}, "/Root 1 0 R"))
	f.Add([]byte("%PDF-1.4\n"))
	f.Fuzz(func(t *testing.T, b []byte) { docsFuzz(t, pdfScrubber{}, b, false) })
}

// docsFuzzParts are the members of the packages docsFuzzPackage makes.
var docsFuzzParts = map[string][]string{
	"OOXML": {"word/document.xml", "word/people.xml", "xl/comments1.xml", "xl/persons/person.xml", "xl/workbook.xml", "ppt/commentAuthors.xml"},
	"ODF":   {"content.xml", "styles.xml", "meta.xml", "settings.xml"},
}

// docsFuzzPackage returns b if it is a ZIP file, else a package of the
// format whose metadata-bearing XML parts all hold b: the fuzzer
// mutates ZIP files mostly into checksum errors, so most of its inputs
// reach the XML editing this way.
func docsFuzzPackage(t *testing.T, format string, b []byte) []byte {
	if bytes.HasPrefix(b, []byte("PK")) {
		return b
	}
	var members []docsMember
	if format == "ODF" {
		members = []docsMember{
			{name: "mimetype", data: "application/vnd.oasis.opendocument.text", stored: true},
			{name: "META-INF/manifest.xml", data: string(b), stored: true},
		}
	} else {
		members = []docsMember{
			{name: "[Content_Types].xml", data: string(b), stored: true},
			{name: "_rels/.rels", data: string(b), stored: true},
		}
	}
	for _, name := range docsFuzzParts[format] {
		members = append(members, docsMember{name: name, data: string(b), stored: true})
	}
	return docsZip(t, members)
}

func FuzzOOXML(f *testing.F) {
	docx := docsTestDOCX(f)
	f.Add(docx)
	f.Add(docx[:len(docx)/2])
	f.Add(docsZip(f, []docsMember{
		{name: "[Content_Types].xml", data: `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/docProps/custom.xml"/></Types>`},
		{name: "_rels/.rels", data: `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/></Relationships>`},
		{name: "docProps/custom.xml", data: `<Properties/>`},
	}))
	zr, files := docsUnzipTB(f, docx)
	for _, name := range []string{"word/document.xml", "word/comments.xml", "word/settings.xml", "_rels/.rels", "[Content_Types].xml"} {
		f.Add(files[name])
	}
	// A document whose attributes have no space between them, which Go's
	// decoder reads: removing one must not glue the next to the name.
	var glued []docsMember
	for _, zf := range zr.File {
		data := string(files[zf.Name])
		if zf.Name == "word/document.xml" {
			data = `<w:document xmlns:w="` + nsW + `" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"><w:body><w:p w:rsidR="00AB12CD"w14:paraId="3F2A1B0C"w:rsidP="00EF"w14:textId="77777777"><w:r><w:t>text</w:t></w:r></w:p></w:body></w:document>`
		}
		glued = append(glued, docsMember{name: zf.Name, data: data})
	}
	f.Add(docsZip(f, glued))
	f.Add([]byte(`<comments xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><authors><author>x</author><author/></authors></comments>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		docsFuzz(t, ooxmlScrubber{format: "OOXML"}, docsFuzzPackage(t, "OOXML", b), true)
	})
}

func FuzzODF(f *testing.F) {
	odt := docsTestODT(f)
	f.Add(odt)
	f.Add(odt[:len(odt)/2])
	_, files := docsUnzipTB(f, odt)
	for _, name := range []string{"content.xml", "meta.xml", "settings.xml", "META-INF/manifest.xml"} {
		f.Add(files[name])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		docsFuzz(t, odfScrubber{"ODT", odfMimeAny + "text", nil}, docsFuzzPackage(t, "ODF", b), true)
	})
}
