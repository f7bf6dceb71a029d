package scrub

// Tests of the document scrubbers (PDF, OOXML, ODF) on files the tests
// make themselves, checked with exiftool (Debian's libimage-exiftool-perl)
// where it is installed, and by reading the output back.

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// docsSecrets are what the test files hide in their metadata; none may
// be left anywhere in a scrubbed file.
var docsSecrets = []string{"Jane Leaker", "jleaker", "jane.leaker@", "Ministry of Leaks", "Internal Audit", "LeakWriter", "LeakPDF", "Boss Person", "JaneLaser"}

// docsRequired reports whether $PISTA_TEST_REQUIRE ("all", or a
// comma-separated list) names tool: then a missing tool fails the tests.
func docsRequired(tool string) bool {
	for _, s := range strings.Split(os.Getenv("PISTA_TEST_REQUIRE"), ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "all" || s == tool {
			return true
		}
	}
	return false
}

// exiftoolDocs returns the path of exiftool, or skips t when it is missing
// (fails it when PISTA_TEST_REQUIRE requires exiftool).
func exiftoolDocs(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("exiftool")
	if err == nil {
		return p
	}
	if docsRequired("exiftool") {
		t.Fatalf("exiftool is required (PISTA_TEST_REQUIRE=%q) but not found: %v. Install it: apt-get install -y libimage-exiftool-perl", os.Getenv("PISTA_TEST_REQUIRE"), err)
	}
	t.Skipf("skipping the exiftool checks: exiftool not found (%v). Install it (apt-get install -y libimage-exiftool-perl) or set PISTA_TEST_REQUIRE=exiftool to make this a failure", err)
	return ""
}

// docsExif runs exiftool on b (saved with the extension ext) and returns
// the tags it finds, keyed "Group:Tag".
func docsExif(t *testing.T, exiftool string, b []byte, ext string) map[string]any {
	t.Helper()
	f := filepath.Join(t.TempDir(), "file"+ext)
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exiftool, "-j", "-G1", "-a", "-u", f).Output()
	if err != nil {
		t.Fatalf("exiftool: %v\n%s", err, out)
	}
	var tags []map[string]any
	if err := json.Unmarshal(out, &tags); err != nil || len(tags) != 1 {
		t.Fatalf("exiftool's output: %v\n%s", err, out)
	}
	for _, k := range []string{"SourceFile", "System:FileName", "System:Directory", "System:FileSize", "System:FileModifyDate",
		"System:FileAccessDate", "System:FileInodeChangeDate", "System:FilePermissions", "ExifTool:ExifToolVersion"} {
		delete(tags[0], k)
	}
	return tags[0]
}

// docsNoTags fails t if exiftool found any tag named in names (without
// its group), any tag of a group starting with one of groups, or any
// value holding a secret.
func docsNoTags(t *testing.T, tags map[string]any, names, groups []string) {
	t.Helper()
	for k, v := range tags {
		group, name, _ := strings.Cut(k, ":")
		if slices.Contains(names, name) {
			t.Errorf("exiftool still finds %s = %v", k, v)
		}
		for _, g := range groups {
			if strings.HasPrefix(group, g) {
				t.Errorf("exiftool still finds %s = %v", k, v)
			}
		}
		for _, s := range docsSecrets {
			if strings.Contains(fmt.Sprint(v), s) {
				t.Errorf("exiftool still finds %q in %s = %v", s, k, v)
			}
		}
	}
}

// docsHasTags fails t unless exiftool found each of names in the original:
// the test file has the metadata the test says it has.
func docsHasTags(t *testing.T, tags map[string]any, names ...string) {
	t.Helper()
	for _, n := range names {
		found := false
		for k := range tags {
			if _, name, _ := strings.Cut(k, ":"); name == n {
				found = true
			}
		}
		if !found {
			t.Errorf("exiftool finds no %s in the test's original file: %v", n, tags)
		}
	}
}

func docsScrub(t *testing.T, in []byte, name, contentType string) ([]byte, Report) {
	t.Helper()
	var out bytes.Buffer
	rep, err := Scrub(bytes.NewReader(in), int64(len(in)), name, contentType, &out)
	if err != nil {
		t.Fatalf("Scrub(%s): %v", name, err)
	}
	if !rep.Scrubbed {
		t.Fatalf("Scrub(%s): not scrubbed: %+v", name, rep)
	}
	return out.Bytes(), rep
}

func docsWantKinds(t *testing.T, rep Report, kinds ...string) {
	t.Helper()
	for _, k := range kinds {
		if !slices.Contains(rep.Found, k) {
			t.Errorf("report %v does not name %q", rep.Found, k)
		}
	}
}

// ---- PDF

// docsPDFText is the text of the test PDF's pages.
const docsPDFText = "Secret memo: the budget was moved to the consultancy."

// docsBuildPDF writes a PDF from its objects (1-based), with a correct
// cross-reference table and the trailer entries given.
func docsBuildPDF(objs []string, trailer string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs)+1)
	for i, o := range objs {
		offsets[i+1] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets[1:] {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, trailer, xref)
	return b.Bytes()
}

func docsStream(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// docsTestPDF is a two-page PDF with an Info dictionary, XMP on the
// catalog and on a page, an annotation by the source, application data
// and a file ID. Its second page's content is compressed.
func docsTestPDF() []byte {
	xmp := `<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
<dc:creator><rdf:Seq><rdf:li>Jane Leaker</rdf:li></rdf:Seq></dc:creator>
<xmp:CreatorTool>LeakWriter 3.1</xmp:CreatorTool><xmp:CreateDate>2024-03-01T10:00:00Z</xmp:CreateDate>
<xmp:ModifyDate>2024-03-02T11:00:00Z</xmp:ModifyDate><pdf:Producer>LeakPDF 9</pdf:Producer>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>`
	page1 := []byte("BT /F1 18 Tf 72 700 Td (" + docsPDFText + ") Tj ET")
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte("BT /F1 18 Tf 72 700 Td (Page two: the minutes of 4 March.) Tj ET"))
	zw.Close()
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /Metadata 7 0 R /PieceInfo << /LeakApp << /LastModified (D:20240301100000Z) /Private (Jane Leaker) >> >> >>",
		"<< /Type /Pages /Kids [3 0 R 9 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R /Annots [8 0 R] /Metadata 10 0 R /LastModified (D:20240301100000Z) >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		docsStream("", page1),
		"<< /Author (Jane Leaker) /Creator (LeakWriter 3.1) /Producer (LeakPDF 9) /CreationDate (D:20240301100000Z) /ModDate (D:20240302110000Z) /Title (Budget memo) /Subject (Internal Audit) /Keywords (leak) >>",
		docsStream("/Type /Metadata /Subtype /XML", []byte(xmp)),
		"<< /Type /Annot /Subtype /Text /Rect [100 100 120 120] /Contents (Check this figure) /T (Jane Leaker) /M (D:20240301100000Z) /CreationDate (D:20240301100000Z) >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 11 0 R >>",
		docsStream("/Type /Metadata /Subtype /XML", []byte(strings.ReplaceAll(xmp, "LeakWriter", "LeakWriter page"))),
		docsStream("/Filter /FlateDecode", z.Bytes()),
	}
	return docsBuildPDF(objs, "/Root 1 0 R /Info 6 0 R /ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>]")
}

// docsPDFRead reads a PDF with pdfcpu.
func docsPDFRead(t *testing.T, b []byte) *model.Context {
	t.Helper()
	conf := model.NewDefaultConfiguration()
	conf.Offline = true
	ctx, err := api.ReadAndValidate(bytes.NewReader(b), conf)
	if err != nil {
		t.Fatalf("pdfcpu cannot read the PDF: %v", err)
	}
	return ctx
}

// docsPDFPages returns the decoded content of each page.
func docsPDFPages(t *testing.T, ctx *model.Context) [][]byte {
	t.Helper()
	var pages [][]byte
	for i := 1; i <= ctx.PageCount; i++ {
		d, _, _, err := ctx.PageDict(i, false)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		c, err := ctx.PageContent(d, i)
		if err != nil {
			t.Fatalf("page %d's content: %v", i, err)
		}
		pages = append(pages, c)
	}
	return pages
}

// docsPDFStrings returns every object of a PDF as text, streams decoded.
func docsPDFStrings(t *testing.T, ctx *model.Context) string {
	t.Helper()
	var all strings.Builder
	for nr, e := range ctx.Table {
		if e == nil || e.Free || e.Object == nil {
			continue
		}
		fmt.Fprintf(&all, "%d: %s\n", nr, e.Object.PDFString())
		if sd, ok := e.Object.(types.StreamDict); ok {
			if err := sd.Decode(); err == nil {
				all.Write(sd.Content)
				all.WriteByte('\n')
			}
		}
	}
	all.WriteString(ctx.ID.PDFString())
	return all.String()
}

func TestPDFScrub(t *testing.T) {
	in := docsTestPDF()
	out, rep := docsScrub(t, in, "memo.pdf", "application/pdf")
	if rep.Format != "PDF" {
		t.Errorf("format %q, want PDF", rep.Format)
	}
	docsWantKinds(t, rep, KindPDFInfo, KindXMP, KindAuthor, KindComments, KindRevision)

	before, after := docsPDFRead(t, in), docsPDFRead(t, out)
	pb, pa := docsPDFPages(t, before), docsPDFPages(t, after)
	if len(pb) != 2 || len(pa) != 2 {
		t.Fatalf("pages: %d before, %d after, want 2", len(pb), len(pa))
	}
	for i := range pb {
		if !bytes.Equal(pb[i], pa[i]) {
			t.Errorf("page %d's content changed:\n%q\n%q", i+1, pb[i], pa[i])
		}
	}
	if !bytes.Contains(pa[0], []byte(docsPDFText)) {
		t.Errorf("page 1 lost its text: %q", pa[0])
	}

	objects := docsPDFStrings(t, after)
	for _, s := range append(slices.Clone(docsSecrets), "xmpmeta", "pdfcpu", "D:2024", "00112233445566778899AABBCCDDEEFF", "PieceInfo", "LastModified") {
		if strings.Contains(objects, s) || bytes.Contains(out, []byte(s)) {
			t.Errorf("the scrubbed PDF still holds %q", s)
		}
	}
	if !strings.Contains(objects, "Check this figure") {
		t.Error("the annotation's text is gone")
	}
	if after.Info != nil {
		if d, err := after.DereferenceDict(*after.Info); err != nil || len(d) != 0 {
			t.Errorf("the Info dictionary is %v (%v), want empty", d, err)
		}
	}

	exiftool := exiftoolDocs(t)
	tb := docsExif(t, exiftool, in, ".pdf")
	docsHasTags(t, tb, "Author", "Creator", "Producer", "CreateDate", "ModifyDate", "CreatorTool")
	ta := docsExif(t, exiftool, out, ".pdf")
	docsNoTags(t, ta, []string{"Author", "Creator", "Producer", "CreateDate", "ModifyDate", "CreatorTool", "Title", "Subject", "Keywords", "MetadataDate"}, []string{"XMP"})
	t.Logf("exiftool, before: %v\nafter: %v", tb, ta)
}

// An owner password's restrictions go, the text stays.
func TestPDFEncrypted(t *testing.T) {
	in := docsTestPDF()
	conf := model.NewAESConfiguration("", "owner secret", 256)
	conf.Offline = true
	var enc bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(in), &enc, conf); err != nil {
		t.Fatalf("encrypting the test PDF: %v", err)
	}
	out, rep := docsScrub(t, enc.Bytes(), "memo.pdf", "")
	docsWantKinds(t, rep, KindPDFInfo)
	after := docsPDFRead(t, out)
	if after.Encrypt != nil {
		t.Error("the scrubbed PDF is still encrypted")
	}
	if pa := docsPDFPages(t, after); !bytes.Contains(pa[0], []byte(docsPDFText)) {
		t.Errorf("page 1 lost its text: %q", pa[0])
	}
	if objects := docsPDFStrings(t, after); strings.Contains(objects, "Jane Leaker") {
		t.Error("the scrubbed PDF still names the author")
	}
}

// A PDF that only a user password opens is left as it is.
func TestPDFUserPassword(t *testing.T) {
	in := docsTestPDF()
	conf := model.NewAESConfiguration("user secret", "owner secret", 256)
	conf.Offline = true
	var enc bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(in), &enc, conf); err != nil {
		t.Fatalf("encrypting the test PDF: %v", err)
	}
	b := enc.Bytes()
	_, err := Scrub(bytes.NewReader(b), int64(len(b)), "memo.pdf", "", io.Discard)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("Scrub of a password-protected PDF: %v, want a FormatError", err)
	}
}

// Scrubbers run at once for several submissions.
func TestPDFConcurrent(t *testing.T) {
	in := docsTestPDF()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			if _, err := Scrub(bytes.NewReader(in), int64(len(in)), "memo.pdf", "", &out); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// ---- ZIP-based documents

// docsMember is one member of a test ZIP.
type docsMember struct {
	name   string
	data   string
	stored bool
}

// docsZip writes members in order, with real times and extra fields as
// office suites write them.
func docsZip(t testing.TB, members []docsMember) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	zw.SetComment("made by LeakWriter for Jane Leaker")
	for _, m := range members {
		if m.stored { // with its size in its header, as ODF wants its mimetype
			w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: zip.Store, CRC32: crc32.ChecksumIEEE([]byte(m.data)),
				CompressedSize64: uint64(len(m.data)), UncompressedSize64: uint64(len(m.data))})
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, m.data)
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: zip.Deflate, Modified: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// docsUnzip reads every member of a ZIP (checking their checksums).
func docsUnzip(t *testing.T, b []byte) (*zip.Reader, map[string][]byte) {
	t.Helper()
	return docsUnzipTB(t, b)
}

func docsUnzipTB(t testing.TB, b []byte) (*zip.Reader, map[string][]byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the output is not a ZIP: %v", err)
	}
	m := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		m[f.Name] = data
	}
	return zr, m
}

// docsZipClean checks what every scrubbed ZIP must be: no secret in any
// member, no times, extra fields or comment, and raw copies of the
// members listed as unchanged.
func docsZipClean(t *testing.T, in, out []byte, unchanged ...string) map[string][]byte {
	t.Helper()
	zr, files := docsUnzip(t, out)
	for name, data := range files {
		for _, s := range docsSecrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s still holds %q", name, s)
			}
		}
	}
	if zr.Comment != "" {
		t.Errorf("the archive comment %q stays", zr.Comment)
	}
	for _, f := range zr.File {
		if len(f.Extra) != 0 || !f.Modified.Equal(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: modified %v, extra %x", f.Name, f.Modified, f.Extra)
		}
	}
	zin, err := zip.NewReader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	raw := func(zr *zip.Reader, name string) []byte {
		for _, f := range zr.File {
			if f.Name == name {
				r, err := f.OpenRaw()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(r)
				return b
			}
		}
		t.Fatalf("no member %s", name)
		return nil
	}
	for _, name := range unchanged {
		if !bytes.Equal(raw(zin, name), raw(zr, name)) {
			t.Errorf("%s was not copied raw", name)
		}
	}
	return files
}

// docsXMLText returns the character data of the elements named local
// (in any namespace) in an XML document, concatenated, skipping what is
// inside the elements named skip.
func docsXMLText(t *testing.T, b []byte, local string, skip ...string) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var s strings.Builder
	in, skipping := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return s.String()
		}
		if err != nil {
			t.Fatalf("XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if slices.Contains(skip, tok.Name.Local) || skipping > 0 {
				skipping++
			}
			if tok.Name.Local == local {
				in++
			}
		case xml.EndElement:
			if skipping > 0 {
				skipping--
			}
			if tok.Name.Local == local {
				in--
			}
		case xml.CharData:
			if in > 0 && skipping == 0 {
				s.Write(tok)
			}
		}
	}
}

// docsXMLAttrs calls fn for every element of an XML document.
func docsXMLAttrs(t *testing.T, b []byte, fn func(xml.StartElement)) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			fn(se)
		}
	}
}

// docsOOXMLRefs checks that the content types and relationships of an
// OOXML package name no missing part.
func docsOOXMLRefs(t *testing.T, files map[string][]byte) {
	t.Helper()
	lower := map[string]bool{}
	for name := range files {
		lower[strings.ToLower(name)] = true
	}
	docsXMLAttrs(t, files["[Content_Types].xml"], func(se xml.StartElement) {
		if se.Name.Local != "Override" {
			return
		}
		p, _ := docAttr(se.Attr, "PartName")
		if !lower[strings.ToLower(strings.TrimPrefix(p, "/"))] {
			t.Errorf("[Content_Types].xml overrides %s, which is missing", p)
		}
	})
	for name, data := range files {
		if !ooxmlIsRels(name) {
			continue
		}
		source := ooxmlRelsSource(name)
		if part := strings.TrimSuffix(path.Base(name), ".rels"); part != "" && !lower[strings.ToLower(path.Join(source, part))] {
			t.Errorf("%s: the relationships of a missing part", name)
		}
		docsXMLAttrs(t, data, func(se xml.StartElement) {
			if se.Name.Local != "Relationship" {
				return
			}
			target, _ := docAttr(se.Attr, "Target")
			if mode, _ := docAttr(se.Attr, "TargetMode"); mode == "External" {
				return
			}
			if !lower[strings.ToLower(ooxmlResolve(source, target))] {
				t.Errorf("%s relates %s, which is missing", name, target)
			}
		})
	}
}

func docsJPEG(t testing.TB) string {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func docsPNG(t testing.TB) string {
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// docsDOCXBody is the text of the test DOCX's body; it spells an rsid
// attribute, which is text and must stay.
const docsDOCXBody = `The budget was moved. Note: w:rsidR="00AB12CD" is how Word marks sessions. A & B < C.`

func docsTestDOCX(t testing.TB) []byte {
	const w = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	return docsZip(t, []docsMember{
		{name: "[Content_Types].xml", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="jpeg" ContentType="image/jpeg"/><Default Extension="png" ContentType="image/png"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/comments.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml"/><Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/><Override PartName="/word/people.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.people+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/><Override PartName="/docProps/custom.xml" ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/></Types>`},
		{name: "_rels/.rels", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId4" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail" Target="docProps/thumbnail.jpeg"/><Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/></Relationships>`},
		{name: "word/document.xml", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document ` + w + `><w:body><w:p w:rsidR="00AB12CD" w:rsidRDefault="00AB12CD" w:rsidP="00C0FFEE"><w:r w:rsidRPr="00DEAD00"><w:t xml:space="preserve">The budget was moved. Note: w:rsidR="00AB12CD" is how Word marks sessions. </w:t></w:r><w:commentRangeStart w:id="0"/><w:ins w:id="1" w:author="Jane Leaker" w:date="2024-03-01T10:00:00Z"><w:r><w:t>A &amp; B &lt; C.</w:t></w:r></w:ins><w:commentRangeEnd w:id="0"/><w:r><w:commentReference w:id="0"/></w:r></w:p><w:sectPr w:rsidR="00AB12CD" w:rsidSect="00AB12CD"><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>`},
		{name: "word/_rels/document.xml.rels", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments" Target="comments.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" Target="settings.xml"/><Relationship Id="rId3" Type="http://schemas.microsoft.com/office/2011/relationships/people" Target="people.xml"/><Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/image1.png"/></Relationships>`},
		{name: "word/comments.xml", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:comments ` + w + `><w:comment w:id="0" w:author="Jane Leaker" w:date="2024-03-01T10:00:00Z" w:initials="JL"><w:p w:rsidR="00AB12CD"><w:r><w:t>Is this figure right?</w:t></w:r></w:p></w:comment></w:comments>`},
		{name: "word/settings.xml", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:settings ` + w + `><w:zoom w:percent="100"/><w:attachedTemplate r:id="rId1"/><w:defaultTabStop w:val="708"/><w:rsids><w:rsidRoot w:val="00AB12CD"/><w:rsid w:val="00AB12CD"/><w:rsid w:val="00C0FFEE"/></w:rsids></w:settings>`},
		{name: "word/_rels/settings.xml.rels", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="file:///C:\Users\jleaker\AppData\Roaming\Microsoft\Templates\Normal.dotm" TargetMode="External"/></Relationships>`},
		{name: "word/people.xml", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w15:people xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml"><w15:person w15:author="Jane Leaker"><w15:presenceInfo w15:providerId="AD" w15:userId="S::jane.leaker@example.org::1234"/></w15:person></w15:people>`},
		{name: "word/styles.xml", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles ` + w + `><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style></w:styles>`},
		{name: "word/media/image1.png", data: docsPNG(t)},
		{name: "docProps/core.xml", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>Budget memo</dc:title><dc:creator>Jane Leaker</dc:creator><cp:lastModifiedBy>Jane Leaker</cp:lastModifiedBy><cp:revision>7</cp:revision><dcterms:created xsi:type="dcterms:W3CDTF">2024-03-01T10:00:00Z</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">2024-03-02T11:00:00Z</dcterms:modified></cp:coreProperties>`},
		{name: "docProps/app.xml", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><Template>Normal.dotm</Template><TotalTime>42</TotalTime><Pages>1</Pages><Application>LeakWriter Office</Application><Company>Ministry of Leaks</Company><Manager>Boss Person</Manager></Properties>`},
		{name: "docProps/custom.xml", data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Department"><vt:lpwstr>Internal Audit</vt:lpwstr></property></Properties>`},
		{name: "docProps/thumbnail.jpeg", data: docsJPEG(t)},
	})
}

func TestDOCXScrub(t *testing.T) {
	in := docsTestDOCX(t)
	out, rep := docsScrub(t, in, "memo.docx", "")
	if rep.Format != "DOCX" {
		t.Errorf("format %q, want DOCX", rep.Format)
	}
	docsWantKinds(t, rep, KindDocProps, KindAuthor, KindCustom, KindThumbnail, KindRevision, KindComments)

	files := docsZipClean(t, in, out, "word/styles.xml", "word/media/image1.png", "word/_rels/document.xml.rels")
	_, orig := docsUnzip(t, in)
	for _, gone := range []string{"docProps/custom.xml", "docProps/thumbnail.jpeg"} {
		if _, ok := files[gone]; ok {
			t.Errorf("%s stays", gone)
		}
	}
	docsOOXMLRefs(t, files)
	if got, want := docsXMLText(t, files["word/document.xml"], "t"), docsXMLText(t, orig["word/document.xml"], "t"); got != want || got != docsDOCXBody {
		t.Errorf("the document's text changed:\n%q\n%q", got, want)
	}
	if got := docsXMLText(t, files["word/comments.xml"], "t"); got != "Is this figure right?" {
		t.Errorf("the comment's text is %q", got)
	}
	for name, data := range files {
		if !strings.HasSuffix(name, ".xml") && !strings.HasSuffix(name, ".rels") {
			continue
		}
		docsXMLAttrs(t, data, func(se xml.StartElement) {
			if se.Name.Local == "rsids" || se.Name.Local == "attachedTemplate" || se.Name.Local == "person" {
				t.Errorf("%s: %s stays", name, se.Name.Local)
			}
			for _, a := range se.Attr {
				if strings.HasPrefix(a.Name.Local, "rsid") {
					t.Errorf("%s: %s has %s=%q", name, se.Name.Local, a.Name.Local, a.Value)
				}
				if a.Name.Local == "date" {
					t.Errorf("%s: %s has a date %q", name, se.Name.Local, a.Value)
				}
			}
			if se.Name.Local == "comment" {
				author, _ := xmlAttrNS(se.Attr, "author")
				initials, _ := xmlAttrNS(se.Attr, "initials")
				if author != docNeutralAuthor || initials != docNeutralInitials {
					t.Errorf("comment by %q (%q)", author, initials)
				}
			}
		})
	}
	if !bytes.Contains(files["docProps/core.xml"], []byte("core-properties")) || bytes.Contains(files["docProps/core.xml"], []byte("Budget memo")) {
		t.Errorf("docProps/core.xml is\n%s", files["docProps/core.xml"])
	}

	exiftool := exiftoolDocs(t)
	tb := docsExif(t, exiftool, in, ".docx")
	docsHasTags(t, tb, "Creator", "LastModifiedBy", "Company", "Department", "CreateDate", "PreviewImage", "Comment")
	ta := docsExif(t, exiftool, out, ".docx")
	docsNoTags(t, ta, []string{"Creator", "LastModifiedBy", "Company", "Manager", "Department", "Template", "TotalEditTime",
		"CreateDate", "ModifyDate", "RevisionNumber", "Title", "Application", "PreviewImage", "Comment"}, []string{"XMP", "XML"})
	t.Logf("exiftool, before: %v\nafter: %v", tb, ta)
}

// xmlAttrNS returns the value of the attribute local in any namespace.
func xmlAttrNS(attrs []xml.Attr, local string) (string, bool) {
	for _, a := range attrs {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

func TestXLSXAndPPTXAuthors(t *testing.T) {
	xlsx := docsZip(t, []docsMember{
		{name: "[Content_Types].xml", data: `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>`},
		{name: "_rels/.rels", data: `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{name: "xl/workbook.xml", data: `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"><mc:AlternateContent><mc:Choice Requires="x15"><x15ac:absPath url="C:\Users\jleaker\Documents\"/></mc:Choice></mc:AlternateContent><sheets><sheet name="Budget" sheetId="1"/></sheets></workbook>`},
		{name: "xl/comments1.xml", data: `<?xml version="1.0" encoding="UTF-8"?><comments xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><authors><author>Jane Leaker</author></authors><commentList><comment ref="A1" authorId="0"><text><r><t>Check this</t></r></text></comment></commentList></comments>`},
		{name: "xl/persons/person.xml", data: `<?xml version="1.0" encoding="UTF-8"?><personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"><person displayName="Jane Leaker" id="{1}" userId="jane.leaker@example.org" providerId="AD"/></personList>`},
	})
	out, rep := docsScrub(t, xlsx, "budget.xlsx", "")
	docsWantKinds(t, rep, KindComments, KindDocProps)
	files := docsZipClean(t, xlsx, out)
	if got := docsXMLText(t, files["xl/comments1.xml"], "t"); got != "Check this" {
		t.Errorf("the comment's text is %q", got)
	}
	if got := docsXMLText(t, files["xl/comments1.xml"], "author"); got != docNeutralAuthor {
		t.Errorf("the comment's author is %q", got)
	}
	if !bytes.Contains(files["xl/workbook.xml"], []byte(`<sheet name="Budget" sheetId="1"/>`)) {
		t.Errorf("xl/workbook.xml lost its sheets:\n%s", files["xl/workbook.xml"])
	}

	pptx := docsZip(t, []docsMember{
		{name: "[Content_Types].xml", data: `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/><Override PartName="/ppt/revisionInfo.xml" ContentType="application/vnd.ms-powerpoint.revisioninfo+xml"/></Types>`},
		{name: "_rels/.rels", data: `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="ppt/presentation.xml"/></Relationships>`},
		{name: "ppt/presentation.xml", data: `<?xml version="1.0" encoding="UTF-8"?><p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>`},
		{name: "ppt/_rels/presentation.xml.rels", data: `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId9" Type="http://schemas.microsoft.com/office/2015/10/relationships/revisionInfo" Target="revisionInfo.xml"/></Relationships>`},
		{name: "ppt/revisionInfo.xml", data: `<?xml version="1.0" encoding="UTF-8"?><p1510:revInfo xmlns:p1510="http://schemas.microsoft.com/office/powerpoint/2015/10/main"><p1510:revLst><p1510:client id="{JaneLaser}" v="1"/></p1510:revLst></p1510:revInfo>`},
		{name: "ppt/commentAuthors.xml", data: `<?xml version="1.0" encoding="UTF-8"?><p:cmAuthorLst xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cmAuthor id="1" name="Jane Leaker" initials="JL" lastIdx="1" clrIdx="0"/></p:cmAuthorLst>`},
	})
	out, rep = docsScrub(t, pptx, "", "application/vnd.openxmlformats-officedocument.presentationml.presentation")
	if rep.Format != "PPTX" {
		t.Errorf("format %q, want PPTX", rep.Format)
	}
	docsWantKinds(t, rep, KindComments, KindRevision)
	files = docsZipClean(t, pptx, out, "ppt/presentation.xml")
	docsOOXMLRefs(t, files)
	if _, ok := files["ppt/revisionInfo.xml"]; ok {
		t.Error("ppt/revisionInfo.xml stays")
	}
	if !bytes.Contains(files["ppt/commentAuthors.xml"], []byte(`name="Author" initials="A" lastIdx="1"`)) {
		t.Errorf("ppt/commentAuthors.xml is\n%s", files["ppt/commentAuthors.xml"])
	}

	// Told apart by content only.
	_, rep = docsScrub(t, pptx, "", "")
	if rep.Format != "OOXML" || !strings.Contains(rep.Note, "PPTX") {
		t.Errorf("an unnamed PPTX: %+v", rep)
	}
	// Misnamed.
	_, rep = docsScrub(t, pptx, "talk.docx", "")
	if rep.Format != "DOCX" || !strings.Contains(rep.Note, "PPTX") {
		t.Errorf("a PPTX named .docx: %+v", rep)
	}
}

// docsODFText is the body text of the test ODT.
const docsODFText = "The budget was moved. Ask the auditor & the clerk."

func docsTestODT(t testing.TB) []byte {
	const ns = `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" xmlns:officeooo="http://openoffice.org/2009/office" xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" office:version="1.3"`
	return docsZip(t, []docsMember{
		{name: "mimetype", data: "application/vnd.oasis.opendocument.text", stored: true},
		{name: "Configurations2/", data: ""},
		{name: "META-INF/manifest.xml", data: `<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">
 <manifest:file-entry manifest:full-path="/" manifest:version="1.3" manifest:media-type="application/vnd.oasis.opendocument.text"/>
 <manifest:file-entry manifest:full-path="Thumbnails/thumbnail.png" manifest:media-type="image/png"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="settings.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="Pictures/1.png" manifest:media-type="image/png"/>
</manifest:manifest>`},
		{name: "content.xml", data: `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content ` + ns + `><office:automatic-styles><style:style style:name="T1" style:family="text"><style:text-properties officeooo:rsid="0012ab34" officeooo:paragraph-rsid="0012ab35" fo:font-weight="bold"/></style:style></office:automatic-styles><office:body><office:text><text:tracked-changes><text:changed-region text:id="ct1"><text:insertion><office:change-info><dc:creator>Jane Leaker</dc:creator><dc:date>2024-03-01T10:00:00</dc:date></office:change-info></text:insertion></text:changed-region></text:tracked-changes><text:p text:style-name="P1">The budget was moved.<office:annotation office:name="c1"><dc:creator>Jane Leaker</dc:creator><dc:date>2024-03-01T10:00:00</dc:date><meta:creator-initials>JL</meta:creator-initials><text:p>Is this figure right?</text:p></office:annotation> <text:change-start text:change-id="ct1"/><text:span text:style-name="T1">Ask the auditor &amp; the clerk.</text:span><text:change-end text:change-id="ct1"/></text:p></office:text></office:body></office:document-content>`},
		{name: "styles.xml", data: `<?xml version="1.0" encoding="UTF-8"?>
<office:document-styles ` + ns + `><office:styles><style:style style:name="Standard" style:family="paragraph"/></office:styles></office:document-styles>`},
		{name: "meta.xml", data: `<?xml version="1.0" encoding="UTF-8"?>
<office:document-meta ` + ns + `><office:meta><meta:initial-creator>Jane Leaker</meta:initial-creator><meta:creation-date>2024-03-01T10:00:00</meta:creation-date><dc:creator>Jane Leaker</dc:creator><dc:date>2024-03-02T11:00:00</dc:date><dc:title>Budget memo</dc:title><meta:editing-cycles>7</meta:editing-cycles><meta:editing-duration>PT42M</meta:editing-duration><meta:generator>LeakWriter/3.1</meta:generator><meta:printed-by>Boss Person</meta:printed-by><meta:user-defined meta:name="Department">Internal Audit</meta:user-defined><meta:document-statistic meta:page-count="1"/></office:meta></office:document-meta>`},
		{name: "settings.xml", data: `<?xml version="1.0" encoding="UTF-8"?>
<office:document-settings ` + ns + `><office:settings><config:config-item-set config:name="ooo:configuration-settings"><config:config-item config:name="PrinterName" config:type="string">JaneLaser</config:config-item><config:config-item config:name="Rsid" config:type="int">1234567</config:config-item><config:config-item config:name="RsidRoot" config:type="int">1234560</config:config-item><config:config-item config:name="TabsRelativeToIndent" config:type="boolean">true</config:config-item></config:config-item-set></office:settings></office:document-settings>`},
		{name: "Pictures/1.png", data: docsPNG(t)},
		{name: "Thumbnails/thumbnail.png", data: docsPNG(t)},
	})
}

func TestODTScrub(t *testing.T) {
	in := docsTestODT(t)
	out, rep := docsScrub(t, in, "memo", "")
	if rep.Format != "ODT" {
		t.Errorf("format %q, want ODT", rep.Format)
	}
	docsWantKinds(t, rep, KindDocProps, KindAuthor, KindCustom, KindThumbnail, KindRevision, KindComments)

	files := docsZipClean(t, in, out, "mimetype", "styles.xml", "Pictures/1.png")
	zr, _ := docsUnzip(t, out)
	if f := zr.File[0]; f.Name != "mimetype" || f.Method != zip.Store || len(f.Extra) != 0 {
		t.Errorf("the first member is %s (method %d, extra %x), want mimetype, stored, no extra", f.Name, f.Method, f.Extra)
	}
	if _, ok := files["Thumbnails/thumbnail.png"]; ok {
		t.Error("the thumbnail stays")
	}
	docsXMLAttrs(t, files["META-INF/manifest.xml"], func(se xml.StartElement) {
		p, ok := xmlAttrNS(se.Attr, "full-path")
		if ok && p != "/" && files[p] == nil {
			t.Errorf("the manifest lists %s, which is missing", p)
		}
	})
	_, orig := docsUnzip(t, in)
	body := func(b []byte) string { return docsXMLText(t, b, "p", "annotation", "tracked-changes") }
	if got, want := body(files["content.xml"]), body(orig["content.xml"]); got != want || got != docsODFText {
		t.Errorf("the document's text changed:\n%q\n%q", got, want)
	}
	if got := docsXMLText(t, files["content.xml"], "annotation"); !strings.Contains(got, "Is this figure right?") || !strings.Contains(got, docNeutralAuthor) {
		t.Errorf("the comment is %q", got)
	}
	for _, name := range []string{"content.xml", "settings.xml"} {
		docsXMLAttrs(t, files[name], func(se xml.StartElement) {
			for _, a := range se.Attr {
				if strings.Contains(a.Name.Local, "rsid") || strings.HasPrefix(a.Value, "Rsid") {
					t.Errorf("%s: %s has %s=%q", name, se.Name.Local, a.Name.Local, a.Value)
				}
			}
		})
	}
	if !bytes.Contains(files["meta.xml"], []byte(`office:version="1.3"><office:meta/>`)) {
		t.Errorf("meta.xml is\n%s", files["meta.xml"])
	}
	if !bytes.Contains(files["settings.xml"], []byte("TabsRelativeToIndent")) {
		t.Error("settings.xml lost a setting it should keep")
	}

	exiftool := exiftoolDocs(t)
	tb := docsExif(t, exiftool, in, ".odt")
	docsHasTags(t, tb, "Initial-creator", "Creator", "Editing-cycles", "Generator", "User-defined", "PreviewPNG", "Comment")
	ta := docsExif(t, exiftool, out, ".odt")
	docsNoTags(t, ta, []string{"Initial-creator", "Creator", "Creation-date", "Date", "Editing-cycles", "Editing-duration", "Generator",
		"Printed-by", "User-defined", "User-definedName", "Title", "Document-statisticPage-count", "PreviewPNG", "Comment"}, []string{"XMP"})
	t.Logf("exiftool, before: %v\nafter: %v", tb, ta)
}

// The other OpenDocument kinds are told apart by their mimetype.
func TestODFFormats(t *testing.T) {
	for mime, format := range map[string]string{
		"application/vnd.oasis.opendocument.spreadsheet":   "ODS",
		"application/vnd.oasis.opendocument.presentation":  "ODP",
		"application/vnd.oasis.opendocument.graphics":      "ODF",
		"application/vnd.oasis.opendocument.text-template": "ODT",
	} {
		in := docsZip(t, []docsMember{
			{name: "mimetype", data: mime, stored: true},
			{name: "META-INF/manifest.xml", data: `<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>`},
			{name: "meta.xml", data: `<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"><office:meta><meta:initial-creator>Jane Leaker</meta:initial-creator></office:meta></office:document-meta>`},
		})
		out, rep := docsScrub(t, in, "x.docx", "")
		if rep.Format != format {
			t.Errorf("%s: format %q, want %s", mime, rep.Format, format)
		}
		docsWantKinds(t, rep, KindAuthor)
		docsZipClean(t, in, out, "mimetype")
	}
}

// ---- broken files

// docsFormatError fails t unless scrubbing b, as name, fails with a
// FormatError (or ErrUnsupported when too little is left to tell the
// format), quickly.
func docsFormatError(t *testing.T, b []byte, name string) {
	t.Helper()
	if err := docsBroken(t, b, name); err == nil {
		t.Errorf("%s (%d bytes): scrubbed, want a FormatError", name, len(b))
	}
}

// docsBroken scrubs a damaged file: it must fail with a FormatError (or
// ErrUnsupported when too little is left to tell the format), quickly, or
// succeed (readers of PDF mend a lost trailer) with nothing of the secrets
// left.
func docsBroken(t *testing.T, b []byte, name string) error {
	t.Helper()
	start := time.Now()
	defer func() {
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s (%d bytes): took %v", name, len(b), d)
		}
	}()
	var out bytes.Buffer
	rep, err := Scrub(bytes.NewReader(b), int64(len(b)), name, "", &out)
	var fe *FormatError
	switch {
	case err == nil:
		if !rep.Scrubbed {
			t.Errorf("%s (%d bytes): no error, not scrubbed", name, len(b))
		}
		var all string
		if strings.HasSuffix(name, ".pdf") {
			all = docsPDFStrings(t, docsPDFRead(t, out.Bytes()))
		} else {
			_, files := docsUnzip(t, out.Bytes())
			for _, data := range files {
				all += string(data)
			}
		}
		for _, s := range docsSecrets {
			if strings.Contains(all, s) {
				t.Errorf("%s (%d bytes): scrubbed, but %q stays", name, len(b), s)
			}
		}
	case errors.As(err, &fe):
		if errors.Is(err, errDocPanic) {
			t.Errorf("%s (%d bytes): the scrubber panicked: %v", name, len(b), err)
		}
		if rep.Scrubbed {
			t.Errorf("%s (%d bytes): reported as scrubbed", name, len(b))
		}
	case errors.Is(err, ErrUnsupported) && len(b) < 64:
	case errors.Is(err, ErrTooComplex):
		if rep.Scrubbed || !rep.TooComplex {
			t.Errorf("%s (%d bytes): too complex, reported as %+v", name, len(b), rep)
		}
	default:
		t.Errorf("%s (%d bytes): %v (%+v), want a FormatError", name, len(b), err, rep)
	}
	return err
}

func TestDocsBroken(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"memo.pdf", docsTestPDF()},
		{"memo.docx", docsTestDOCX(t)},
		{"memo.odt", docsTestODT(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, n := range []int{0, 10, 63, 64, 200, len(c.b) / 3, len(c.b) / 2} {
				docsFormatError(t, c.b[:n], c.name)
			}
			for _, n := range []int{len(c.b) - 30, len(c.b) - 1} {
				docsBroken(t, c.b[:n], c.name)
			}
			// Bytes overwritten in the middle.
			for _, at := range []int{len(c.b) / 4, len(c.b) / 2, len(c.b) - 100} {
				b := slices.Clone(c.b)
				copy(b[at:], bytes.Repeat([]byte{0xff}, 40))
				docsBroken(t, b, c.name)
			}
		})
	}
	// Not XML where XML must be.
	bad := docsZip(t, []docsMember{
		{name: "[Content_Types].xml", data: `<Types>`},
		{name: "_rels/.rels", data: `<Relationships/>`},
	})
	docsFormatError(t, bad, "bad.docx")
	dtd := docsZip(t, []docsMember{
		{name: "[Content_Types].xml", data: `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><Types>&lol;</Types>`},
		{name: "_rels/.rels", data: `<Relationships/>`},
	})
	docsFormatError(t, dtd, "dtd.docx")
	deep := docsZip(t, []docsMember{
		{name: "[Content_Types].xml", data: `<Types/>`},
		{name: "_rels/.rels", data: `<Relationships/>`},
		{name: "word/document.xml", data: strings.Repeat("<a>", docXMLMaxDepth+1) + strings.Repeat("</a>", docXMLMaxDepth+1)},
	})
	docsFormatError(t, deep, "deep.docx")
	docsFormatError(t, docsZip(t, []docsMember{{name: "mimetype", data: "application/vnd.oasis.opendocument.text", stored: true}}), "nomanifest.odt")
}

// docsBomb is a deflate stream that inflates to about n MiB of zeros from
// about n KiB.
func docsBomb(t *testing.T, n int) []byte {
	var chunk bytes.Buffer
	fw, _ := flate.NewWriter(&chunk, flate.BestCompression)
	fw.Write(make([]byte, 1<<20))
	fw.Flush()                                                // ends byte-aligned, not final: chunks can follow each other
	return append(bytes.Repeat(chunk.Bytes(), n), 0x03, 0x00) // an empty final block
}

// docsBombZip is a ZIP whose member name inflates to n MiB but says it
// holds claim bytes.
func docsBombZip(t *testing.T, members []docsMember, name string, n int, claim uint64) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, m := range members {
		w, _ := zw.Create(m.name)
		io.WriteString(w, m.data)
	}
	data := docsBomb(t, n)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: 1, CompressedSize64: uint64(len(data)), UncompressedSize64: claim})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	zw.Close()
	return b.Bytes()
}

func TestDocsZipBomb(t *testing.T) {
	ooxml := []docsMember{
		{name: "[Content_Types].xml", data: `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`},
		{name: "_rels/.rels", data: `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>`},
	}
	odf := []docsMember{
		{name: "mimetype", data: "application/vnd.oasis.opendocument.text"},
		{name: "META-INF/manifest.xml", data: `<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>`},
	}
	big := int(DefaultBudget.Memory>>20) + 16 // MiB, past the limit of a part
	for _, c := range []struct {
		name    string
		members []docsMember
		part    string
		claim   uint64
	}{
		{"lies.docx", ooxml, "word/document.xml", 1000},
		{"claims.docx", ooxml, "word/document.xml", 1 << 40},
		{"lies.odt", odf, "content.xml", 1000},
		{"rels.docx", ooxml[:1], "_rels/.rels", 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := docsBombZip(t, c.members, c.part, big, c.claim)
			if c.claim > uint64(big)<<20 { // it says how big it is: too complex
				docsTooComplex(t, b, c.name, DefaultBudget)
			} else { // it lies: archive/zip stops where it said it ends
				docsFormatError(t, b, c.name)
			}
		})
	}
	// A bomb in a member that is copied raw is never inflated: it passes
	// through as it came.
	b := docsBombZip(t, ooxml, "word/media/image1.png", big, 1000)
	start := time.Now()
	out, _ := docsScrub(t, b, "bomb.docx", "")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a raw bomb took %v", d)
	}
	if len(out) > len(b)+1000 {
		t.Errorf("%d bytes out of %d", len(out), len(b))
	}
}

// The total inflated from one file is bounded, not only each part.
func TestDocsInflateBudget(t *testing.T) {
	members := []docsMember{
		{name: "[Content_Types].xml", data: `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`},
		{name: "_rels/.rels", data: `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>`},
	}
	for i := range 3 {
		members = append(members, docsMember{name: fmt.Sprintf("word/part%d.xml", i), data: "<a>" + strings.Repeat(" ", 3<<10) + "</a>"})
	}
	// Parts of at most 4 KiB, 6 KiB of them in all.
	docsTooComplex(t, docsZip(t, members), "budget.docx", Budget{Memory: 3 << 10, Inflate: 1 << 20, Time: time.Minute})
}

// A PDF larger than scrub reads is left as it is.
func TestPDFTooLarge(t *testing.T) {
	docsTooComplex(t, docsTestPDF(), "memo.pdf", Budget{Memory: 400, Inflate: 1 << 20, Time: time.Minute})
}

// docsTooComplex scrubs b within budget: it must be too complex.
func docsTooComplex(t *testing.T, b []byte, name string, budget Budget) {
	t.Helper()
	var out bytes.Buffer
	rep, err := ScrubWithin(context.Background(), budget, bytes.NewReader(b), int64(len(b)), name, "", &out)
	if !errors.Is(err, ErrTooComplex) || !rep.TooComplex || rep.Scrubbed || rep.Note != TooComplexNote {
		t.Errorf("%s (%d bytes): %v, %+v; want too complex", name, len(b), err, rep)
	}
}

// docsJPEGExif is a JPEG whose EXIF names its photographer.
func docsJPEGExif(t testing.TB) []byte {
	j := []byte(docsJPEG(t))
	artist := "Jane Leaker\x00"
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a\x00\x00\x00\x08")
	for _, v := range []any{uint16(1), uint16(0x013B), uint16(2), uint32(len(artist)), uint32(26), uint32(0)} { // one entry: Artist, ASCII
		binary.Write(&tiff, binary.BigEndian, v)
	}
	tiff.WriteString(artist)
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	return slices.Concat(j[:2], seg, payload, j[2:])
}

// Pictures in documents are scrubbed by the scrubber of their format.
func TestDocsEmbeddedMedia(t *testing.T) {
	photo := docsJPEGExif(t)
	s := For(photo, "photo.jpg", "image/jpeg")
	if s == nil {
		t.Skip("no JPEG scrubber is registered")
	}
	broken := "\xff\xd8\xff\xe1\xff\xffExif\x00\x00MM"
	_, brokenErr := s.Scrub(strings.NewReader(broken), int64(len(broken)), io.Discard)
	want, err := jpeg.Decode(bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, media string
		b           []byte
	}{
		{"photo.docx", "word/media/", docsZip(t, []docsMember{
			{name: "[Content_Types].xml", data: `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`},
			{name: "_rels/.rels", data: `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>`},
			{name: "word/media/image1.jpeg", data: string(photo)},
			{name: "word/media/image2.jpeg", data: broken},
		})},
		{"photo.odt", "Pictures/", docsZip(t, []docsMember{
			{name: "mimetype", data: "application/vnd.oasis.opendocument.text", stored: true},
			{name: "META-INF/manifest.xml", data: `<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>`},
			{name: "Pictures/image1.jpeg", data: string(photo), stored: true},
			{name: "Pictures/image2.jpeg", data: broken},
		})},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, rep := docsScrub(t, c.b, c.name, "")
			_, files := docsUnzip(t, out)
			got := files[c.media+"image1.jpeg"]
			if bytes.Contains(got, []byte("Jane Leaker")) {
				t.Errorf("the embedded photo still names its photographer (report %+v)", rep)
			}
			img, err := jpeg.Decode(bytes.NewReader(got))
			if err != nil {
				t.Fatalf("the embedded photo: %v", err)
			}
			if !bytes.Equal(img.(*image.YCbCr).Y, want.(*image.YCbCr).Y) || !bytes.Equal(img.(*image.YCbCr).Cb, want.(*image.YCbCr).Cb) {
				t.Error("the embedded photo's pixels changed")
			}
			if brokenErr != nil && !strings.Contains(rep.Note, "1 embedded picture") {
				t.Errorf("the note %q does not say a picture was kept as it was", rep.Note)
			}
			if string(files[c.media+"image2.jpeg"]) != broken {
				t.Error("the picture that could not be scrubbed is not kept as it was")
			}
		})
	}
}

// A JPEG image in a PDF is a JPEG file, EXIF and all: it is scrubbed.
func TestPDFEmbeddedJPEG(t *testing.T) {
	photo := docsJPEGExif(t)
	if s := For(photo, "photo.jpg", "image/jpeg"); s == nil {
		t.Skip("no JPEG scrubber is registered")
	}
	content := []byte("q 160 0 0 160 100 100 cm /Im1 Do Q")
	in := docsBuildPDF([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
		docsStream("/Type /XObject /Subtype /Image /Width 16 /Height 16 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode", photo),
		docsStream("", content),
	}, "/Root 1 0 R")
	out, rep := docsScrub(t, in, "photo.pdf", "")
	after := docsPDFRead(t, out)
	if strings.Contains(docsPDFStrings(t, after), "Jane Leaker") || bytes.Contains(out, []byte("Jane Leaker")) {
		t.Errorf("the PDF's image still names its photographer (report %+v)", rep)
	}
	want, _ := jpeg.Decode(bytes.NewReader(photo))
	found := false
	for _, e := range after.Table {
		sd, ok := e.Object.(types.StreamDict)
		if !ok || !pdfIsJPEG(sd) {
			continue
		}
		found = true
		img, err := jpeg.Decode(bytes.NewReader(sd.Raw))
		if err != nil {
			t.Fatalf("the image: %v", err)
		}
		if !bytes.Equal(img.(*image.YCbCr).Y, want.(*image.YCbCr).Y) {
			t.Error("the image's pixels changed")
		}
	}
	if !found {
		t.Error("the image is gone")
	}
	if pages := docsPDFPages(t, after); !bytes.Equal(pages[0], content) {
		t.Errorf("the page's content is %q", pages[0])
	}
}

func TestDocsMatch(t *testing.T) {
	docx, odt := docsTestDOCX(t), docsTestODT(t)
	plain := docsZip(t, []docsMember{{name: "notes.txt", data: "hello"}})
	pngWithPDF := append([]byte(docsPNG(t)[:33]), "tEXt%PDF-1.4"...)
	for _, c := range []struct {
		head              []byte
		name, ctype, want string
	}{
		{docsTestPDF(), "", "", "PDF"},
		{append([]byte("junk\n"), docsTestPDF()...), "x.pdf", "", "PDF"},
		{append([]byte("junk\n"), docsTestPDF()...), "x.txt", "", ""},
		{pngWithPDF, "x.png", "", "PNG"},
		{docx, "Memo.DOCX", "", "DOCX"},
		{docx, "", "", "OOXML"},
		{docx, "memo", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "DOCX"},
		{docx, "sheet.xlsx", "", "XLSX"},
		{odt, "memo.docx", "", "ODT"},
		{odt, "", "", "ODT"},
		{plain, "archive.zip", "application/zip", ""},
		{plain, "", "", ""},
		{[]byte("PK\x03\x04"), "x.docx", "", ""},
	} {
		got := ""
		if s := For(c.head, c.name, c.ctype); s != nil {
			got = s.Format()
		}
		if got != c.want && !(c.want == "PNG" && got != "PDF") {
			t.Errorf("For(%q…, %q, %q) = %q, want %q", c.head[:min(len(c.head), 8)], c.name, c.ctype, got, c.want)
		}
	}
}

// xmlEdit changes only what the rules say, and copies every other byte.
func TestXMLEdit(t *testing.T) {
	rules := xmlRules{
		drop: func(st []xml.Name, _ []xml.Attr) bool { return st[len(st)-1].Local == "gone" },
		attr: func(st []xml.Name, a xml.Attr) (string, bool) {
			switch a.Name.Local {
			case "rsid":
				return "", false
			case "author":
				return `A "quoted" <name> & co`, true
			}
			return a.Value, true
		},
		text: func(st []xml.Name) (string, bool) {
			if st[len(st)-1].Local == "creator" {
				return "Author & co", true
			}
			return "", false
		},
	}
	for _, c := range []struct{ in, want string }{
		{`<a/>`, `<a/>`},
		{"\ufeff<?xml version=\"1.0\"?>\n<!-- x rsid=\"1\" --><a x='1'  rsid = '00AB'\ty=\"2\"/>", "\ufeff<?xml version=\"1.0\"?>\n<!-- x rsid=\"1\" --><a x='1'\ty=\"2\"/>"},
		{`<a><b rsid="1">t rsid="2" &amp; <![CDATA[<c rsid="3">]]></b></a>`, `<a><b>t rsid="2" &amp; <![CDATA[<c rsid="3">]]></b></a>`},
		{`<a author='x' rsid="1" ></a>`, `<a author='A &#34;quoted&#34; &lt;name&gt; &amp; co' ></a>`},
		{`<a><gone x="1"><b/>text</gone> <gone/>kept</a>`, `<a> kept</a>`},
		{`<a><creator>Jane <b>Leaker</b></creator><creator/></a>`, `<a><creator>Author &amp; co</creator><creator/></a>`},
		{`<p:a xmlns:p="urn:x" p:rsid="1" p:x="2"/>`, `<p:a xmlns:p="urn:x" p:x="2"/>`},
		// Go's decoder takes attributes with no space between them; the
		// one after a removed attribute must not join the element's name.
		{`<a rsid="1"x="2"rsid='3'author="x"/>`, `<a x="2" author="A &#34;quoted&#34; &lt;name&gt; &amp; co"/>`},
	} {
		got, _, err := xmlEdit([]byte(c.in), rules)
		if err != nil || string(got) != c.want {
			t.Errorf("xmlEdit(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{``, `<a>`, `<a></b>`, `<a/><b/>`, `<!DOCTYPE a><a/>`, `<a x="1" x="2"/>trailing<`, "<a>\x00</a>"} {
		if _, _, err := xmlEdit([]byte(bad), rules); err == nil {
			t.Errorf("xmlEdit(%q): no error", bad)
		}
	}
}
