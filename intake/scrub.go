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
// scrub.DefaultBudget, so scrubbing holds at most twice its memory
// however many files arrive together; the others wait their turn.
var scrubSlots = make(chan struct{}, 2)

// AddScrubbedFile stores a file with its hidden metadata removed, when
// package scrub knows its format, and records in its encrypted name-and-
// type object what was found. The file needs random access to be
// scrubbed, so it is first spooled, encrypted under a key held only in
// memory, into spoolDir, and the spool is removed afterwards. A file whose
// format is unknown streams straight through, as AddFile does; one the
// scrubber cannot read, or that would cost more than scrub.DefaultBudget
// to scrub, is stored as sent, flagged as not scrubbed (and why).
func (b *Batch) AddScrubbedFile(ctx context.Context, r io.Reader, meta pista.FileMeta, spoolDir string) error {
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(512)
	if scrub.For(head, meta.Name, meta.Type) == nil {
		meta.Scrub = &pista.ScrubReport{Note: "format not known to the scrubber: stored as sent"}
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
	// may hold part of a document in memory (within scrub.DefaultBudget),
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
		rep, err = scrub.ScrubWithin(ctx, scrub.DefaultBudget, ra, size, meta.Name, meta.Type, pw)
		pw.CloseWithError(err)
	}()
	padded := &padReader{r: pr}
	key, n, err := Encrypt(ctx, b.blobs, padded, b.recipients)
	pr.Close()
	exact := padded.n
	var fe *scrub.FormatError
	switch {
	case err == nil:
		meta.Scrub = &pista.ScrubReport{Format: rep.Format, Scrubbed: true, Found: rep.Found, Note: rep.Note}
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, scrub.ErrTooComplex) || errors.As(err, &fe) || errors.Is(err, scrub.ErrUnsupported):
		meta.Scrub = &pista.ScrubReport{Format: rep.Format, Note: "the scrubber could not read this file: stored as sent"}
		if errors.Is(err, scrub.ErrTooComplex) {
			meta.Scrub = &pista.ScrubReport{Format: rep.Format, TooComplex: true, Note: scrub.TooComplexNote + ": stored as sent"}
		}
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
