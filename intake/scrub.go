package intake

import (
	"bufio"
	"context"
	"errors"
	"io"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/scrub"
)

// scrubSlots bounds the scrubbers running at once: each spends at most
// its budget, so scrubbing holds at most twice its memory however many
// files arrive together; the others wait their turn.
var scrubSlots = make(chan struct{}, 2)

// AddScrubbedFile stores a file with its hidden metadata removed, when
// package scrub knows its format, and records in its encrypted name-and-
// type object what was found. The file needs random access to be
// scrubbed, so it is first spooled, encrypted under a key held only in
// memory, into spoolDir, and the spool is removed afterwards. A file whose
// format is unknown streams straight through, as AddFile does; one the
// scrubber cannot read, or that would cost more than budget to scrub, is
// stored as sent, flagged as not scrubbed (and why).
//
// The report records who scrubbed and what the source chose: those of
// meta.Scrub when the caller sets it (the e-mail intake: ScrubByEmail,
// ScrubChoiceNotAsked), else the server, as the source chose.
func (b *Batch) AddScrubbedFile(ctx context.Context, r io.Reader, meta pista.FileMeta, spoolDir string, budget scrub.Budget) error {
	by, choice := pista.ScrubByServer, pista.ScrubChoiceScrub
	if meta.Scrub != nil {
		by, choice = meta.Scrub.By, meta.Scrub.Choice
	}
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(512)
	if scrub.For(head, meta.Name, meta.Type) == nil {
		meta.Scrub = &pista.ScrubReport{By: by, Choice: choice, Note: NoteUnknownFormat}
		return b.AddFile(ctx, br, meta)
	}
	sp, err := scrub.NewSpool(spoolDir)
	if err != nil {
		return err
	}
	defer sp.Remove()
	src := io.Reader(br)
	if b.remaining >= 0 {
		src = &limitReader{r: br, n: &b.remaining}
	}
	if _, err := io.Copy(sp, src); err != nil {
		return err
	}
	ra, err := sp.ReaderAt()
	if err != nil {
		return err
	}
	size := sp.Size()

	// Scrub into the encryption; if the scrubber gives up half way, the
	// partial object goes and the original is stored instead. A scrubber
	// may hold part of a document in memory (within its budget),
	// so only a few run at once.
	select {
	case scrubSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-scrubSlots }()
	var rep scrub.Report
	pr, pw := io.Pipe()
	go func() {
		var err error
		rep, err = scrub.ScrubWithin(ctx, budget, ra, size, meta.Name, meta.Type, pw)
		pw.CloseWithError(err)
	}()
	padded := &padReader{r: pr}
	key, n, err := Encrypt(ctx, b.blobs, padded, b.recipients)
	pr.Close()
	exact := padded.n
	switch {
	case err == nil:
		meta.Scrub = ScrubReportOf(rep, nil, by, choice)
	case ctx.Err() != nil:
		return ctx.Err()
	case Unscrubbable(err):
		meta.Scrub = ScrubReportOf(rep, err, by, choice)
		padded = &padReader{r: io.NewSectionReader(ra, 0, size)}
		if key, n, err = Encrypt(ctx, b.blobs, padded, b.recipients); err != nil {
			return err
		}
		exact = padded.n
	default:
		return err
	}
	b.keys = append(b.keys, key)
	meta.Size = &exact
	mkey, msize, err := b.encryptMeta(ctx, meta)
	if err != nil {
		return err
	}
	b.items = append(b.items, pista.Item{Kind: pista.KindFile, Object: key, Size: n, Meta: mkey, MetaSize: msize})
	return nil
}

// The notes of files stored as sent. The source page's script writes the
// same words (web/js/src/scrub/scrub.js, notes), and the inbox tells the
// reasons apart by them.
const (
	NoteUnknownFormat = "format not known to the scrubber: stored as sent"
	NoteUnreadable    = "the scrubber could not read this file: stored as sent"
	NoteTooComplex    = scrub.TooComplexNote + ": stored as sent"
	NoteKept          = "the source chose to keep its metadata: stored as sent"
	// Written by the source's browser only.
	NoteNotLoaded = "the scrubber did not load in the source's browser; the source chose to send the file as it is"
	NoteTooLarge  = "too large to clean in the source's browser: stored as sent"
)

// Unscrubbable reports whether err, from scrub.ScrubWithin, means the
// file is to be stored as sent: its format is unknown, it could not be
// read as its format, or it would cost more than the budget.
func Unscrubbable(err error) bool {
	var fe *scrub.FormatError
	return errors.Is(err, scrub.ErrTooComplex) || errors.As(err, &fe) || errors.Is(err, scrub.ErrUnsupported)
}

// ScrubReportOf is the report stored with a file that by scrubbed (or
// tried to): rep and err are what scrub.ScrubWithin returned, err nil or
// Unscrubbable; choice is what the source chose.
func ScrubReportOf(rep scrub.Report, err error, by, choice string) *pista.ScrubReport {
	r := &pista.ScrubReport{By: by, Choice: choice, Format: rep.Format}
	switch {
	case err == nil:
		r.Scrubbed, r.Found, r.Note = true, rep.Found, rep.Note
	case errors.Is(err, scrub.ErrTooComplex):
		r.TooComplex, r.Note = true, NoteTooComplex
	case errors.Is(err, scrub.ErrUnsupported):
		r.Note = NoteUnknownFormat
	default:
		r.Note = NoteUnreadable
	}
	return r
}

// KeptReport is the report of a file whose source chose to keep its
// metadata: by did not scrub it.
func KeptReport(by string) *pista.ScrubReport {
	return &pista.ScrubReport{By: by, Choice: pista.ScrubChoiceKeep, Note: NoteKept}
}
