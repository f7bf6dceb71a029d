package pulled

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"filippo.io/age"

	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/keys"
)

// ValidConversation reports whether id looks like a conversation's ID, as
// the API lists it and pull names its folder.
func ValidConversation(id string) bool { return conversationDir(id) }

// maxReplyRecipients bounds the keys a reply is encrypted to: the source,
// the desk and the archive's (apiclient.MaxRecipients of these).
const maxReplyRecipients = 2 + apiclient.MaxRecipients

// ReplyTo is what a reply to a conversation is encrypted to, as the
// server lists it.
type ReplyTo struct {
	api.RecipientsResponse
	To []age.Recipient
}

// Recipients asks for the keys a reply to conversation conv is encrypted
// to, and checks that they are post-quantum age keys, the source's and
// the desk's first, and not too many.
func (c *Client) Recipients(ctx context.Context, conv string) (ReplyTo, error) {
	if !ValidConversation(conv) {
		return ReplyTo{}, fmt.Errorf("%q is not a conversation ID (the name of a conversation's folder in a pulled folder)", apiclient.Printable(conv, 80))
	}
	var rr api.RecipientsResponse
	if err := c.api.GetJSONMax(ctx, "/api/v1/journalist/conversations/"+conv+"/recipients", 256<<10, &rr); err != nil {
		return ReplyTo{}, err
	}
	switch {
	case rr.Conversation != conv:
		return ReplyTo{}, fmt.Errorf("%w: the recipients of another conversation", ErrMalformed)
	case len(rr.Recipients) < 2 || len(rr.Recipients) > maxReplyRecipients:
		return ReplyTo{}, fmt.Errorf("%w: %d recipients for a reply (the source's key, the desk's and at most %d archive keys)", ErrMalformed, len(rr.Recipients), apiclient.MaxRecipients)
	case rr.Recipients[0] != rr.Source || rr.Recipients[1] != rr.DeskKey || len(rr.Recipients) != 2+len(rr.Archive):
		return ReplyTo{}, fmt.Errorf("%w: the recipients are not the source's key, the desk's and the archive's", ErrMalformed)
	case rr.MaxBytes <= 0:
		return ReplyTo{}, fmt.Errorf("%w: no length for a reply", ErrMalformed)
	}
	to, err := keys.ParseRecipients(rr.Recipients...)
	if err != nil {
		return ReplyTo{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(to) != len(rr.Recipients) {
		return ReplyTo{}, fmt.Errorf("%w: an empty recipient", ErrMalformed)
	}
	return ReplyTo{RecipientsResponse: rr, To: to}, nil
}

// ErrReplyTooLong is returned for a reply longer than the server takes.
var ErrReplyTooLong = errors.New("the reply is too long")

// Reply encrypts text here to every recipient of to and posts the age
// file; the plaintext never leaves this computer. It answers the size of
// what was sent.
func (c *Client) Reply(ctx context.Context, to ReplyTo, text string) (int64, error) {
	if !utf8.ValidString(text) {
		return 0, errors.New("the reply is not UTF-8 text")
	}
	if int64(len(text)) > to.MaxBytes {
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrReplyTooLong, len(text), to.MaxBytes)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, to.To...)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write([]byte(text)); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	resp, err := c.api.Do(ctx, http.MethodPost, "/api/v1/journalist/conversations/"+to.Conversation+"/replies", &buf, "application/octet-stream")
	if err != nil {
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
