package newsroom

// Replies with files. A journalist's device (the inbox's script, or pista
// reply) encrypts the reply and each file to the conversation's source,
// its desk's current key and the archive's keys, exactly as it encrypts a
// reply alone, and posts them as one multipart/form-data body:
//
//	reply       the reply's text, an age file (first, exactly once)
//	file        a file, an age file of its bytes padded with zeros to
//	            pista.Padme of its size (as a source's files are)
//	file_meta   right after each file: an age file of its JSON
//	            pista.FileMeta (name, type, exact size)
//
// The server checks each age file as it checks a sealed reply (one hybrid
// stanza per recipient, nothing else), that each file's plaintext is a
// padded length, and the sources' limits: at most httpx.MaxFiles files,
// at most MaxUpload bytes of files together. It stores them as they are,
// in one AddItems: the reply, then its files, by author. A reply's file
// is an item of kind file whose AuthorID is the journalist (a source's
// files have none): the source's pages and API list it with the replies,
// and decrypt it with the source's key.

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"strconv"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/intake"
)

// MaxReplyFileMeta bounds a reply file's sealed name and type: the JSON
// of a pista.FileMeta whose name and type are at their limits, every
// character escaped.
const MaxReplyFileMeta = 6*(httpx.MaxFilenameBytes+httpx.MaxSmallField) + 64

// ReplyFormError is a sealed reply form refused for its shape: Code is
// "bad_request" or "too_many_files", Reason says what is wrong, in
// English, for an API client (the inbox shows its own message).
type ReplyFormError struct {
	Code   string
	Reason string
}

func (e *ReplyFormError) Error() string { return e.Reason }

func badReplyForm(reason string) error { return &ReplyFormError{Code: "bad_request", Reason: reason} }

// SealedReplyBodyLimit bounds the body of a sealed reply with files whose
// plaintexts may total maxUpload bytes: the files with age's overhead, the
// reply, and the headers of every part.
func SealedReplyBodyLimit(maxUpload int64) int64 {
	return MaxSealedReply + maxUpload + maxUpload/(64<<10)*16 +
		httpx.MaxParts*(intake.MaxSealedHeader+httpx.MaxPartHeaderBytes+64) + 1<<20
}

// StoreSealedReplyForm stores a reply with files read from mr (the
// format above), as StoreSealedReply stores a reply alone. It answers a
// *ReplyFormError, intake.ErrMalformed or intake.ErrTooLarge for a body
// it refuses; then nothing is stored.
func StoreSealedReplyForm(ctx context.Context, blobs pista.BlobStore, tips pista.TipStore, c pista.Conversation, author int64,
	mr *intake.PartReader, archive int, maxUpload int64, by string) error {
	b := intake.NewBatch(blobs, nil, maxUpload)
	items, err := readReplyParts(ctx, b, mr, 2+archive)
	if err != nil {
		b.Abort()
		return err
	}
	b.MarkEncryptedBy(by)
	items = b.Items()
	for i := range items {
		items[i].AuthorID = author
	}
	if err := tips.AddItemsFor(context.WithoutCancel(ctx), c.ID, c.DeskID, items); err != nil {
		b.Abort()
		return err
	}
	return nil
}

func readReplyParts(ctx context.Context, b *intake.Batch, mr *intake.PartReader, recipients int) ([]pista.Item, error) {
	files, parts := 0, 0
	pending := false
	for {
		if parts++; parts > httpx.MaxParts {
			return nil, &ReplyFormError{Code: "too_many_files", Reason: "too many files: at most " + strconv.Itoa(httpx.MaxFiles)}
		}
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if errors.Is(err, intake.ErrPartHeader) {
			return nil, badReplyForm("a part's headers are too long")
		}
		if err != nil {
			return nil, err
		}
		if partHeaderBytes(part) > httpx.MaxPartHeaderBytes {
			return nil, badReplyForm("a part's headers are too long")
		}
		name := part.FormName()
		if pending && name != "file_meta" {
			return nil, badReplyForm(`each "file" part must be followed at once by its "file_meta" part`)
		}
		if parts == 1 && name != "reply" {
			return nil, badReplyForm(`the first part must be the "reply"`)
		}
		switch name {
		case "reply":
			if parts != 1 {
				return nil, badReplyForm(`a reply has one "reply" part, the first`)
			}
			lr := &io.LimitedReader{R: part, N: MaxSealedReply + 1}
			if _, err := b.AddEncrypted(ctx, pista.KindReply, lr, recipients, httpx.MaxMessageBytes); err != nil {
				if lr.N <= 0 {
					return nil, intake.ErrTooLarge
				}
				return nil, err
			}
		case "file":
			if files++; files > httpx.MaxFiles {
				return nil, &ReplyFormError{Code: "too_many_files", Reason: "too many files: at most " + strconv.Itoa(httpx.MaxFiles)}
			}
			plain, err := b.AddEncrypted(ctx, pista.KindFile, part, recipients, -1)
			if err != nil {
				return nil, err
			}
			if pista.Padme(plain) != plain {
				return nil, &intake.MalformedError{Reason: "a file's plaintext is not padded (pista.Padme)"}
			}
			pending = true
		case "file_meta":
			if !pending {
				return nil, badReplyForm(`a "file_meta" part must follow its "file" part`)
			}
			if _, err := b.AddEncryptedMeta(ctx, part, recipients, MaxReplyFileMeta); err != nil {
				return nil, err
			}
			pending = false
		default:
			return nil, badReplyForm(`unexpected part: the parts are "reply", then "file" each followed by "file_meta"`)
		}
	}
	if parts == 1 {
		return nil, badReplyForm(`the body has no "reply" part`)
	}
	if pending {
		return nil, badReplyForm(`the last "file" part has no "file_meta" part`)
	}
	return b.Items(), nil
}

func partHeaderBytes(p *multipart.Part) int {
	n := 0
	for k, vs := range p.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}
