package smtp

import (
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/pista-tips/pista"
)

// The e-mail item is the evidence: the message as it arrived. But an
// attachment inside it keeps its sender's metadata (a photo's GPS
// position), which the file items lost on arrival. So while the parser
// reads the message it also writes a copy of it, encrypted to each desk as
// the raw message is: every header field and every text part as received,
// byte for byte, and in place of each attachment's part a short text part
// that names the file item it became. When the message had no attachment
// the copy is dropped and the e-mail item is the message as received, to
// the byte; otherwise the raw message is dropped and the e-mail item is
// the copy, marked by evidenceField at the top of its header.
//
// The copy is not what the sender's server signed: a DKIM-Signature's body
// hash does not verify on it (its header fields, Received,
// Authentication-Results and the DKIM-Signature itself, are kept). The
// sender's metadata is never kept on purpose by e-mail (no one is asked),
// so there is no choice to keep the raw message.

// evidenceField marks an e-mail item that is not the message as received.
const (
	evidenceField = "X-Pista-Evidence"
	evidenceValue = "attachments-replaced; this copy differs from the e-mail as received: " +
		"each attachment is replaced by a note naming the file item it became, without its metadata; " +
		"DKIM body hashes do not verify on this copy"
	// removedField, in a replaced part, says what was there.
	removedField = "X-Pista-Removed"
	// originalPrefix renames the Content-* fields of a replaced part, kept
	// as received.
	originalPrefix = "X-Pista-Original-"
)

// lazyCopyBytes is how much of the copy is held in memory before its
// encryptions start: a message with no attachment in its first
// lazyCopyBytes (most mail has none) costs no second object per desk.
const lazyCopyBytes = 256 << 10

// lazyCopy holds the start of the copy in memory, and starts the copy's
// encryptions (start, once) when a part is to be replaced (need) or when
// the copy outgrows lazyCopyBytes; then it writes through.
type lazyCopy struct {
	start func() io.Writer
	buf   []byte
	w     io.Writer // nil until started
}

func (l *lazyCopy) Write(p []byte) (int, error) {
	if l.w == nil && len(l.buf)+len(p) <= lazyCopyBytes {
		l.buf = append(l.buf, p...)
		return len(p), nil
	}
	if err := l.need(); err != nil {
		return 0, err
	}
	return l.w.Write(p)
}

// need starts the copy's encryptions, if they are not, and writes what
// was held.
func (l *lazyCopy) need() error {
	if l.w != nil {
		return nil
	}
	l.w = l.start()
	_, err := l.w.Write(l.buf)
	l.buf = nil
	return err
}

// signature reports whether a part of mediaType is a detached signature
// (PGP/MIME, S/MIME): extracted as a file, but kept in the copy as
// received. It holds no metadata of a document, only the signature, which
// is evidence.
func signature(mediaType string) bool {
	switch mediaType {
	case "application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature":
		return true
	}
	return false
}

// opener starts an entity of the copy with header h, and returns where its
// body goes.
type opener func(h textproto.Header) (io.Writer, error)

// topOpener starts the copy's message: its header, marked.
func topOpener(w io.Writer) opener {
	return func(h textproto.Header) (io.Writer, error) {
		h = h.Copy()
		h.Add(evidenceField, evidenceValue)
		return w, textproto.WriteHeader(w, h)
	}
}

// partOpener starts a part of a multipart of the copy.
func partOpener(mw *textproto.MultipartWriter) opener {
	return func(h textproto.Header) (io.Writer, error) { return mw.CreatePart(h) }
}

// renameOriginal moves the fields of h named in keys to X-Pista-Original-*
// fields, their bytes as received.
func renameOriginal(h *textproto.Header, keys ...string) {
	for _, k := range keys {
		var raws [][]byte
		for fs := h.FieldsByKey(k); fs.Next(); {
			if raw, err := fs.Raw(); err == nil {
				raws = append(raws, raw)
			}
		}
		h.Del(k)
		// The header lists its fields last first: add the last first.
		for i := len(raws) - 1; i >= 0; i-- {
			h.AddRaw(append([]byte(originalPrefix), raws[i]...))
		}
	}
}

// multipartHeader is the copy's header of a multipart, and its boundary:
// the header as received, unless go-message cannot write its boundary;
// then a new boundary, the Content-Type as received kept renamed.
func multipartHeader(h textproto.Header, mediaType string, params map[string]string) (textproto.Header, string) {
	b := params["boundary"]
	if textproto.NewMultipartWriter(io.Discard).SetBoundary(b) == nil {
		return h, b
	}
	h = h.Copy()
	renameOriginal(&h, "Content-Type")
	b = textproto.NewMultipartWriter(io.Discard).Boundary()
	ps := map[string]string{}
	for k, v := range params {
		ps[k] = v
	}
	ps["boundary"] = b
	h.Set("Content-Type", mime.FormatMediaType(mediaType, ps))
	return h, b
}

// writeRemoved writes a replaced part: its header with its Content-*
// fields renamed and what it was said in removedField, and a note as its
// body. what is the removedField's value, note the body.
func writeRemoved(open opener, h textproto.Header, what, note string) error {
	h = h.Copy()
	renameOriginal(&h, "Content-Type", "Content-Transfer-Encoding", "Content-Disposition")
	h.Add(removedField, what)
	h.Add("Content-Transfer-Encoding", "quoted-printable")
	h.Add("Content-Type", "text/plain; charset=utf-8")
	w, err := open(h)
	if err != nil {
		return err
	}
	// Quoted-printable keeps lines short whatever the file's name.
	qw := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qw, note); err != nil {
		return err
	}
	return qw.Close()
}

// removedFile replaces the part that became file item n (counted from 1 in
// the e-mail) named name, scrubbed as rep says.
func removedFile(open opener, h textproto.Header, n int, name string, rep *pista.ScrubReport) error {
	qname := mime.QEncoding.Encode("utf-8", name)
	what := fmt.Sprintf("attachment; file=%d; filename=%q", n, qname)
	var how string
	switch {
	case rep != nil && rep.Scrubbed && len(rep.Found) > 0:
		how = "Its metadata was removed on arrival (" + strings.Join(rep.Found, ", ") + ")."
	case rep != nil && rep.Scrubbed:
		how = "It was scrubbed on arrival; no metadata was found."
	case rep != nil && rep.Note != "":
		how = "It was not scrubbed (" + rep.Note + "): open it with care."
	default:
		how = "It was not scrubbed: open it with care."
	}
	note := fmt.Sprintf("[pista: attachment removed from this copy of the e-mail, so that its metadata (a photo's GPS position, a document's author…) is not kept here. "+
		"It is the file item %q, attachment %d of this e-mail, in the same conversation. %s]\n", name, n, how)
	return writeRemoved(open, h, what, note)
}

// removedSkipped replaces a part that was not extracted (past maxParts or
// maxDepth): nothing of it is kept, as its metadata could not be removed.
func removedSkipped(open opener, h textproto.Header) error {
	note := fmt.Sprintf("[pista: this part of the e-mail was not extracted (past %d parts, or nested deeper than %d) and is not kept: "+
		"its metadata could not be removed.]\n", maxParts, maxDepth)
	return writeRemoved(open, h, "not-extracted", note)
}
