package newsroom

import (
	"archive/zip"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pista-tips/pista/ui"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/keys"
)

type itemView struct {
	pista.Item
	Author  string
	URL     string // the item's age file
	MetaURL string // its file's name-and-type age file, "" if none
}

type conversationData struct {
	Name          string
	Notice        string
	Conversation  pista.Conversation
	DeskTitle     string
	Items         []itemView
	MaxReplyChars int
	Statuses      []pista.Status
	Members       []pista.Member // who it can be assigned to
	TagsText      string         // its tags, as the tags field shows them
	MaxTags       int
	// Recipients are the public keys a reply is encrypted to, separated
	// by spaces: the source's, the desk's current key, the archive's.
	Recipients string
	// ServerReplies: the form without JavaScript may send a reply for the
	// server to encrypt.
	ServerReplies bool
	// Keep says how long the conversation is kept.
	Keep keepView
	// MaxReplyFiles and MaxReplyUpload bound a reply's files (the
	// script's form only: they are encrypted in the browser).
	MaxReplyFiles  int
	MaxReplyUpload int64
	// TransferTo are the desks it may be moved to (transfer.go), and
	// SourceRecipient the source's key, which replies are copied to.
	TransferTo      []transferDesk
	SourceRecipient string
	// NoteRecipients are the public keys an internal note is encrypted
	// to: the desk's current key and the archive's, not the source's.
	NoteRecipients string
	// ConvKey is the conversation's own key (forward secrecy), sealed to
	// the desk's key and the archive's, in base64; "" until sorted.
	ConvKey string
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
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
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
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	desk, err := h.Desks.DeskByID(ctx, c.DeskID)
	if err != nil {
		h.Log.Error("loading a desk", "err", err)
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	src, err := h.Tips.SourceByID(ctx, c.SourceID)
	if err != nil {
		h.Log.Error("loading a source", "err", err)
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	members, err := h.Team.Members(ctx, c.DeskID)
	if err != nil {
		h.Log.Error("listing members", "err", err)
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	if err := h.Tips.MarkRead(ctx, q.j.ID, c.ID); err != nil {
		h.Log.Error("marking read", "err", err)
	}
	h.audit(ctx, q, pista.AuditRead, c)
	d := conversationData{Name: q.j.Name, Conversation: c, DeskTitle: desk.Title, MaxReplyChars: httpx.MaxMessageChars,
		Notice: notices[r.URL.Query().Get("done")], Statuses: statuses, TagsText: strings.Join(c.Tags, " "), MaxTags: pista.MaxTags,
		Recipients: strings.Join(append([]string{src.Recipient, desk.Recipient}, h.Archive...), " "), ServerReplies: !h.NoServerReplies,
		Keep: keepOf(c, desk.RetentionDays, pista.Now()), MaxReplyFiles: httpx.MaxFiles, MaxReplyUpload: h.maxUpload(),
		NoteRecipients: h.noteRecipients(desk)}
	for _, m := range members {
		if !m.Pending && !m.Suspended {
			d.Members = append(d.Members, m)
		}
	}
	d.SourceRecipient = src.Recipient
	if c.KeyRecipient != "" {
		d.ConvKey = base64.StdEncoding.EncodeToString(c.Key)
	}
	if d.TransferTo, err = h.transferTargets(ctx, q.j, c); err != nil {
		h.Log.Error("listing desks", "err", err)
	}
	authors := map[int64]string{}
	for _, it := range items {
		it.Sealing, it.Received = sealingOf(it), receivedOf(it)
		v := itemView{Item: it, URL: itemURL(c.ID, it.ID, false)}
		if it.Meta != "" {
			v.MetaURL = itemURL(c.ID, it.ID, true)
		}
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
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	defer obj.Close()
	h.auditDownload(r.Context(), q, c)
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
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	h.auditDownload(ctx, q, c)
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
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
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
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/?done=unread"), http.StatusSeeOther)
}

// replyToSource encrypts a typed reply to the source's and the desk's
// keys (and the archive's) and stores it. The plaintext lives only in this
// request's memory.
func (h *Handler) replyToSource(w http.ResponseWriter, r *http.Request, q request) {
	if h.NoServerReplies {
		h.fail(w, r, q.sid, http.StatusForbidden, "newsroom.reply.serveroff")
		return
	}
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
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	h.Log.Info("journalist replied", "journalist", q.j.Name)
	h.audit(r.Context(), q, pista.AuditReply, c)
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
	if err := h.Tips.AddItemsFor(context.WithoutCancel(ctx), c.ID, c.DeskID, items); err != nil {
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
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	items, err := h.Tips.DeleteConversation(ctx, q.j.ID, c.ID)
	if errors.Is(err, pista.ErrNotFound) {
		h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
		return
	} else if err != nil {
		h.Log.Error("deleting a conversation", "err", err)
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	if _, err := pista.DeleteObjects(ctx, h.Blobs, items); err != nil {
		h.Log.Error("deleting an object", "err", err)
	}
	h.Log.Info("journalist deleted a conversation", "journalist", q.j.Name)
	h.audit(ctx, q, pista.AuditDelete, c)
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/?done=deleted"), http.StatusSeeOther)
}

// setStatus sets where the desk is with a conversation: new, in progress
// or closed.
func (h *Handler) setStatus(w http.ResponseWriter, r *http.Request, q request) {
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	s := pista.Status(r.PostForm.Get("status"))
	if !s.Valid() {
		h.fail(w, r, q.sid, http.StatusBadRequest, "newsroom.status.invalid")
		return
	}
	if err := h.Tips.SetStatus(r.Context(), q.j.ID, c.ID, s); err != nil {
		h.Log.Error("setting a status", "err", err)
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	h.audit(r.Context(), q, pista.AuditStatus, c)
	h.back(w, r, c, "status")
}

// parseTags reads the tags field: tags separated by spaces or commas,
// lowercased, each pista.ValidTag, at most pista.MaxTags once duplicates
// are dropped. It answers the message key of what is wrong, if anything.
func parseTags(field string) ([]string, string) {
	if len(field) > maxTagsField || !utf8.ValidString(field) {
		return nil, "newsroom.tags.toomany"
	}
	tags := []string{}
	for _, t := range strings.FieldsFunc(strings.ToLower(field), func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if !pista.ValidTag(t) {
			return nil, "newsroom.tags.invalid"
		}
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	if len(tags) > pista.MaxTags {
		return nil, "newsroom.tags.toomany"
	}
	return tags, ""
}

// setTags replaces a conversation's tags. They are stored as they are,
// not encrypted: the page says never to put what a source sent in them.
func (h *Handler) setTags(w http.ResponseWriter, r *http.Request, q request) {
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	tags, key := parseTags(r.PostForm.Get("tags"))
	if key != "" {
		h.fail(w, r, q.sid, http.StatusBadRequest, key)
		return
	}
	if err := h.Tips.SetTags(r.Context(), q.j.ID, c.ID, tags); err != nil {
		h.Log.Error("setting tags", "err", err)
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	h.audit(r.Context(), q, pista.AuditTags, c)
	h.back(w, r, c, "tags")
}

// assign gives a conversation to an active member of its desk (field
// assignee: a journalist's ID), or to nobody (0 or empty).
func (h *Handler) assign(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	var id int64
	if v := r.PostForm.Get("assignee"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			h.fail(w, r, q.sid, http.StatusBadRequest, "newsroom.assign.notmember")
			return
		}
		id = n
	}
	if id != 0 {
		m, err := h.Team.Membership(ctx, c.DeskID, id)
		if errors.Is(err, pista.ErrNotFound) || (err == nil && (m.Pending || m.Suspended)) {
			h.fail(w, r, q.sid, http.StatusBadRequest, "newsroom.assign.notmember")
			return
		} else if err != nil {
			h.Log.Error("checking a membership", "err", err)
			h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
			return
		}
	}
	err := h.Tips.SetAssignee(ctx, q.j.ID, c.ID, id)
	if errors.Is(err, pista.ErrNotFound) {
		// The member left meanwhile.
		h.fail(w, r, q.sid, http.StatusBadRequest, "newsroom.assign.notmember")
		return
	} else if err != nil {
		h.Log.Error("assigning", "err", err)
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	e := h.auditEntry(q, pista.AuditAssign, c)
	if id != 0 {
		if j, err := h.Journalists.JournalistByID(ctx, id); err == nil {
			e.Subject = j.Name
		}
	}
	h.addAudit(ctx, e)
	h.back(w, r, c, "assigned")
}

// MaxSealedReply bounds the body of a sealed reply: the longest reply in
// age's STREAM format, and a header with room for many archive keys.
const MaxSealedReply = intake.MaxSealedHeader + httpx.MaxMessageBytes + httpx.MaxMessageBytes/(64<<10)*16 + 64

// StoreSealedReply stores body, a reply that a journalist's own device
// (the browser, or pista reply) encrypted to the conversation's source,
// its desk's current key and the archive's keys (archive of them), as
// that age file, byte for byte, by author. Its header must hold exactly
// one hybrid stanza per recipient and nothing else (intake.CheckHeader),
// its plaintext at most a message's bytes (httpx.MaxMessageBytes); body
// is read to at most MaxSealedReply bytes. by says where it was
// encrypted ("browser", "app"). It answers intake.ErrMalformed or
// intake.ErrTooLarge for a body it refuses.
func StoreSealedReply(ctx context.Context, blobs pista.BlobStore, tips pista.TipStore, c pista.Conversation, author int64, body io.Reader, archive int, by string) error {
	return storeSealed(ctx, blobs, tips, c, pista.KindReply, author, body, 2+archive, by)
}

// storeSealed stores body, a text item of kind that a journalist's device
// encrypted to recipients keys, as StoreSealedReply says.
func storeSealed(ctx context.Context, blobs pista.BlobStore, tips pista.TipStore, c pista.Conversation, kind pista.ItemKind, author int64, body io.Reader, recipients int, by string) error {
	b := intake.NewBatch(blobs, nil, -1)
	lr := &io.LimitedReader{R: body, N: MaxSealedReply + 1}
	if _, err := b.AddEncrypted(ctx, kind, lr, recipients, httpx.MaxMessageBytes); err != nil {
		b.Abort()
		if lr.N <= 0 {
			return intake.ErrTooLarge
		}
		return err
	}
	if lr.N <= 0 {
		b.Abort()
		return intake.ErrTooLarge
	}
	b.MarkEncryptedBy(by)
	items := b.Items()
	items[0].AuthorID = author
	if err := tips.AddItemsFor(context.WithoutCancel(ctx), c.ID, c.DeskID, items); err != nil {
		b.Abort()
		return err
	}
	return nil
}

// conversationJSON loads the conversation a JSON route names, if the
// journalist may see it; otherwise it answers the error and false.
func (h *Handler) conversationJSON(w http.ResponseWriter, r *http.Request, q request) (pista.Conversation, bool) {
	c, err := h.Tips.ConversationFor(r.Context(), q.j.ID, r.PathValue("id"))
	if errors.Is(err, pista.ErrNotFound) {
		h.jsonError(w, r, http.StatusNotFound, "error.notfound")
		return c, false
	} else if err != nil {
		h.Log.Error("loading a conversation", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return c, false
	}
	return c, true
}

// SealedForHeader names the desk whose keys a page encrypted to (its
// slug): a page opened before its conversation moved to another desk
// still holds the old desk's keys, and what it sends is refused rather
// than stored where the new desk cannot read it.
const SealedForHeader = "Pista-Sealed-For"

// MovedSince reports whether r was encrypted for another desk than the
// conversation's.
func MovedSince(r *http.Request, c pista.Conversation) bool {
	slug := r.Header.Get(SealedForHeader)
	return slug != "" && slug != c.DeskSlug
}

// replySealed stores a reply that the journalist's browser encrypted to
// the conversation's source, its desk's current key and the archive's
// keys (the page's data-recipients): the body is that age file, as it is
// (StoreSealedReply). It answers JSON: {"location": …} to go to, or
// {"error": …}.
func (h *Handler) replySealed(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	c, ok := h.conversationJSON(w, r, q)
	if !ok {
		return
	}
	var err error
	if MovedSince(r, c) {
		h.jsonError(w, r, http.StatusConflict, "moved.newsroom")
		return
	}
	if ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" && params["boundary"] != "" {
		// A reply with files (replyfiles.go).
		if room, ok := h.Blobs.(pista.Roomer); ok && r.ContentLength > 0 {
			if err := room.Room(r.ContentLength); err != nil {
				h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, SealedReplyBodyLimit(h.maxUpload()))
		err = StoreSealedReplyForm(ctx, h.Blobs, h.Tips, c, q.j.ID, intake.NewPartReader(r.Body, params["boundary"]), len(h.Archive), h.maxUpload(), "browser")
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, MaxSealedReply)
		err = StoreSealedReply(ctx, h.Blobs, h.Tips, c, q.j.ID, r.Body, len(h.Archive), "browser")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		var form *ReplyFormError
		switch {
		case errors.As(err, &form) && form.Code == "too_many_files":
			w.Header().Set("Connection", "close")
			h.jsonError(w, r, http.StatusRequestEntityTooLarge, "nr-files.toomany")
		case errors.As(err, &form):
			h.jsonError(w, r, http.StatusBadRequest, "error.form")
		case errors.As(err, &tooBig):
			w.Header().Set("Connection", "close")
			h.jsonError(w, r, http.StatusRequestEntityTooLarge, "error.toolarge")
		case errors.Is(err, intake.ErrTooLarge):
			h.jsonError(w, r, http.StatusRequestEntityTooLarge, "error.message.toolong")
		case errors.Is(err, intake.ErrMalformed):
			h.jsonError(w, r, http.StatusBadRequest, "newsroom.reply.malformed")
		default:
			h.Log.Error("storing a sealed reply", "err", err)
			h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		}
		return
	}
	h.Log.Info("journalist replied", "journalist", q.j.Name, "encrypted_by", "browser")
	h.audit(ctx, q, pista.AuditReply, c)
	writeJSON(w, http.StatusOK, map[string]string{"location": ui.WithLang(r, "/newsroom/c/"+c.ID+"?done=replied")})
}

func (h *Handler) auditEntry(q request, a pista.AuditAction, c pista.Conversation) pista.AuditEntry {
	return pista.AuditEntry{Created: pista.Now(), ActorID: q.j.ID, ActorName: q.j.Name, Action: a,
		DeskID: c.DeskID, DeskSlug: c.DeskSlug, ConversationID: c.ID}
}

// addAudit records e; a failure is logged, and does not undo what was
// done.
func (h *Handler) addAudit(ctx context.Context, e pista.AuditEntry) {
	if err := h.Team.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		h.Log.Error("writing the audit log", "err", err, "action", e.Action, "journalist", e.ActorName, "conversation", e.ConversationID)
	}
}

// audit records that the journalist did a to conversation c.
func (h *Handler) audit(ctx context.Context, q request, a pista.AuditAction, c pista.Conversation) {
	h.addAudit(ctx, h.auditEntry(q, a, c))
}

// auditDownload records that the journalist fetched an item of c. The
// page's script fetches every item of a conversation it shows, and the
// search fetches every text item, so one entry stands for a journalist's
// downloads from one conversation within downloadAuditWindow.
func (h *Handler) auditDownload(ctx context.Context, q request, c pista.Conversation) {
	if h.Shared != nil {
		// One entry per window for the whole tip line, whichever
		// instance served the downloads.
		k := strconv.FormatInt(q.j.ID, 10) + "/" + c.ID
		if fresh, err := h.Shared.Add(ctx, "download-audit", []byte(k), nil, time.Now().Add(downloadAuditWindow)); err == nil && !fresh {
			return
		}
	} else if h.downloads.seen(q.j.ID, c.ID, time.Now()) {
		return
	}
	h.audit(ctx, q, pista.AuditDownload, c)
}

// downloadAuditWindow is how long one download entry covers a
// journalist's further downloads from the same conversation.
const downloadAuditWindow = 15 * time.Minute

// maxRecentAudit bounds the memory of recent download entries; past it,
// the memory starts again (recording a few entries twice).
const maxRecentAudit = 10_000

// recentAudit remembers when download entries were recorded.
type recentAudit struct {
	mu   sync.Mutex
	when map[string]time.Time
}

// seen reports whether a download by journalist from conv was recorded
// within downloadAuditWindow before now, and if not, remembers now.
func (ra *recentAudit) seen(journalist int64, conv string, now time.Time) bool {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	k := strconv.FormatInt(journalist, 10) + "/" + conv
	if t, ok := ra.when[k]; ok && now.Sub(t) < downloadAuditWindow {
		return true
	}
	if ra.when == nil || len(ra.when) >= maxRecentAudit {
		ra.when = map[string]time.Time{}
	}
	ra.when[k] = now
	return false
}
