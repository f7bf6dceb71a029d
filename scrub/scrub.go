// Package scrub removes the hidden metadata that betrays sources from the
// files they send: camera serial numbers, GPS positions, author names,
// edit histories, embedded thumbnails. It keeps the content: an image's
// pixels, a document's text and layout.
//
// Each format has a scrubber that reads the whole file through an
// io.ReaderAt (a ZIP or a PDF must be read out of order) and writes the
// scrubbed file to an io.Writer. A file whose format is unknown, or that a
// scrubber cannot read, is left as it is: Scrub returns ErrUnsupported or
// a *FormatError, and the caller stores the original, flagged as not
// scrubbed. No scrubber may panic on any input; each has a fuzz target.
//
// Callers that have the plaintext only as a stream (the server, while a
// tip arrives) give it random access through a Spool: the bytes are
// written to a temporary file encrypted with age to a key that exists only
// in memory, and read back through age.DecryptReaderAt, so no plaintext
// reaches the disk.
package scrub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ErrUnsupported is returned for a format scrub does not know.
var ErrUnsupported = errors.New("scrub: unsupported format")

// FormatError says a file claimed a known format but could not be read as
// one; the file is left as it is.
type FormatError struct {
	Format string
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("scrub: not a readable %s file: %v", e.Format, e.Err)
}
func (e *FormatError) Unwrap() error { return e.Err }

// Kinds of metadata a report names. They are what a journalist needs to
// know about a file ("it had GPS positions"), never the values.
const (
	KindEXIF       = "EXIF"
	KindGPS        = "GPS position"
	KindXMP        = "XMP"
	KindIPTC       = "IPTC"
	KindThumbnail  = "embedded thumbnail"
	KindComment    = "comment"
	KindText       = "text chunk"
	KindICC        = "colour profile"
	KindDocProps   = "document properties"
	KindAuthor     = "author names"
	KindRevision   = "revision history identifiers"
	KindComments   = "comment authors"
	KindCustom     = "custom properties"
	KindPDFInfo    = "PDF Info dictionary"
	KindMovieMeta  = "movie metadata"
	KindMakerNotes = "camera maker notes"
)

// Report says what a scrubber found and did, for the journalist.
type Report struct {
	Format   string   `json:"format"`   // "JPEG", "PNG", "PDF", "DOCX"…; "" if unknown
	Scrubbed bool     `json:"scrubbed"` // the output has the metadata removed
	Found    []string `json:"found"`    // the kinds of metadata found (and removed)
	Note     string   `json:"note,omitempty"`
	// TooComplex: the file would cost more than the budget to scrub,
	// and is left as it is (Scrubbed is false).
	TooComplex bool `json:"too_complex,omitempty"`
}

func (r *Report) found(kind string) {
	for _, k := range r.Found {
		if k == kind {
			return
		}
	}
	r.Found = append(r.Found, kind)
	sort.Strings(r.Found)
}

// Scrubber scrubs one format.
type Scrubber interface {
	// Format names the format, as reports do.
	Format() string
	// Match reports whether a file with these first bytes (up to 512),
	// name and declared type is of this format. Content decides where it
	// can; the name only tells apart formats that share a container (a
	// ZIP is a DOCX or an ODT by its contents, not its name).
	Match(head []byte, name, contentType string) bool
	// Scrub writes to w the file read from r (size bytes) without its
	// metadata, and reports what it found.
	Scrub(r io.ReaderAt, size int64, w io.Writer) (Report, error)
}

// scrubbers are tried in order; formats register themselves in init.
var scrubbers []Scrubber

func register(s Scrubber) { scrubbers = append(scrubbers, s) }

// For returns the scrubber for a file, or nil if none knows its format.
func For(head []byte, name, contentType string) Scrubber {
	if len(head) > 512 {
		head = head[:512]
	}
	for _, s := range scrubbers {
		if s.Match(head, strings.ToLower(name), strings.ToLower(contentType)) {
			return s
		}
	}
	return nil
}

// metered is a Scrubber that spends a budget: the documents' scrubbers.
type metered interface {
	scrubWithin(m *meter, r io.ReaderAt, size int64, w io.Writer) (Report, error)
}

// Scrub scrubs the file read from r (size bytes) into w within
// DefaultBudget. For an unknown format it returns ErrUnsupported and
// writes nothing; for a file a scrubber cannot read, a *FormatError; for
// one over the budget, a *TooComplexError (errors.Is ErrTooComplex) and a
// report whose TooComplex is true — and in those last two cases w may
// have received part of an output, which the caller must discard.
func Scrub(r io.ReaderAt, size int64, name, contentType string, w io.Writer) (Report, error) {
	return ScrubWithin(context.Background(), DefaultBudget, r, size, name, contentType, w)
}

// ScrubWithin is Scrub within budget b; it gives up with ctx's error
// when ctx ends (checked between a scrubber's steps, as the budget's
// time is).
func ScrubWithin(ctx context.Context, b Budget, r io.ReaderAt, size int64, name, contentType string, w io.Writer) (Report, error) {
	head := make([]byte, 512)
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return Report{}, err
	}
	s := For(head[:n], name, contentType)
	if s == nil {
		return Report{}, ErrUnsupported
	}
	var rep Report
	if ms, ok := s.(metered); ok {
		m := newMeter(ctx, b)
		m.format = s.Format()
		rep, err = ms.scrubWithin(m, r, size, w)
	} else {
		rep, err = s.Scrub(r, size, w)
	}
	rep.Format = s.Format()
	if errors.Is(err, ErrTooComplex) {
		return Report{Format: s.Format(), TooComplex: true, Note: TooComplexNote}, err
	}
	if err != nil && ctx.Err() != nil {
		return Report{Format: s.Format()}, err
	}
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) {
			err = &FormatError{Format: s.Format(), Err: err}
		}
		rep.Scrubbed = false
		return rep, err
	}
	rep.Scrubbed = true
	return rep, nil
}
