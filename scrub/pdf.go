package scrub

// PDF, with pdfcpu (github.com/pdfcpu/pdfcpu): the file is read into
// pdfcpu's model, the metadata is removed from the model, and pdfcpu
// writes the document anew, as one revision: earlier revisions kept by
// incremental saves, and objects nothing refers to any more, are not
// written. The objects that are kept are written as pdfcpu read them:
// the pages' content streams keep their bytes (pdfcpu does not re-encode
// streams), the text and layout are the same.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// KindPDFSignature: digital signatures, which name their signer and which
// rewriting the file invalidates anyway.
const KindPDFSignature = "digital signatures"

// pdfMax bounds the PDFs scrub reads: pdfcpu holds the whole document in
// memory, with its decompressed object streams, then writes a copy and
// reads that back. A larger file is too complex to scrub: a quarter of
// the memory budget.
func pdfMax(m *meter) int64 { return m.b.Memory / 4 }

// pdfMarkup are the subtypes of markup annotations, whose /T is their
// author's name. (A widget's /T is a form field's name, and stays.)
var pdfMarkup = map[string]bool{
	"Text": true, "FreeText": true, "Line": true, "Square": true, "Circle": true,
	"Polygon": true, "PolyLine": true, "Highlight": true, "Underline": true,
	"Squiggly": true, "StrikeOut": true, "Stamp": true, "Caret": true, "Ink": true,
	"FileAttachment": true, "Sound": true, "Redact": true, "Projection": true,
	"Popup": true, // not markup, but viewers copy the author into it
}

func init() {
	// pdfcpu would otherwise create and read a configuration folder in
	// the user's home.
	api.DisableConfigDir()
	register(pdfScrubber{})
}

type pdfScrubber struct{}

func (pdfScrubber) Format() string { return "PDF" }

func (pdfScrubber) Match(head []byte, name, contentType string) bool {
	if bytes.HasPrefix(head, []byte("%PDF-")) {
		return true
	}
	// Readers accept some junk before the header; only in a file said to
	// be a PDF, not in any file that mentions "%PDF-" near its start.
	return bytes.Contains(head, []byte("%PDF-")) && (strings.HasSuffix(name, ".pdf") || contentType == "application/pdf")
}

func pdfBad(msg string, a ...any) error {
	return &FormatError{Format: "PDF", Err: fmt.Errorf(msg, a...)}
}

func (p pdfScrubber) Scrub(r io.ReaderAt, size int64, w io.Writer) (Report, error) {
	return p.scrubWithin(defaultMeter(), r, size, w)
}

func (pdfScrubber) scrubWithin(m *meter, r io.ReaderAt, size int64, w io.Writer) (rep Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = pdfBad("pdfcpu failed: %v", p)
		}
	}()
	m.format = "PDF"
	if size > pdfMax(m) {
		return rep, m.tooComplex("%d bytes, more than the %d scrub reads", size, pdfMax(m))
	}
	// pdfcpu decompresses object streams while it parses, before scrub
	// sees any object: measure first what its streams inflate to.
	if err := pdfMeasure(m, r, size); err != nil {
		return rep, err
	}
	conf := pdfConfigWithin(m)
	conf.Cmd = model.OPTIMIZE    // the command for which pdfcpu drops encryption and signatures
	conf.RemoveEncryption = true // an owner password's restrictions are not kept
	conf.RemoveSignatures = true
	ctx, err := api.ReadAndValidate(io.NewSectionReader(r, 0, size), conf)
	if err != nil {
		if errors.Is(err, filter.ErrDecodeLimitExceeded) {
			return rep, m.tooComplex("a stream decodes past the %d bytes scrub reads", m.part())
		}
		return rep, pdfBad("%v", err)
	}
	if err := m.check(); err != nil {
		return rep, err
	}
	if len(ctx.Signatures) > 0 {
		rep.found(KindPDFSignature)
	}
	pdfStrip(ctx, &rep)
	if kept := pdfScrubImages(ctx, &rep); kept > 0 {
		rep.Note = fmt.Sprintf("%d JPEG images could not be scrubbed and are kept as they were", kept)
	}

	var buf bytes.Buffer
	if err := api.WriteContext(ctx, &buf); err != nil {
		return rep, pdfBad("writing: %v", err)
	}
	out, err := pdfEmptyInfo(ctx, buf.Bytes())
	if err != nil {
		return rep, err
	}
	if err := m.check(); err != nil {
		return rep, err
	}
	// The scrubbed file replaces the original: it must be readable.
	// (pdfcpu can write a broken file from a broken one, for instance when
	// a page refers to an object that is missing.)
	check := pdfConfigWithin(m)
	check.Cmd = model.VALIDATE
	if _, err := api.ReadAndValidate(bytes.NewReader(out), check); err != nil {
		return rep, pdfBad("the rewritten file does not read back (%v); the original is left as it is", err)
	}
	_, err = w.Write(out)
	return rep, err
}

// pdfConfig is how scrub has pdfcpu read a PDF, within the default
// budget.
func pdfConfig() *model.Configuration { return pdfConfigWithin(defaultMeter()) }

// pdfConfigWithin is how scrub has pdfcpu read a PDF within m's budget:
// no stream decoded past an eighth of the memory budget, and no more
// objects than a file of that size could sensibly hold (pdfcpu keeps a
// few hundred bytes for each).
func pdfConfigWithin(m *meter) *model.Configuration {
	conf := model.NewDefaultConfiguration()
	conf.Optimize = false // keep the objects as they are
	conf.OptimizeBeforeWriting = false
	conf.Offline = true // never fetch anything a document names
	conf.ValidationMode = model.ValidationRelaxed
	part := m.part()
	objects := int(max(1024, m.b.Memory/256))
	conf.Limits.MaxStreamBytes = pdfMax(m)
	conf.Limits.MaxDecodeBytes = part
	conf.Limits.MaxImageBytes = part
	conf.Limits.MaxImagePixels = part
	conf.Limits.MaxObjectCount = objects
	conf.Limits.MaxXRefEntries = objects
	conf.Limits.MaxObjectStreamCount = objects
	conf.Limits.MaxObjectStreamFirst = part
	conf.Limits.MaxRecursionDepth = 100
	return conf
}

// pdfStrip removes the metadata from the document's model.
func pdfStrip(ctx *model.Context, rep *Report) {
	xt := ctx.XRefTable
	if xt.Info != nil {
		if d, err := xt.DereferenceDict(*xt.Info); err == nil {
			for k, v := range d {
				if o, err := xt.Dereference(v); err != nil || o == nil {
					continue
				}
				rep.found(KindPDFInfo)
				if k == "Author" {
					rep.found(KindAuthor)
				}
			}
		}
		// pdfcpu writes an Info dictionary of its own: pdfEmptyInfo
		// empties it.
		xt.Info = nil
	}
	if len(xt.ID) > 0 {
		// The ID's first half stays the same through all of a
		// document's revisions; pdfcpu makes a new one from the time.
		rep.found(KindRevision)
		xt.ID = nil
	}
	for _, e := range xt.Table {
		if e == nil || e.Free || e.Object == nil {
			continue
		}
		switch o := e.Object.(type) {
		case types.Dict:
			pdfStripDict(o, rep)
		case types.StreamDict:
			pdfStripDict(o.Dict, rep)
		}
	}
}

// pdfStripDict removes the metadata entries of one dictionary.
func pdfStripDict(d types.Dict, rep *Report) {
	if _, ok := d["Metadata"]; ok {
		// XMP, on the catalog, pages, images, fonts…; the streams
		// themselves are not written once nothing refers to them.
		delete(d, "Metadata")
		rep.found(KindXMP)
	}
	if _, ok := d["PieceInfo"]; ok {
		// Applications' private data, with its own dates.
		delete(d, "PieceInfo")
		rep.found(KindDocProps)
	}
	delete(d, "LastModified")
	if st, ok := d["Subtype"].(types.Name); ok && pdfMarkup[string(st)] {
		if _, ok := d["Rect"]; ok {
			if _, ok := d["T"]; ok {
				delete(d, "T")
				rep.found(KindComments)
			}
			delete(d, "M")
			delete(d, "CreationDate")
		}
	}
}

// pdfEmptyInfo empties the Info dictionary pdfcpu adds to every PDF before
// 2.0 it writes: its Producer names pdfcpu, its dates are the time of the
// scrubbing. The dictionary is overwritten with an empty one of the same
// length, padded with spaces, so that every offset in the file stays right.
func pdfEmptyInfo(ctx *model.Context, out []byte) ([]byte, error) {
	if ctx.Info == nil {
		return out, nil
	}
	nr := ctx.Info.ObjectNumber.Value()
	d, err := ctx.DereferenceDict(*ctx.Info)
	if err != nil {
		return nil, pdfBad("the Info dictionary written: %v", err)
	}
	e, ok := ctx.FindTableEntry(nr, ctx.Info.GenerationNumber.Value())
	off, written := ctx.Write.Table[nr]
	if !ok || e.Compressed || !written || off < 0 || off >= int64(len(out)) {
		return nil, pdfBad("pdfcpu wrote its Info dictionary where scrub cannot empty it")
	}
	header := fmt.Sprintf("%d %d obj", nr, ctx.Info.GenerationNumber.Value())
	dict := []byte(d.PDFString())
	rest := out[off:]
	if !bytes.HasPrefix(rest, []byte(header)) || len(dict) < 4 {
		return nil, pdfBad("the Info dictionary pdfcpu wrote is not where it says")
	}
	p := rest[len(header):]
	eol := 0
	for eol < 2 && eol < len(p) && (p[eol] == '\n' || p[eol] == '\r') {
		eol++
	}
	if !bytes.HasPrefix(p[eol:], dict) {
		return nil, pdfBad("the Info dictionary pdfcpu wrote is not what it says")
	}
	at := off + int64(len(header)+eol)
	copy(out[at:], "<<>>")
	for j := at + 4; j < at+int64(len(dict)); j++ {
		out[j] = ' '
	}
	return out, nil
}

// pdfIsJPEG reports whether a stream is a JPEG file: its only filter is
// DCTDecode.
func pdfIsJPEG(sd types.StreamDict) bool {
	switch f := sd.Dict["Filter"].(type) {
	case types.Name:
		return f == "DCTDecode"
	case types.Array:
		if len(f) == 1 {
			n, ok := f[0].(types.Name)
			return ok && n == "DCTDecode"
		}
	}
	return false
}

// pdfScrubImages scrubs the JPEG images of a PDF with scrub's JPEG
// scrubber: a JPEG stream is a whole JPEG file, which PDF writers often
// embed as the camera or the scanner made it, EXIF and all. It returns how
// many it could not scrub (they stay as they are).
func pdfScrubImages(ctx *model.Context, rep *Report) (kept int) {
	for _, e := range ctx.XRefTable.Table {
		if e == nil || e.Free {
			continue
		}
		sd, ok := e.Object.(types.StreamDict)
		if !ok || len(sd.Raw) == 0 || !pdfIsJPEG(sd) {
			continue
		}
		s := For(sd.Raw, "image.jpg", "image/jpeg")
		if s == nil || s.Format() != "JPEG" {
			continue
		}
		var out bytes.Buffer
		irep, err := func() (r Report, err error) {
			defer docRecover("JPEG", &err)
			return s.Scrub(bytes.NewReader(sd.Raw), int64(len(sd.Raw)), &out)
		}()
		if err != nil {
			kept++
			continue
		}
		if bytes.Equal(out.Bytes(), sd.Raw) {
			continue
		}
		for _, k := range irep.Found {
			rep.found(k)
		}
		sd.Raw = out.Bytes()
		n := int64(len(sd.Raw))
		sd.StreamLength = &n
		sd.Dict["Length"] = types.Integer(n) // not an indirect length any more
		e.Object = sd
	}
	return kept
}
