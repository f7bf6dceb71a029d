package scrub

// Office Open XML (DOCX, XLSX, PPTX), and the ZIP rewriting and XML editing
// that odf.go shares.
//
// A document is rewritten member by member. Members that carry no metadata
// (the text, the sheets, the slides, the images) are copied raw, their
// compressed bytes untouched; the XML parts that do are edited in place,
// token by token, so that everything but the removed attributes and
// elements stays byte for byte as it was. Every member's timestamps and
// extra fields (which carry times, and on Unix owners) are reset, and the
// archive comment is dropped.

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Bounds on a ZIP-based document. A part that is parsed is decompressed
// into memory, so the parts, and all of them together, are limited by the
// file's Budget: a member that claims or turns out to inflate past a
// limit makes the file too complex to scrub (a zip bomb costs at most the
// limit's worth of inflating, and is stored as sent). Members that are
// copied raw are never decompressed.
var (
	docZipMaxMembers = 10000 // members in one archive
	docXMLMaxDepth   = 1024  // nesting of XML elements
)

// docZipDate is the MS-DOS date every rewritten member gets: 1980-01-01,
// the format's epoch, as Office itself writes. It is set through the
// legacy FileHeader.ModifiedDate: FileHeader.Modified would add an
// extended-timestamp extra field, which ODF forbids on its mimetype.
const docZipDate = 0x21

// docBad is the FormatError of a ZIP-based document; if one of a is a
// *TooComplexError, that error is returned as it is.
func docBad(format, msg string, a ...any) error {
	for _, v := range a {
		var tc *TooComplexError
		if err, ok := v.(error); ok && errors.As(err, &tc) {
			return tc
		}
	}
	return &FormatError{Format: format, Err: fmt.Errorf(msg, a...)}
}

// docZipFirst returns the name of the first member of a ZIP file from its
// first bytes, and where that member's data starts; ok is false if head is
// not the start of a ZIP file.
func docZipFirst(head []byte) (name string, data int, ok bool) {
	if len(head) < 30 || string(head[:4]) != "PK\x03\x04" {
		return "", 0, false
	}
	n := int(binary.LittleEndian.Uint16(head[26:28]))
	x := int(binary.LittleEndian.Uint16(head[28:30]))
	if 30+n > len(head) {
		return "", 0, true
	}
	return string(head[30 : 30+n]), 30 + n + x, true
}

// docHasExt reports whether name ends with one of exts (".docx"…).
func docHasExt(name string, exts []string) bool {
	for _, e := range exts {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// docHasPrefix reports whether s starts with one of prefixes.
func docHasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// docZip is a ZIP-based document being read.
type docZip struct {
	format   string
	zr       *zip.Reader
	byName   map[string]*zip.File
	inflated int64 // bytes decompressed so far, of the parts parsed
	media    int64 // bytes decompressed so far, of the embedded media
	kept     int   // embedded media that could not be scrubbed
	m        *meter
}

func openDocZip(m *meter, format string, r io.ReaderAt, size int64) (*docZip, error) {
	m.format = format
	if err := docZipDirectory(m, r, size); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, docBad(format, "%v", err)
	}
	if len(zr.File) > docZipMaxMembers {
		return nil, docBad(format, "%d members, more than the %d scrub reads", len(zr.File), docZipMaxMembers)
	}
	z := &docZip{format: format, zr: zr, byName: make(map[string]*zip.File, len(zr.File)), m: m}
	for _, f := range zr.File {
		if _, dup := z.byName[f.Name]; dup {
			return nil, docBad(format, "member %q appears twice", f.Name)
		}
		if f.Flags&0x1 != 0 {
			return nil, docBad(format, "member %q is encrypted", f.Name)
		}
		z.byName[f.Name] = f
	}
	return z, nil
}

// docZipDirectory checks, before archive/zip reads it, that the ZIP's
// central directory (which archive/zip holds in memory, a few hundred
// bytes per member) says it has at most docZipMaxMembers members in at
// most an eighth of the memory budget. A ZIP64 directory (for more than
// 65535 members or 4 GiB, which no office document needs) is too
// complex. A file whose end record is not found is left to archive/zip,
// which refuses it.
func docZipDirectory(m *meter, r io.ReaderAt, size int64) error {
	tail := make([]byte, min(size, 22+65535))
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil && err != io.EOF {
		return err
	}
	i := bytes.LastIndex(tail, []byte("PK\x05\x06"))
	if i < 0 || len(tail)-i < 22 {
		return nil
	}
	eocd := tail[i:]
	count := binary.LittleEndian.Uint16(eocd[10:])
	dirSize := binary.LittleEndian.Uint32(eocd[12:])
	switch {
	case count == 0xFFFF || dirSize == 0xFFFFFFFF:
		return m.tooComplex("a ZIP64 archive")
	case int(count) > docZipMaxMembers:
		return m.tooComplex("%d members, more than the %d scrub reads", count, docZipMaxMembers)
	case int64(dirSize) > m.part():
		return m.tooComplex("a central directory of %d bytes, more than the %d scrub reads", dirSize, m.part())
	}
	return nil
}

// read decompresses a part to parse, of at most an eighth of the memory
// budget, counting what it inflates against the parts' total (twice the
// memory budget: each part is let go before the next is read, and
// parsing costs time).
func (z *docZip) read(f *zip.File) ([]byte, error) {
	return z.readBudget(f, z.m.part(), &z.inflated, 2*z.m.b.Memory)
}

// readBudget decompresses a member of at most max bytes, adding what it
// inflates to *spent, which may not pass budget, and to the file's
// inflated total. Past any of them, the file is too complex.
func (z *docZip) readBudget(f *zip.File, max int64, spent *int64, budget int64) ([]byte, error) {
	if err := z.m.check(); err != nil {
		return nil, err
	}
	if f.UncompressedSize64 > uint64(max) {
		return nil, z.m.tooComplex("a member claims %d bytes, more than the %d scrub reads", f.UncompressedSize64, max)
	}
	whole := true
	if left := budget - *spent; left < max {
		max, whole = left, false
	}
	rc, err := f.Open()
	if err != nil {
		return nil, docBad(z.format, "member %q: %v", f.Name, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.Grow(int(min(f.UncompressedSize64, uint64(max))) + bytes.MinRead) // at most max: a claim past it was refused
	n, err := buf.ReadFrom(io.LimitReader(rc, max+1))
	*spent += n
	if err != nil {
		return nil, docBad(z.format, "member %q: %v", f.Name, err)
	}
	if n > max {
		if whole {
			return nil, z.m.tooComplex("a member inflates past the %d bytes scrub reads (a zip bomb?)", max)
		}
		return nil, z.m.tooComplex("its members inflate past the %d bytes scrub reads in all", budget)
	}
	if err := z.m.inflate(n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// docZipCopy copies a member raw: its compressed bytes as they are, under
// a header that keeps only its name, method, checksum and sizes.
func docZipCopy(zw *zip.Writer, format string, f *zip.File) error {
	fh := &zip.FileHeader{
		Name:               f.Name,
		Method:             f.Method,
		Flags:              f.Flags & 0x800, // UTF-8 name; no data descriptor: the sizes are known
		CRC32:              f.CRC32,
		CompressedSize64:   f.CompressedSize64,
		UncompressedSize64: f.UncompressedSize64,
		CreatorVersion:     20,
		ReaderVersion:      20,
		ModifiedDate:       docZipDate,
	}
	if fh.CompressedSize64 >= 1<<32-1 || fh.UncompressedSize64 >= 1<<32-1 {
		fh.Flags |= 0x8 // ZIP64 sizes go in a data descriptor
	}
	raw, err := f.OpenRaw()
	if err != nil {
		return docBad(format, "member %q: %v", f.Name, err)
	}
	w, err := zw.CreateRaw(fh)
	if err != nil {
		return err
	}
	n, err := io.Copy(w, raw)
	if err != nil {
		return err
	}
	if uint64(n) != f.CompressedSize64 {
		return docBad(format, "member %q is truncated", f.Name)
	}
	return nil
}

// docZipWrite writes a new member, deflated.
func docZipWrite(zw *zip.Writer, name string, data []byte) error {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, ModifiedDate: docZipDate})
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// Embedded pictures and media (a photo in a report keeps its GPS
// position) are scrubbed by the scrubber of their format, when scrub has
// one; those it cannot scrub are kept as they are, and the report's note
// says how many.
// docMediaMax is the most of one embedded picture or media file that is
// decompressed into memory to be scrubbed: half the memory budget. What
// all of them inflate counts against the file's Inflate budget.
func (z *docZip) mediaMax() int64 { return z.m.b.Memory / 2 }

// docIsMedia reports whether a member (its lower-case name) is embedded
// media.
func docIsMedia(lower string) bool {
	return docHasPrefix(lower, []string{"word/media/", "xl/media/", "ppt/media/", "pictures/"}) && !strings.HasSuffix(lower, "/")
}

// scrubMedia writes a scrubbed copy of an embedded media member to zw,
// and returns false if the member is to be copied as it is: scrub has no
// scrubber for its format, or it could not be scrubbed (then z.kept
// counts it).
// copyMember writes one member of a package: edited by rules when it has
// any and they change something (kinds then collects what they found),
// scrubbed when it is a picture or other media, copied as it is otherwise.
func (z *docZip) copyMember(zw *zip.Writer, format string, f *zip.File, rules *xmlRules, kinds *[]string, rep *Report) error {
	if rules == nil {
		if docIsMedia(strings.ToLower(f.Name)) {
			done, err := z.scrubMedia(zw, f, rep)
			if err != nil || done {
				return err
			}
		}
		return docZipCopy(zw, format, f)
	}
	b, err := z.read(f)
	if err != nil {
		return err
	}
	out, changed, err := xmlEdit(b, *rules)
	if err != nil {
		return docBad(format, "%s: %v", f.Name, err)
	}
	if !changed {
		return docZipCopy(zw, format, f)
	}
	for _, k := range *kinds {
		rep.found(k)
	}
	return docZipWrite(zw, f.Name, out)
}

func (z *docZip) scrubMedia(zw *zip.Writer, f *zip.File, rep *Report) (bool, error) {
	rc, err := f.Open()
	if err != nil {
		z.kept++
		return false, nil
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(rc, head)
	rc.Close()
	s := For(head[:n], strings.ToLower(path.Base(f.Name)), "")
	switch s.(type) {
	case nil, ooxmlScrubber, odfScrubber, pdfScrubber: // no scrubber; no documents within documents
		return false, nil
	}
	data, err := z.readBudget(f, z.mediaMax(), &z.media, z.m.b.Inflate)
	if errors.Is(err, ErrTooComplex) && f.UncompressedSize64 <= uint64(z.mediaMax()) {
		return false, err // a bomb, or past the time or the file's total
	}
	if err != nil {
		z.kept++
		return false, nil
	}
	var out bytes.Buffer
	mrep, err := func() (r Report, err error) {
		defer docRecover(s.Format(), &err)
		return s.Scrub(bytes.NewReader(data), int64(len(data)), &out)
	}()
	if err != nil {
		z.kept++
		return false, nil
	}
	if bytes.Equal(out.Bytes(), data) {
		return false, nil
	}
	for _, k := range mrep.Found {
		rep.found(k)
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method, ModifiedDate: docZipDate})
	if err != nil {
		return false, err
	}
	_, err = w.Write(out.Bytes())
	return true, err
}

// note adds to a report's note what the scrubbing of a ZIP-based file
// could not do.
func (z *docZip) note(rep *Report) {
	if z.kept == 0 {
		return
	}
	n := fmt.Sprintf("%d embedded pictures or media files could not be scrubbed and are kept as they were", z.kept)
	if z.kept == 1 {
		n = "1 embedded picture or media file could not be scrubbed and is kept as it was"
	}
	if rep.Note != "" {
		n = rep.Note + "; " + n
	}
	rep.Note = n
}

// xmlRules say what an XML part keeps. Every callback may be nil. stack is
// the element and its ancestors, the element last.
type xmlRules struct {
	// drop reports whether an element (never the root), and all it
	// holds, goes.
	drop func(stack []xml.Name, attrs []xml.Attr) bool
	// attr returns the value to keep for an attribute of the element
	// stack ends with, and false to remove the attribute.
	attr func(stack []xml.Name, a xml.Attr) (string, bool)
	// text returns the text that replaces everything an element holds, and
	// false to keep what it holds.
	text func(stack []xml.Name) (string, bool)
	// chars sees the character data directly inside an element.
	chars func(stack []xml.Name, s []byte)
}

// xmlEdit applies rules to the XML document src. It copies src byte for
// byte except for the attributes and elements the rules remove or
// replace, and reports whether anything changed. src must be well formed,
// without a DTD, and no deeper than docXMLMaxDepth.
func xmlEdit(src []byte, rules xmlRules) ([]byte, bool, error) {
	d := xml.NewDecoder(bytes.NewReader(src))
	d.Strict = true
	var (
		out      bytes.Buffer
		copied   int64 // src[:copied] is dealt with
		prev     int64 // where the current token starts
		stack    []xml.Name
		skip     int  // > 0: inside an element that is dropped or whose content is replaced, at this depth
		dropping bool // the element at depth skip is dropped, not replaced
		replace  string
		changed  bool
		root     bool
	)
	out.Grow(len(src)) // once, not by doubling: the copy is about as long
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, err
		}
		start, end := prev, d.InputOffset()
		prev = end
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				if root {
					return nil, false, errors.New("more than one root element")
				}
				root = true
			}
			stack = append(stack, t.Name)
			if len(stack) > docXMLMaxDepth {
				return nil, false, fmt.Errorf("elements nested deeper than %d", docXMLMaxDepth)
			}
			if skip > 0 {
				continue
			}
			if rules.drop != nil && len(stack) > 1 && rules.drop(stack, t.Attr) {
				out.Write(src[copied:start])
				copied = end
				skip, dropping = len(stack), true
				changed = true
				continue
			}
			tag := src[start:end]
			if rules.attr != nil {
				edited, ch, err := xmlEditTag(tag, t.Attr, func(a xml.Attr) (string, bool) { return rules.attr(stack, a) })
				if err != nil {
					return nil, false, err
				}
				if ch {
					out.Write(src[copied:start])
					out.Write(edited)
					copied = end
					changed = true
					tag = edited
				}
			}
			if rules.text != nil && !bytes.HasSuffix(tag, []byte("/>")) {
				if s, ok := rules.text(stack); ok {
					out.Write(src[copied:end])
					copied = end
					skip, dropping, replace = len(stack), false, s
				}
			}
		case xml.EndElement:
			if skip == len(stack) {
				if dropping {
					copied = end
				} else {
					var b bytes.Buffer
					xml.EscapeText(&b, []byte(replace))
					if !bytes.Equal(b.Bytes(), src[copied:start]) {
						changed = true
					}
					out.Write(b.Bytes())
					copied = start // the end tag stays
				}
				skip = 0
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if skip == 0 && rules.chars != nil && len(stack) > 0 {
				rules.chars(stack, t)
			}
		case xml.Directive:
			return nil, false, errors.New("a DTD or other directive, which documents do not have")
		}
	}
	if !root {
		return nil, false, errors.New("no root element")
	}
	out.Write(src[copied:])
	return out.Bytes(), changed, nil
}

func xmlSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// xmlEditTag rewrites the start tag tag, whose attributes are attrs (in
// the order they appear), keeping, replacing or removing each as keep
// says. Only the attributes that change are touched.
func xmlEditTag(tag []byte, attrs []xml.Attr, keep func(xml.Attr) (string, bool)) ([]byte, bool, error) {
	type edit struct {
		drop, set bool
		value     string
	}
	edits := make([]edit, len(attrs))
	changed := false
	for i, a := range attrs {
		v, ok := keep(a)
		switch {
		case !ok:
			edits[i].drop, changed = true, true
		case v != a.Value:
			edits[i] = edit{set: true, value: v}
			changed = true
		}
	}
	if !changed {
		return tag, false, nil
	}
	bad := errors.New("a start tag scrub cannot take apart")
	i := 1
	for i < len(tag) && !xmlSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' {
		i++
	}
	var out bytes.Buffer
	out.Write(tag[:i])
	for k := 0; ; k++ {
		ws := i
		for i < len(tag) && xmlSpace(tag[i]) {
			i++
		}
		if i >= len(tag) {
			return nil, false, bad
		}
		if tag[i] == '/' || tag[i] == '>' {
			if k != len(attrs) {
				return nil, false, bad
			}
			out.Write(tag[ws:])
			return out.Bytes(), true, nil
		}
		if k >= len(attrs) {
			return nil, false, bad
		}
		name := i
		for i < len(tag) && tag[i] != '=' && !xmlSpace(tag[i]) {
			i++
		}
		raw := string(tag[name:i])
		if j := strings.LastIndexByte(raw, ':'); j >= 0 {
			raw = raw[j+1:]
		}
		if raw != attrs[k].Name.Local {
			return nil, false, bad
		}
		for i < len(tag) && xmlSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] != '=' {
			return nil, false, bad
		}
		i++
		for i < len(tag) && xmlSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || (tag[i] != '"' && tag[i] != '\'') {
			return nil, false, bad
		}
		q := tag[i]
		val := i + 1
		j := bytes.IndexByte(tag[val:], q)
		if j < 0 {
			return nil, false, bad
		}
		i = val + j + 1
		if !edits[k].drop && ws == name {
			// Go's decoder takes attributes with no space between
			// them; with the one before gone, this one would join
			// what precedes it.
			out.WriteByte(' ')
		}
		switch e := edits[k]; {
		case e.drop:
		case e.set:
			out.Write(tag[ws:val])
			xml.EscapeText(&out, []byte(e.value))
			out.WriteByte(q)
		default:
			out.Write(tag[ws:i])
		}
	}
}

// xmlIn reports whether name is local in one of the namespaces.
func xmlIn(name xml.Name, local string, spaces ...string) bool {
	if name.Local != local {
		return false
	}
	for _, s := range spaces {
		if name.Space == s {
			return true
		}
	}
	return false
}

// Namespaces of Office Open XML (transitional and strict).
const (
	nsW       = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
	nsWStrict = "http://purl.oclc.org/ooxml/wordprocessingml/main"
	nsW15     = "http://schemas.microsoft.com/office/word/2012/wordml"
	nsW16cex  = "http://schemas.microsoft.com/office/word/2018/wordml/cex"
	nsX15ac   = "http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"
	nsSML     = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
	nsSMLStr  = "http://purl.oclc.org/ooxml/spreadsheetml/main"
	nsX18tc   = "http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"
	nsPML     = "http://schemas.openxmlformats.org/presentationml/2006/main"
	nsPMLStr  = "http://purl.oclc.org/ooxml/presentationml/main"
	nsP188    = "http://schemas.microsoft.com/office/powerpoint/2018/8/main"
	nsRels    = "http://schemas.openxmlformats.org/package/2006/relationships"
	nsTypes   = "http://schemas.openxmlformats.org/package/2006/content-types"
)

// ooxmlDropRels are the relationship types whose target parts scrub drops
// (the relationship goes too), and what each is.
var ooxmlDropRels = map[string]string{
	"http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties": KindCustom,
	"http://purl.oclc.org/ooxml/officeDocument/relationships/customProperties":              KindCustom,
	"http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail":       KindThumbnail,
	"http://purl.oclc.org/ooxml/officeDocument/relationships/metadata/thumbnail":            KindThumbnail,
	// Sensitivity labels name the organisation's tenant and site.
	"http://schemas.microsoft.com/office/2020/02/relationships/classificationlabels": KindDocProps,
	// PowerPoint's revision information: the ids of the clients that edited.
	"http://schemas.microsoft.com/office/2015/10/relationships/revisionInfo": KindRevision,
	// Word's attached template, whose path often holds the user's name.
	"http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate": KindDocProps,
	"http://purl.oclc.org/ooxml/officeDocument/relationships/attachedTemplate":             KindDocProps,
}

// The relationship types of the parts scrub replaces with empty ones.
var (
	ooxmlCoreRels = []string{
		"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
		"http://schemas.openxmlformats.org/officedocument/2006/relationships/metadata/core-properties",
	}
	ooxmlAppRels = []string{
		"http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties",
		"http://purl.oclc.org/ooxml/officeDocument/relationships/extendedProperties",
	}
)

// The empty core and extended properties that replace a document's.
const (
	ooxmlEmptyCore = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"></cp:coreProperties>`
	ooxmlEmptyApp = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="%s" xmlns:vt="%s"></Properties>`
	ooxmlAppNS          = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
	ooxmlAppNSStrict    = "http://purl.oclc.org/ooxml/officeDocument/extendedProperties"
	ooxmlVTypesNS       = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
	ooxmlVTypesNSStrict = "http://purl.oclc.org/ooxml/officeDocument/docPropsVTypes"
)

// ooxmlNeutral is the name that replaces authors' names, and its initials.
const (
	docNeutralAuthor   = "Author"
	docNeutralInitials = "A"
)

// ooxmlScrubber scrubs one kind of Office Open XML package; the last one
// registered takes packages told apart by content only.
type ooxmlScrubber struct {
	format string
	exts   []string // lower-case names' endings
	types  []string // prefixes of declared types
}

func init() {
	register(ooxmlScrubber{"DOCX", []string{".docx", ".docm", ".dotx", ".dotm"}, []string{
		"application/vnd.openxmlformats-officedocument.wordprocessingml.",
		"application/vnd.ms-word.document.macroenabled", "application/vnd.ms-word.template.macroenabled"}})
	register(ooxmlScrubber{"XLSX", []string{".xlsx", ".xlsm", ".xltx", ".xltm"}, []string{
		"application/vnd.openxmlformats-officedocument.spreadsheetml.",
		"application/vnd.ms-excel.sheet.macroenabled", "application/vnd.ms-excel.template.macroenabled"}})
	register(ooxmlScrubber{"PPTX", []string{".pptx", ".pptm", ".potx", ".potm", ".ppsx", ".ppsm"}, []string{
		"application/vnd.openxmlformats-officedocument.presentationml.",
		"application/vnd.ms-powerpoint.presentation.macroenabled", "application/vnd.ms-powerpoint.slideshow.macroenabled",
		"application/vnd.ms-powerpoint.template.macroenabled"}})
	register(ooxmlScrubber{format: "OOXML"})
}

func (s ooxmlScrubber) Format() string { return s.format }

func (s ooxmlScrubber) Match(head []byte, name, contentType string) bool {
	first, _, ok := docZipFirst(head)
	if !ok || first == "mimetype" { // an OpenDocument file
		return false
	}
	if s.exts == nil {
		return first == "[Content_Types].xml"
	}
	return docHasExt(name, s.exts) || docHasPrefix(contentType, s.types)
}

// ooxmlKind names the kind of package from its main part's content type.
func ooxmlKind(types []byte) string {
	switch {
	case bytes.Contains(types, []byte("wordprocessingml.document.main")), bytes.Contains(types, []byte("wordprocessingml.template.main")),
		bytes.Contains(types, []byte("ms-word.document.macroEnabled.main")), bytes.Contains(types, []byte("ms-word.template.macroEnabledTemplate.main")):
		return "DOCX"
	case bytes.Contains(types, []byte("spreadsheetml.sheet.main")), bytes.Contains(types, []byte("spreadsheetml.template.main")),
		bytes.Contains(types, []byte("ms-excel.sheet.macroEnabled.main")), bytes.Contains(types, []byte("ms-excel.template.macroEnabled.main")):
		return "XLSX"
	case bytes.Contains(types, []byte("presentationml.presentation.main")), bytes.Contains(types, []byte("presentationml.slideshow.main")),
		bytes.Contains(types, []byte("presentationml.template.main")), bytes.Contains(types, []byte("ms-powerpoint.presentation.macroEnabled.main")),
		bytes.Contains(types, []byte("ms-powerpoint.slideshow.macroEnabled.main")), bytes.Contains(types, []byte("ms-powerpoint.template.macroEnabled.main")):
		return "PPTX"
	}
	return ""
}

// ooxmlRelsSource is the folder the targets of a relationships part are
// relative to: "" for _rels/.rels, "word" for word/_rels/document.xml.rels.
func ooxmlRelsSource(name string) string {
	dir := path.Dir(path.Dir(name)) // a/_rels/b.rels → a
	if dir == "." {
		return ""
	}
	return dir
}

// ooxmlResolve returns the member a relationship's target names.
func ooxmlResolve(source, target string) string {
	if strings.HasPrefix(target, "/") {
		return strings.TrimPrefix(path.Clean(target), "/")
	}
	return strings.TrimPrefix(path.Clean("/"+source+"/"+target), "/")
}

// errDocPanic marks the error of a scrubber that panicked: the fuzz
// targets of the ZIP-based formats fail on it.
var errDocPanic = errors.New("scrubber panicked")

// docRecover turns a panic into a FormatError: a server must not crash on
// a file, whatever reads it.
func docRecover(format string, err *error) {
	if p := recover(); p != nil {
		*err = &FormatError{Format: format, Err: fmt.Errorf("%w: %v", errDocPanic, p)}
	}
}

// docAttr returns the value of the attribute local (in no namespace).
func docAttr(attrs []xml.Attr, local string) (string, bool) {
	for _, a := range attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// ooxmlIsRels reports whether a member is a relationships part.
func ooxmlIsRels(name string) bool {
	return strings.HasSuffix(name, ".rels") && path.Base(path.Dir(name)) == "_rels"
}

func (s ooxmlScrubber) Scrub(r io.ReaderAt, size int64, w io.Writer) (Report, error) {
	return s.scrubWithin(defaultMeter(), r, size, w)
}

func (s ooxmlScrubber) scrubWithin(m *meter, r io.ReaderAt, size int64, w io.Writer) (rep Report, err error) {
	defer docRecover(s.format, &err)
	z, err := openDocZip(m, s.format, r, size)
	if err != nil {
		return rep, err
	}
	typesFile := z.byName["[Content_Types].xml"]
	if typesFile == nil {
		return rep, docBad(s.format, "no [Content_Types].xml: not an Office Open XML package")
	}
	if z.byName["_rels/.rels"] == nil {
		return rep, docBad(s.format, "no _rels/.rels: not an Office Open XML package")
	}

	// The relationships say which parts go and which are emptied. Part
	// names are compared without case, as packages do.
	var (
		dropped = map[string]string{} // lower-case member → kind
		emptied = map[string]string{} // lower-case member → "core" or "app"
		edited  = map[string][]byte{} // member → its new content
	)
	for _, f := range z.zr.File {
		if !ooxmlIsRels(f.Name) {
			continue
		}
		b, err := z.read(f)
		if err != nil {
			return rep, err
		}
		source := ooxmlRelsSource(f.Name)
		out, changed, err := xmlEdit(b, xmlRules{drop: func(st []xml.Name, attrs []xml.Attr) bool {
			if !xmlIn(st[len(st)-1], "Relationship", nsRels) {
				return false
			}
			typ, _ := docAttr(attrs, "Type")
			target, _ := docAttr(attrs, "Target")
			mode, _ := docAttr(attrs, "TargetMode")
			internal := mode != "External"
			part := strings.ToLower(ooxmlResolve(source, target))
			if target == "" || part == "" {
				internal = false // names no part
			}
			if kind, ok := ooxmlDropRels[typ]; ok {
				rep.found(kind)
				if internal {
					dropped[part] = kind
				}
				return true
			}
			switch {
			case !internal:
			case typ == ooxmlCoreRels[0] || typ == ooxmlCoreRels[1]:
				emptied[part] = "core"
			case typ == ooxmlAppRels[0] || typ == ooxmlAppRels[1]:
				emptied[part] = "app"
			}
			return false
		}})
		if err != nil {
			return rep, docBad(s.format, "%s: %v", f.Name, err)
		}
		if changed {
			edited[f.Name] = out
		}
	}
	// The usual places, whether related or not.
	for _, f := range z.zr.File {
		switch name := strings.ToLower(f.Name); {
		case name == "docprops/custom.xml":
			dropped[name] = KindCustom
		case strings.HasPrefix(name, "docprops/thumbnail."):
			dropped[name] = KindThumbnail
		case name == "docmetadata/labelinfo.xml":
			dropped[name] = KindDocProps
		case name == "docprops/core.xml":
			emptied[name] = "core"
		case name == "docprops/app.xml":
			emptied[name] = "app"
		}
	}

	// The content types: the overrides of dropped parts go.
	types, err := z.read(typesFile)
	if err != nil {
		return rep, err
	}
	kind := ooxmlKind(types)
	out, changed, err := xmlEdit(types, xmlRules{drop: func(st []xml.Name, attrs []xml.Attr) bool {
		if !xmlIn(st[len(st)-1], "Override", nsTypes) {
			return false
		}
		p, _ := docAttr(attrs, "PartName")
		_, ok := dropped[strings.ToLower(ooxmlResolve("", p))]
		return ok
	}})
	if err != nil {
		return rep, docBad(s.format, "[Content_Types].xml: %v", err)
	}
	if changed {
		edited[typesFile.Name] = out
	}

	zw := zip.NewWriter(w)
	for _, f := range z.zr.File {
		lower := strings.ToLower(f.Name)
		if k, ok := dropped[lower]; ok {
			rep.found(k)
			continue
		}
		if ooxmlIsRels(f.Name) {
			// The relationships of a dropped part go with it.
			dir := path.Dir(path.Dir(lower))
			if dir == "." {
				dir = ""
			} else {
				dir += "/"
			}
			part := strings.TrimSuffix(path.Base(lower), ".rels")
			if _, ok := dropped[dir+part]; ok && part != "" {
				continue
			}
		}
		if b, ok := edited[f.Name]; ok {
			if err := docZipWrite(zw, f.Name, b); err != nil {
				return rep, err
			}
			continue
		}
		if strings.HasSuffix(f.Name, "/") {
			if err := docZipCopy(zw, s.format, f); err != nil {
				return rep, err
			}
			continue
		}
		var rules *xmlRules
		var kinds []string
		switch emptied[lower] {
		case "core", "app":
			b, err := z.read(f)
			if err != nil {
				return rep, err
			}
			empty := ooxmlEmptyCore
			if emptied[lower] == "app" {
				empty = fmt.Sprintf(ooxmlEmptyApp, ooxmlAppNS, ooxmlVTypesNS)
				if bytes.Contains(b, []byte(ooxmlAppNSStrict)) {
					empty = fmt.Sprintf(ooxmlEmptyApp, ooxmlAppNSStrict, ooxmlVTypesNSStrict)
				}
			}
			if !bytes.Equal(b, []byte(empty)) {
				docPropsInspect(b, &rep)
			}
			if err := docZipWrite(zw, f.Name, []byte(empty)); err != nil {
				return rep, err
			}
			continue
		}
		rules = ooxmlPartRules(lower, &kinds)
		if err := z.copyMember(zw, s.format, f, rules, &kinds, &rep); err != nil {
			return rep, err
		}
	}
	if err := zw.Close(); err != nil {
		return rep, err
	}
	switch {
	case kind == "":
	case s.exts == nil:
		rep.Note = "an Office Open XML " + kind + " file"
	case kind != s.format:
		rep.Note = fmt.Sprintf("the file is a %s, not a %s as its name or type says", kind, s.format)
	}
	z.note(&rep)
	return rep, nil
}

// docPropsInspect reports what a properties part (OOXML's core or
// extended properties, ODF's meta.xml) held.
func docPropsInspect(b []byte, rep *Report) {
	_, _, err := xmlEdit(b, xmlRules{chars: func(st []xml.Name, s []byte) {
		if len(bytes.TrimSpace(s)) == 0 || len(st) < 2 {
			return
		}
		rep.found(KindDocProps)
		for _, n := range st[1:] {
			switch n.Local {
			case "creator", "lastModifiedBy", "initial-creator", "printed-by", "Manager":
				rep.found(KindAuthor)
			case "user-defined":
				rep.found(KindCustom)
			case "editing-cycles", "revision":
				rep.found(KindRevision)
			}
		}
	}})
	if err != nil {
		rep.found(KindDocProps)
	}
}

// ooxmlPartRules returns the rules for a part (its lower-case name), or
// nil for a part copied as it is; the rules add to kinds what they find.
func ooxmlPartRules(name string, kinds *[]string) *xmlRules {
	add := docAdder(kinds)
	isW := func(n xml.Name) bool { return n.Space == nsW || n.Space == nsWStrict }
	switch {
	case strings.HasPrefix(name, "word/") && strings.HasSuffix(name, ".xml"):
		return &xmlRules{
			drop: func(st []xml.Name, _ []xml.Attr) bool {
				el := st[len(st)-1]
				switch {
				case isW(el) && el.Local == "rsids":
					add(KindRevision)
				case el.Space == nsW15 && el.Local == "person":
					add(KindComments)
				case isW(el) && el.Local == "attachedTemplate":
					add(KindDocProps)
				default:
					return false
				}
				return true
			},
			attr: func(st []xml.Name, a xml.Attr) (string, bool) {
				el := st[len(st)-1]
				switch {
				case isW(a.Name) && strings.HasPrefix(a.Name.Local, "rsid"):
					add(KindRevision)
					return "", false
				case isW(a.Name) && a.Name.Local == "author":
					if el.Local == "comment" {
						add(KindComments)
					} else {
						add(KindAuthor)
					}
					return docNeutralAuthor, true
				case isW(a.Name) && a.Name.Local == "initials":
					add(KindComments)
					return docNeutralInitials, true
				case isW(a.Name) && a.Name.Local == "date", a.Name.Space == nsW16cex && a.Name.Local == "dateUtc":
					add(KindRevision)
					return "", false
				}
				return a.Value, true
			},
		}
	case strings.HasPrefix(name, "xl/comments") && strings.HasSuffix(name, ".xml"):
		return &xmlRules{text: func(st []xml.Name) (string, bool) {
			if len(st) >= 2 && xmlIn(st[len(st)-1], "author", nsSML, nsSMLStr) && st[len(st)-2].Local == "authors" {
				add(KindComments)
				return docNeutralAuthor, true
			}
			return "", false
		}}
	case strings.HasPrefix(name, "xl/persons/") && strings.HasSuffix(name, ".xml"):
		return &xmlRules{attr: func(st []xml.Name, a xml.Attr) (string, bool) {
			if !xmlIn(st[len(st)-1], "person", nsX18tc) || a.Name.Space != "" {
				return a.Value, true
			}
			switch a.Name.Local {
			case "displayName":
				add(KindComments)
				return docNeutralAuthor, true
			case "userId", "providerId":
				add(KindComments)
				return "", true
			}
			return a.Value, true
		}}
	case name == "xl/workbook.xml":
		return &xmlRules{drop: func(st []xml.Name, _ []xml.Attr) bool {
			if xmlIn(st[len(st)-1], "absPath", nsX15ac) { // the folder it was saved in
				add(KindDocProps)
				return true
			}
			return false
		}}
	case name == "ppt/commentauthors.xml", name == "ppt/authors.xml":
		return &xmlRules{attr: func(st []xml.Name, a xml.Attr) (string, bool) {
			el := st[len(st)-1]
			if !xmlIn(el, "cmAuthor", nsPML, nsPMLStr) && !xmlIn(el, "author", nsP188) || a.Name.Space != "" {
				return a.Value, true
			}
			switch a.Name.Local {
			case "name":
				add(KindComments)
				return docNeutralAuthor, true
			case "initials":
				add(KindComments)
				return docNeutralInitials, true
			case "userId", "providerId":
				add(KindComments)
				return "", true
			}
			return a.Value, true
		}}
	}
	return nil
}
