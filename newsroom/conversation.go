package newsroom

import (
	"archive/zip"
	"context"
	"errors"
	"github.com/pista-tips/pista/ui"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/keys"
)

type itemView struct {
	pista.Item
	Author string
}

type conversationData struct {
	Name          string
	Notice        string
	Conversation  pista.Conversation
	DeskTitle     string
	Items         []itemView
	MaxReplyChars int
}

// conversation loads the conversation of the URL if the journalist may
// see it; otherwise it answers 404 and returns false.
func (h *Handler) conversation(w http.ResponseWriter, r *http.Request, q request) (pista.Conversation, bool) {
	c, err := h.Tips.ConversationFor(r.Context(), q.j.ID, r.PathValue("id"))
	if errors.Is(err, pista.ErrNotFound) {
		h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
		return c, false
	} else if err != nil {
		h.Log.Error("loading a conversation", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return c, false
	}
	return c, true
}

// showConversation lists a conversation's items with their sizes and
// dates, and marks it read for this journalist.
func (h *Handler) showConversation(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	items, err := h.Tips.ItemsOfConversation(ctx, c.ID)
	if err != nil {
		h.Log.Error("listing items", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return
	}
	desk, err := h.Desks.DeskByID(ctx, c.DeskID)
	if err != nil {
		h.Log.Error("loading a desk", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return
	}
	if err := h.Tips.MarkRead(ctx, q.j.ID, c.ID); err != nil {
		h.Log.Error("marking read", "err", err)
	}
	d := conversationData{Name: q.j.Name, Conversation: c, DeskTitle: desk.Title, MaxReplyChars: httpx.MaxMessageChars,
		Notice: notices[r.URL.Query().Get("done")]}
	authors := map[int64]string{}
	for _, it := range items {
		v := itemView{Item: it}
		if it.AuthorID != 0 {
			if _, ok := authors[it.AuthorID]; !ok {
				if j, err := h.Journalists.JournalistByID(ctx, it.AuthorID); err == nil {
					authors[it.AuthorID] = j.Name
				}
			}
			v.Author = authors[it.AuthorID]
		}
		d.Items = append(d.Items, v)
	}
	p := h.page(r, q.sid, "newsroom.title")
	p.Data = d
	h.Render.Render(w, http.StatusOK, "newsroom/conversation", p)
}

// downloadItem sends one item's object (or its file's name-and-type
// object), still encrypted.
func (h *Handler) downloadItem(w http.ResponseWriter, r *http.Request, q request) {
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("item"), 10, 64)
	it, err := h.Tips.ItemFor(r.Context(), q.j.ID, id)
	meta := strings.HasSuffix(r.URL.Path, "/meta")
	if err != nil || it.ConversationID != c.ID || (meta && it.Meta == "") {
		h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
		return
	}
	key, size := it.Object, it.Size
	if meta {
		key, size = it.Meta, it.MetaSize
	}
	obj, err := h.Blobs.Open(r.Context(), key)
	if err != nil {
		h.Log.Error("opening an object", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return
	}
	defer obj.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+pista.ItemFileName(it.ID, it.Kind, meta)+`"`)
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	io.Copy(w, obj)
}

// downloadConversation streams a zip of every item's age file. age files
// do not compress, so they are stored as they are.
func (h *Handler) downloadConversation(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	items, err := h.Tips.ItemsOfConversation(ctx, c.ID)
	if err != nil {
		h.Log.Error("listing items", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="conversation-`+c.ID+`.zip"`)
	zw := zip.NewWriter(w)
	add := func(name, key string, t time.Time) error {
		obj, err := h.Blobs.Open(ctx, key)
		if err != nil {
			return err
		}
		defer obj.Close()
		f, err := zw.CreateHeader(&zip.FileHeader{Name: c.ID + "/" + name, Method: zip.Store, Modified: t})
		if err != nil {
			return err
		}
		_, err = io.Copy(f, obj)
		return err
	}
	for _, it := range items {
		err := add(pista.ItemFileName(it.ID, it.Kind, false), it.Object, it.Created)
		if err == nil && it.Meta != "" {
			err = add(pista.ItemFileName(it.ID, it.Kind, true), it.Meta, it.Created)
		}
		if err != nil {
			// Headers are gone: all we can do is stop, leaving a zip
			// that its reader will report as broken.
			h.Log.Error("writing a conversation zip", "err", err)
			return
		}
	}
	zw.Close()
}

func (h *Handler) back(w http.ResponseWriter, r *http.Request, c pista.Conversation, done string) {
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/c/"+c.ID+"?done="+done), http.StatusSeeOther)
}

func (h *Handler) starConversation(w http.ResponseWriter, r *http.Request, q request) {
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	if err := h.Tips.SetStar(r.Context(), q.j.ID, c.ID, r.PostForm.Get("star") == "1"); err != nil {
		h.Log.Error("starring", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return
	}
	h.back(w, r, c, "starred")
}

func (h *Handler) markUnread(w http.ResponseWriter, r *http.Request, q request) {
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	if err := h.Tips.MarkUnread(r.Context(), q.j.ID, c.ID); err != nil {
		h.Log.Error("marking unread", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return
	}
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/?done=unread"), http.StatusSeeOther)
}

// replyToSource encrypts a typed reply to the source's and the desk's
// keys (and the archive's) and stores it. The plaintext lives only in this
// request's memory.
func (h *Handler) replyToSource(w http.ResponseWriter, r *http.Request, q request) {
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	text := strings.ReplaceAll(r.PostForm.Get("reply"), "\r\n", "\n")
	if strings.TrimSpace(text) == "" {
		h.fail(w, r, q.sid, http.StatusBadRequest, "newsroom.reply.empty")
		return
	}
	if !utf8.ValidString(text) || utf8.RuneCountInString(text) > httpx.MaxMessageChars {
		h.fail(w, r, q.sid, http.StatusRequestEntityTooLarge, "error.message.toolong")
		return
	}
	if err := h.Reply(r.Context(), c, q.j.ID, text); err != nil {
		h.Log.Error("storing a reply", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return
	}
	h.Log.Info("journalist replied", "journalist", q.j.Name)
	h.back(w, r, c, "replied")
}

// Reply encrypts text to the conversation's source and desk and stores it
// as a reply by author.
func (h *Handler) Reply(ctx context.Context, c pista.Conversation, author int64, text string) error {
	src, err := h.Tips.SourceByID(ctx, c.SourceID)
	if err != nil {
		return err
	}
	desk, err := h.Desks.DeskByID(ctx, c.DeskID)
	if err != nil {
		return err
	}
	rs, err := keys.ParseRecipients(append([]string{src.Recipient, desk.Recipient}, h.Archive...)...)
	if err != nil {
		return err
	}
	b := intake.NewBatch(h.Blobs, rs, -1)
	if err := b.AddText(ctx, pista.KindReply, text); err != nil {
		return err
	}
	items := b.Items()
	items[0].AuthorID = author
	if err := h.Tips.AddItems(context.WithoutCancel(ctx), c.ID, items); err != nil {
		b.Abort()
		return err
	}
	return nil
}

// deleteConversation deletes a conversation's rows, then its objects.
func (h *Handler) deleteConversation(w http.ResponseWriter, r *http.Request, q request) {
	ctx := context.WithoutCancel(r.Context())
	if r.PostForm.Get("confirm") != "1" {
		h.fail(w, r, q.sid, http.StatusBadRequest, "error.form")
		return
	}
	items, err := h.Tips.DeleteConversation(ctx, q.j.ID, r.PathValue("id"))
	if errors.Is(err, pista.ErrNotFound) {
		h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
		return
	} else if err != nil {
		h.Log.Error("deleting a conversation", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return
	}
	for _, it := range items {
		for _, k := range []string{it.Object, it.Meta} {
			if k == "" {
				continue
			}
			if err := h.Blobs.Delete(ctx, k); err != nil {
				h.Log.Error("deleting an object", "err", err)
			}
		}
	}
	h.Log.Info("journalist deleted a conversation", "journalist", q.j.Name)
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/?done=deleted"), http.StatusSeeOther)
}
