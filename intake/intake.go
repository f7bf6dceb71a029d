// Package intake encrypts what arrives and stores it: every channel (web
// form, follow-up, reply, later e-mail and the API) turns its input into
// encrypted objects through a Batch, then writes the rows.
//
// A Batch encrypts each item with age to the desk's key (and the
// instance's archive key, if any) while it streams from the request into
// the BlobStore: plaintext exists only in memory, in age's 64 KiB chunks,
// and never on disk. If anything fails before the rows are written, Abort
// deletes every object the batch wrote, so a failed submission stores
// nothing.
package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"github.com/pista-tips/pista"
)

// ErrTooLarge is returned when an item is larger than the batch allows.
var ErrTooLarge = errors.New("intake: too large")

// Batch is the set of objects written for one submission.
type Batch struct {
	blobs      pista.BlobStore
	recipients []age.Recipient
	items      []pista.Item
	keys       []string
	// Remaining bytes of files the batch may still take, or -1. Texts and
	// file names are bounded by their own limits, not by this one.
	remaining int64
	// last is the scrub report of the file stored last, or nil.
	last *pista.ScrubReport
}

// NewBatch starts a batch encrypting to recipients. limit bounds the bytes
// of all its files together (-1: no limit).
func NewBatch(blobs pista.BlobStore, recipients []age.Recipient, limit int64) *Batch {
	return &Batch{blobs: blobs, recipients: recipients, remaining: limit}
}

// Items returns the items written so far, in order.
func (b *Batch) Items() []pista.Item { return b.items }

// LastScrub is the scrub report stored with the last file added, or nil
// if it has none (or no file was added).
func (b *Batch) LastScrub() *pista.ScrubReport { return b.last }

// Len is the number of items written so far.
func (b *Batch) Len() int { return len(b.items) }

// AddText encrypts a text item (a message, a contact, a reply).
func (b *Batch) AddText(ctx context.Context, kind pista.ItemKind, text string) error {
	key, size, err := b.encrypt(ctx, strings.NewReader(text))
	if err != nil {
		return err
	}
	b.items = append(b.items, pista.Item{Kind: kind, Object: key, Size: size})
	return nil
}

// AddFile encrypts a file as it streams from r, and its name and type as a
// second object.
func (b *Batch) AddFile(ctx context.Context, r io.Reader, meta pista.FileMeta) error {
	if b.remaining >= 0 {
		r = &limitReader{r: r, n: &b.remaining}
	}
	pr := &padReader{r: r}
	key, size, err := b.encrypt(ctx, pr)
	if err != nil {
		return err
	}
	meta.Size = &pr.n
	mkey, msize, err := b.encryptMeta(ctx, meta)
	if err != nil {
		return err
	}
	b.items = append(b.items, pista.Item{Kind: pista.KindFile, Object: key, Size: size, Meta: mkey, MetaSize: msize})
	return nil
}

// encryptMeta encrypts a file's name, type and scrub report. It is encoded
// as the page's script does (JSON.stringify), so that what the server
// encrypts and what a browser encrypts are alike, to the byte.
func (b *Batch) encryptMeta(ctx context.Context, meta pista.FileMeta) (string, int64, error) {
	b.last = meta.Scrub
	var m bytes.Buffer
	enc := json.NewEncoder(&m)
	enc.SetEscapeHTML(false)
	enc.Encode(meta)
	return b.encrypt(ctx, bytes.NewReader(bytes.TrimSuffix(m.Bytes(), []byte("\n"))))
}

// Sort puts messages first, then the answers to the desk's questions,
// then files, then the contact: the order a journalist reads them in,
// whatever order the form sent them.
func (b *Batch) Sort() {
	rank := map[pista.ItemKind]int{pista.KindMessage: 0, pista.KindReply: 0, pista.KindAnswers: 1, pista.KindFile: 2, pista.KindContact: 3}
	items := b.items
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && rank[items[j].Kind] < rank[items[j-1].Kind]; j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
}

// MarkEncryptedBy records, on every item of the batch, where it was
// encrypted: "browser" or "app" for items that came sealed.
func (b *Batch) MarkEncryptedBy(by string) {
	for i := range b.items {
		b.items[i].EncryptedBy = by
	}
}

// Abort deletes every object the batch wrote. It uses a fresh context:
// the request's may be why the batch is aborted.
func (b *Batch) Abort() {
	for _, k := range b.keys {
		b.blobs.Delete(context.WithoutCancel(context.Background()), k)
	}
	b.keys, b.items = nil, nil
}

// encrypt streams r through age into a new object.
func (b *Batch) encrypt(ctx context.Context, r io.Reader) (string, int64, error) {
	key, size, err := Encrypt(ctx, b.blobs, r, b.recipients)
	if err != nil {
		return "", 0, err
	}
	b.keys = append(b.keys, key)
	return key, size, nil
}

// Encrypt streams r through age to recipients into a new object of blobs.
// The copy runs in a goroutine that feeds the store through a pipe; it has
// ended, and stopped reading r, by the time Encrypt returns.
func Encrypt(ctx context.Context, blobs pista.BlobStore, r io.Reader, recipients []age.Recipient) (string, int64, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		w, err := age.Encrypt(pw, recipients...)
		if err == nil {
			_, err = io.Copy(w, r)
			if err == nil {
				err = w.Close()
			}
		}
		pw.CloseWithError(err)
		done <- err
	}()
	key, size, err := blobs.Put(ctx, pr)
	pr.CloseWithError(errors.New("intake: store stopped reading"))
	encErr := <-done
	if err != nil {
		if errors.Is(encErr, ErrTooLarge) {
			err = ErrTooLarge
		} else if encErr != nil {
			err = fmt.Errorf("%w (%w)", err, encErr)
		}
		return "", 0, err
	}
	if encErr != nil {
		blobs.Delete(context.WithoutCancel(ctx), key)
		return "", 0, encErr
	}
	return key, size, nil
}

// limitReader fails with ErrTooLarge once more than *n bytes were read.
type limitReader struct {
	r io.Reader
	n *int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	*l.n -= int64(n)
	if *l.n < 0 {
		return n, ErrTooLarge
	}
	return n, err
}
