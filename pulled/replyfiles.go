package pulled

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"unicode/utf8"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
)

// ReplyWithFiles encrypts text and each file here to every recipient of
// to, and streams them to the server as one multipart body: "reply",
// then "file" (padded inside the encryption to pista.Padme of its size,
// as a source's files are) and "file_meta" (its name, type and exact
// size) for each. Nothing is held in memory or written to disk but age's
// 64 KiB chunks, and nothing of a file, its name or its size leaves this
// computer in the clear. It answers the bytes sent. The caller checks the
// files against to.MaxFiles and to.MaxUpload first (CheckReplyFiles).
func (c *Client) ReplyWithFiles(ctx context.Context, to ReplyTo, text string, files []apiclient.File) (int64, error) {
	if len(files) == 0 {
		return c.Reply(ctx, to, text)
	}
	if !utf8.ValidString(text) {
		return 0, errors.New("the reply is not UTF-8 text")
	}
	if int64(len(text)) > to.MaxBytes {
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrReplyTooLong, len(text), to.MaxBytes)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan error, 1)
	go func() {
		err := writeReplyParts(mw, to.To, text, files)
		pw.CloseWithError(err)
		done <- err
	}()
	resp, err := c.api.Do(ctx, http.MethodPost, "/api/v1/journalist/conversations/"+to.Conversation+"/replies", pr, mw.FormDataContentType())
	pr.CloseWithError(errors.New("the request ended"))
	werr := <-done
	if err != nil {
		if _, refused := errors.AsType[*apiclient.Error](err); !refused && werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
			return 0, werr // a file could not be read, say
		}
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return 0, err
	}
	var rr api.ReplyResponse
	if err := apiclient.DecodeJSON(b, &rr); err != nil {
		return 0, err
	}
	return rr.Size, nil
}

// CheckReplyFiles checks files of the given sizes against what the
// server takes with one reply.
func CheckReplyFiles(to ReplyTo, sizes []int64) error {
	if to.MaxFiles > 0 && len(sizes) > to.MaxFiles {
		return fmt.Errorf("%d files: a reply carries at most %d", len(sizes), to.MaxFiles)
	}
	var total int64
	for _, n := range sizes {
		total += pista.Padme(n)
	}
	if to.MaxUpload > 0 && total > to.MaxUpload {
		return fmt.Errorf("the files take %s once padded: this server takes at most %s with one reply",
			apiclient.FormatSize(total), apiclient.FormatSize(to.MaxUpload))
	}
	return nil
}

func writeReplyParts(mw *multipart.Writer, to []age.Recipient, text string, files []apiclient.File) error {
	if err := apiclient.SealPart(mw, "reply", to, func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	}); err != nil {
		return err
	}
	for _, f := range files {
		var size int64
		if err := apiclient.SealPart(mw, "file", to, func(w io.Writer) error {
			r, err := f.Open()
			if err != nil {
				return err
			}
			defer r.Close()
			if size, err = io.Copy(w, r); err != nil {
				return err
			}
			_, err = io.CopyN(w, zeroReader{}, pista.Padme(size)-size)
			return err
		}); err != nil {
			return err
		}
		meta, _ := json.Marshal(pista.FileMeta{Name: f.Name, Type: f.Type, Size: &size})
		if err := apiclient.SealPart(mw, "file_meta", to, func(w io.Writer) error {
			_, err := w.Write(meta)
			return err
		}); err != nil {
			return err
		}
	}
	return mw.Close()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
