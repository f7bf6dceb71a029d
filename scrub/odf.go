package scrub

// OpenDocument (ODT, ODS, ODP, and the other OpenDocument packages): the
// ZIP is rewritten as ooxml.go does it, with meta.xml emptied, the
// thumbnail dropped, the authors and dates of comments and tracked changes
// neutralised, and LibreOffice's revision session ids removed.

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// Namespaces of OpenDocument.
const (
	nsOffice   = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
	nsMeta     = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
	nsConfig   = "urn:oasis:names:tc:opendocument:xmlns:config:1.0"
	nsManifest = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
	nsOOo2009  = "http://openoffice.org/2009/office" // officeooo:rsid, officeooo:annotation
	nsDC       = "http://purl.org/dc/elements/1.1/"
	odfMimeAny = "application/vnd.oasis.opendocument."
)

// odfEmptyMeta replaces meta.xml; %s is the document's office:version
// attribute, if it had one.
const odfEmptyMeta = `<?xml version="1.0" encoding="UTF-8"?>
<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xlink="http://www.w3.org/1999/xlink"%s><office:meta/></office:document-meta>`

// odfNeutralDate replaces the dates of tracked changes, which the format
// requires.
const odfNeutralDate = "1970-01-01T00:00:00"

// odfSettingsDropped are the settings.xml items scrub removes: LibreOffice's
// revision session ids, and the printer the document was last set up for.
var odfSettingsDropped = map[string]string{
	"Rsid":         KindRevision,
	"RsidRoot":     KindRevision,
	"PrinterName":  KindDocProps,
	"PrinterSetup": KindDocProps,
}

var odfVersionRE = regexp.MustCompile(`^[0-9]{1,2}(\.[0-9]{1,2})?$`)

// odfScrubber scrubs the OpenDocument packages whose mimetype starts with
// mime; the last one registered takes all the others.
type odfScrubber struct {
	format string
	mime   string
	exts   []string
}

func init() {
	register(odfScrubber{"ODT", odfMimeAny + "text", []string{".odt", ".ott", ".odm", ".oth"}})
	register(odfScrubber{"ODS", odfMimeAny + "spreadsheet", []string{".ods", ".ots"}})
	register(odfScrubber{"ODP", odfMimeAny + "presentation", []string{".odp", ".otp"}})
	register(odfScrubber{"ODF", odfMimeAny, []string{".odg", ".otg", ".odf", ".odc", ".odi"}})
}

func (s odfScrubber) Format() string { return s.format }

// odfMime returns what follows the name of a stored first member named
// mimetype: the mimetype, then the next member's header. (Its size may be
// in a data descriptor, after it.)
func odfMime(head []byte) ([]byte, bool) {
	first, data, ok := docZipFirst(head)
	if !ok || first != "mimetype" || head[8] != 0 || head[9] != 0 || data > len(head) { // stored
		return nil, false
	}
	return head[data:], true
}

func (s odfScrubber) Match(head []byte, name, contentType string) bool {
	if _, _, ok := docZipFirst(head); !ok {
		return false
	}
	if mime, ok := odfMime(head); ok && bytes.HasPrefix(mime, []byte(odfMimeAny)) {
		return bytes.HasPrefix(mime, []byte(s.mime))
	}
	return docHasExt(name, s.exts) || s.mime != odfMimeAny && strings.HasPrefix(contentType, s.mime)
}

func (s odfScrubber) Scrub(r io.ReaderAt, size int64, w io.Writer) (Report, error) {
	return s.scrubWithin(defaultMeter(), r, size, w)
}

func (s odfScrubber) scrubWithin(m *meter, r io.ReaderAt, size int64, w io.Writer) (rep Report, err error) {
	defer docRecover(s.format, &err)
	z, err := openDocZip(m, s.format, r, size)
	if err != nil {
		return rep, err
	}
	manifest := z.byName["META-INF/manifest.xml"]
	if manifest == nil {
		return rep, docBad(s.format, "no META-INF/manifest.xml: not an OpenDocument package")
	}
	thumb := func(name string) bool { return strings.HasPrefix(name, "Thumbnails/") || name == "Thumbnails" }

	b, err := z.read(manifest)
	if err != nil {
		return rep, err
	}
	encrypted := false
	newManifest, manifestChanged, err := xmlEdit(b, xmlRules{drop: func(st []xml.Name, attrs []xml.Attr) bool {
		el := st[len(st)-1]
		if xmlIn(el, "encryption-data", nsManifest) {
			encrypted = true
		}
		if !xmlIn(el, "file-entry", nsManifest) {
			return false
		}
		for _, a := range attrs {
			if xmlIn(a.Name, "full-path", nsManifest) && thumb(a.Value) {
				return true
			}
		}
		return false
	}})
	if err != nil {
		return rep, docBad(s.format, "META-INF/manifest.xml: %v", err)
	}
	if encrypted {
		return rep, docBad(s.format, "the document is password-protected: scrub cannot read it")
	}

	zw := zip.NewWriter(w)
	for _, f := range z.zr.File {
		if thumb(f.Name) {
			if !strings.HasSuffix(f.Name, "/") {
				rep.found(KindThumbnail)
			}
			continue
		}
		if f == manifest && manifestChanged {
			if err := docZipWrite(zw, f.Name, newManifest); err != nil {
				return rep, err
			}
			continue
		}
		var kinds []string
		var rules *xmlRules
		switch base := path.Base(f.Name); {
		case strings.HasPrefix(f.Name, "META-INF/") || strings.HasSuffix(f.Name, "/"):
		case base == "meta.xml":
			b, err := z.read(f)
			if err != nil {
				return rep, err
			}
			empty := fmt.Sprintf(odfEmptyMeta, odfVersionAttr(b))
			if string(b) != empty {
				docPropsInspect(b, &rep)
			}
			if err := docZipWrite(zw, f.Name, []byte(empty)); err != nil {
				return rep, err
			}
			continue
		case base == "content.xml" || base == "styles.xml":
			rules = odfContentRules(&kinds)
		case base == "settings.xml":
			rules = odfSettingsRules(&kinds)
		}
		if err := z.copyMember(zw, s.format, f, rules, &kinds, &rep); err != nil {
			return rep, err
		}
	}
	if err := zw.Close(); err != nil {
		return rep, err
	}
	z.note(&rep)
	return rep, nil
}

// odfVersionAttr returns the office:version attribute of a meta.xml, to
// keep in the empty one, or "".
func odfVersionAttr(meta []byte) string {
	v := ""
	xmlEdit(meta, xmlRules{attr: func(st []xml.Name, a xml.Attr) (string, bool) {
		if len(st) == 1 && xmlIn(a.Name, "version", nsOffice) && odfVersionRE.MatchString(a.Value) {
			v = ` office:version="` + a.Value + `"`
		}
		return a.Value, true
	}})
	return v
}

// docAdder returns a function that adds a kind to kinds once.
func docAdder(kinds *[]string) func(string) {
	return func(k string) {
		for _, x := range *kinds {
			if x == k {
				return
			}
		}
		*kinds = append(*kinds, k)
	}
}

// odfContentRules neutralise the authors and dates of comments
// (annotations) and tracked changes, and remove revision session ids.
func odfContentRules(kinds *[]string) *xmlRules {
	add := docAdder(kinds)
	return &xmlRules{
		drop: func(st []xml.Name, _ []xml.Attr) bool {
			el, parent := st[len(st)-1], st[len(st)-2]
			switch {
			case xmlIn(el, "date", nsDC) && parent.Local == "annotation",
				xmlIn(el, "creator-initials", nsMeta) && parent.Local == "annotation":
				add(KindComments)
				return true
			}
			return false
		},
		text: func(st []xml.Name) (string, bool) {
			el := st[len(st)-1]
			parent := xml.Name{}
			if len(st) > 1 {
				parent = st[len(st)-2]
			}
			switch {
			case xmlIn(el, "creator", nsDC) && parent.Local == "annotation":
				add(KindComments)
				return docNeutralAuthor, true
			case xmlIn(el, "creator", nsDC):
				add(KindAuthor)
				return docNeutralAuthor, true
			case xmlIn(el, "date", nsDC) && xmlIn(parent, "change-info", nsOffice):
				add(KindRevision)
				return odfNeutralDate, true
			}
			return "", false
		},
		attr: func(st []xml.Name, a xml.Attr) (string, bool) {
			if a.Name.Space == nsOOo2009 && (a.Name.Local == "rsid" || a.Name.Local == "paragraph-rsid") {
				add(KindRevision)
				return "", false
			}
			return a.Value, true
		},
	}
}

// odfSettingsRules remove the settings in odfSettingsDropped.
func odfSettingsRules(kinds *[]string) *xmlRules {
	add := docAdder(kinds)
	return &xmlRules{drop: func(st []xml.Name, attrs []xml.Attr) bool {
		if !xmlIn(st[len(st)-1], "config-item", nsConfig) {
			return false
		}
		for _, a := range attrs {
			if xmlIn(a.Name, "name", nsConfig) {
				if k, ok := odfSettingsDropped[a.Value]; ok {
					add(k)
					return true
				}
			}
		}
		return false
	}}
}
