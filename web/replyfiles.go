package web

// A reply's files, for the source: a journalist's device encrypted each
// to the source's key (and the desk's), padded (pista.Padme), with its
// name, type and exact size in a second age file (newsroom/replyfiles.go).
// The source's page lists them under their reply, and GET
// /source/files/{id} sends one decrypted, with the identity the source's
// codename derived (held by their session, as for the replies' text):
// streamed through age's 64 KiB chunks, cut to the exact size, as an
// attachment under a cleaned name. Nothing of it is logged.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
)

// maxReplyFileMeta bounds a reply file's name-and-type object as
// decrypted here (newsroom.MaxReplyFileMeta, which web does not import).
const maxReplyFileMeta = 6*(httpx.MaxFilenameBytes+httpx.MaxSmallField) + 64

type replyFileView struct {
	ID   int64
	Name string // cleaned (SafeFileName)
	Size int64
}

// replyFile decrypts a reply file's name, type and size.
func (h *Handler) replyFile(ctx context.Context, it pista.Item, id *age.HybridIdentity) (replyFileView, error) {
	meta, err := h.replyFileMeta(ctx, it, id)
	if err != nil {
		return replyFileView{}, err
	}
	size := int64(0)
	if meta.Size != nil {
		size = *meta.Size
	}
	return replyFileView{ID: it.ID, Name: SafeFileName(meta.Name), Size: size}, nil
}

func (h *Handler) replyFileMeta(ctx context.Context, it pista.Item, id *age.HybridIdentity) (pista.FileMeta, error) {
	var meta pista.FileMeta
	if it.Meta == "" {
		return meta, errors.New("a reply file without its name-and-type object")
	}
	obj, err := h.Blobs.Open(ctx, it.Meta)
	if err != nil {
		return meta, err
	}
	defer obj.Close()
	pr, err := age.Decrypt(obj, id)
	if err != nil {
		return meta, err
	}
	b, err := io.ReadAll(io.LimitReader(pr, maxReplyFileMeta+1))
	if err != nil {
		return meta, err
	}
	if len(b) > maxReplyFileMeta {
		return meta, errors.New("a reply file's name-and-type object is too long")
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return meta, err
	}
	if meta.Size != nil && *meta.Size < 0 {
		return meta, errors.New("a reply file's size is negative")
	}
	return meta, nil
}

// downloadReplyFile sends one file of a reply to the source's
// conversation, decrypted with the source's key.
func (h *Handler) downloadReplyFile(w http.ResponseWriter, r *http.Request) {
	sess, _, ok := h.session(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, http.StatusNotFound, "error.notfound")
		return
	}
	items, err := h.Tips.ItemsOfConversation(ctx, sess.ConversationID)
	if err != nil {
		h.Log.Error("listing a source's items", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	var it pista.Item
	for _, x := range items {
		if x.ID == id && x.IsReplyFile() {
			it = x
		}
	}
	if it.ID == 0 {
		h.fail(w, r, http.StatusNotFound, "error.notfound")
		return
	}
	ident, err := sess.Identity()
	if err != nil {
		h.Log.Error("a source's identity", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	meta, err := h.replyFileMeta(ctx, it, ident)
	if err != nil {
		h.Log.Error("decrypting a reply file's name for its source", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	obj, err := h.Blobs.Open(ctx, it.Object)
	if err != nil {
		h.Log.Error("opening a reply file", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	defer obj.Close()
	pr, err := age.Decrypt(obj, ident)
	if err != nil {
		h.Log.Error("decrypting a reply file for its source", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	var body io.Reader = pr
	if meta.Size != nil {
		body = io.LimitReader(pr, *meta.Size)
		w.Header().Set("Content-Length", strconv.FormatInt(*meta.Size, 10))
	}
	// Always an opaque download: the type a journalist's device named is
	// not trusted to render in the tip line's origin.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": SafeFileName(meta.Name)}))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, err := io.Copy(w, body); err != nil && ctx.Err() == nil && !httpx.ClientFault(err) {
		// The status is sent: the source's browser sees a broken download.
		h.Log.Error("sending a reply file", "err", err)
	}
}

// maxSafeName bounds a file name as a download offers it, in bytes.
const maxSafeName = 200

// SafeFileName makes a name a journalist's device sent into one a
// browser or pista follow may save a file under: its last path element,
// without control or formatting characters (bidirectional overrides
// included), quotes or path separators, without leading dots, at most
// maxSafeName bytes of valid UTF-8, and "file" if nothing is left.
func SafeFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r),
			r == '"', r == '/', r == '\\', r == ':', r == '*', r == '?', r == '<', r == '>', r == '|':
			r = '_'
		}
		if b.Len()+utf8.RuneLen(r) > maxSafeName {
			break
		}
		b.WriteRune(r)
	}
	out := strings.TrimLeft(strings.TrimSpace(b.String()), ".")
	out = strings.TrimRight(out, ". ")
	if out == "" {
		return "file"
	}
	return out
}
