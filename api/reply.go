package api

// Replies from the journalists' own devices (pista reply): the client
// asks for a conversation's recipients, encrypts the reply there to all
// of them, and posts the age file, which the server checks as it checks
// the browser's (newsroom.StoreSealedReply) and stores as it is.
//
//	GET  /api/v1/journalist/conversations/{id}/recipients   the keys a reply is encrypted to
//	POST /api/v1/journalist/conversations/{id}/replies      a reply, as an age file; or with files,
//	                                                        multipart/form-data: "reply", then "file"
//	                                                        and "file_meta" for each (newsroom/replyfiles.go)

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/newsroom"
)

// RecipientsResponse answers GET
// /api/v1/journalist/conversations/{id}/recipients: a reply must be
// encrypted to Recipients, all of them: the source's key, the desk's
// current key and the archive's keys, in that order (Source, Desk and
// Archive say which is which). MaxBytes bounds its plaintext.
type RecipientsResponse struct {
	Conversation string   `json:"conversation"`
	Desk         string   `json:"desk"`
	Source       string   `json:"source"`
	DeskKey      string   `json:"desk_key"`
	Archive      []string `json:"archive"`
	Recipients   []string `json:"recipients"`
	MaxBytes     int64    `json:"max_bytes"`
	// MaxFiles and MaxUpload bound the files of one reply: how many, and
	// their padded plaintexts' bytes together.
	MaxFiles  int   `json:"max_files"`
	MaxUpload int64 `json:"max_upload"`
}

// ReplyResponse answers a stored reply.
type ReplyResponse struct {
	Conversation string `json:"conversation"`
	Size         int64  `json:"size"` // the age file's bytes
}

// replyConversation loads the conversation of the path if the journalist
// may see it, or answers 404.
func (h *Handler) replyConversation(w http.ResponseWriter, r *http.Request, q request) (pista.Conversation, bool) {
	c, err := h.Tips.ConversationFor(r.Context(), q.journalist, r.PathValue("id"))
	if errors.Is(err, pista.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such conversation")
		return c, false
	} else if err != nil {
		h.internal(w, err)
		return c, false
	}
	if c.Channel == pista.ChannelEmail {
		// A source who wrote by e-mail has no key (nor a page) to read a
		// reply with, as the inbox says too.
		writeError(w, http.StatusConflict, "no_replies", "this conversation came by e-mail: its source has no key to read a reply with")
		return c, false
	}
	return c, true
}

func (h *Handler) conversationRecipients(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	c, ok := h.replyConversation(w, r, q)
	if !ok {
		return
	}
	src, err := h.Tips.SourceByID(ctx, c.SourceID)
	if err != nil {
		h.internal(w, err)
		return
	}
	if src.Recipient == "" {
		writeError(w, http.StatusConflict, "no_replies", "this conversation's source has no key to read a reply with")
		return
	}
	desk, err := h.Desks.DeskByID(ctx, c.DeskID)
	if err != nil {
		h.internal(w, err)
		return
	}
	archive := append([]string{}, h.Archive...)
	writeJSON(w, http.StatusOK, RecipientsResponse{
		Conversation: c.ID, Desk: desk.Slug, Source: src.Recipient, DeskKey: desk.Recipient, Archive: archive,
		Recipients: append([]string{src.Recipient, desk.Recipient}, archive...), MaxBytes: httpx.MaxMessageBytes,
		MaxFiles: httpx.MaxFiles, MaxUpload: h.MaxUpload,
	})
}

func (h *Handler) replyToConversation(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	c, ok := h.replyConversation(w, r, q)
	if !ok {
		return
	}
	if newsroom.MovedSince(r, c) {
		writeError(w, http.StatusConflict, "moved", "the conversation was moved to another desk ("+newsroom.SealedForHeader+" names another): fetch its recipients again and send once more")
		return
	}
	var body *countingReader
	var err error
	if ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" && params["boundary"] != "" {
		// A reply with files: parts "reply", then "file" and "file_meta"
		// for each file (newsroom/replyfiles.go).
		if room, ok := h.Blobs.(pista.Roomer); ok && r.ContentLength > 0 {
			if err := room.Room(r.ContentLength); err != nil {
				h.refused(w, storageFull(err))
				return
			}
		}
		body = &countingReader{r: http.MaxBytesReader(w, r.Body, newsroom.SealedReplyBodyLimit(h.MaxUpload))}
		err = newsroom.StoreSealedReplyForm(ctx, h.Blobs, h.Tips, c, q.journalist, intake.NewPartReader(body, params["boundary"]), len(h.Archive), h.MaxUpload, "app")
	} else {
		body = &countingReader{r: http.MaxBytesReader(w, r.Body, newsroom.MaxSealedReply)}
		err = newsroom.StoreSealedReply(ctx, h.Blobs, h.Tips, c, q.journalist, body, len(h.Archive), "app")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		var bad *intake.MalformedError
		var form *newsroom.ReplyFormError
		switch {
		case errors.As(err, &form) && form.Code == "too_many_files":
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", form.Reason)
		case errors.As(err, &form):
			writeError(w, http.StatusBadRequest, "bad_request", form.Reason)
		case errors.As(err, &tooBig):
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the reply and its files are larger than this server takes (max_upload of the recipients route)")
		case errors.Is(err, intake.ErrTooLarge) && body.n > newsroom.MaxSealedReply:
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the files are larger than this server takes (max_upload of the recipients route)")
		case errors.Is(err, intake.ErrTooLarge):
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "a reply holds at most a message's bytes (max_bytes of the recipients route)")
		case errors.Is(err, pista.ErrStorageFull):
			h.refused(w, storageFull(err))
		case errors.Is(err, pista.ErrMoved):
			writeError(w, http.StatusConflict, "moved", "the conversation was moved to another desk while this was sent: nothing was stored; fetch its recipients again (GET /api/v1/journalist/conversations/{id}/recipients) and send once more")
		case errors.As(err, &bad):
			writeError(w, http.StatusBadRequest, "malformed", bad.Error()+"; encrypt to every key of GET /api/v1/journalist/conversations/{id}/recipients")
		default:
			h.internal(w, err)
		}
		return
	}
	h.Log.Info("journalist replied", "journalist", q.j.Name, "encrypted_by", "app")
	if h.Auth.Team != nil {
		e := pista.AuditEntry{Created: pista.Now(), ActorID: q.j.ID, ActorName: q.j.Name, Action: pista.AuditReply,
			DeskID: c.DeskID, DeskSlug: c.DeskSlug, ConversationID: c.ID}
		if err := h.Auth.Team.AddAudit(context.WithoutCancel(ctx), e); err != nil {
			h.Log.Error("writing the audit log", "err", err, "action", e.Action, "journalist", e.ActorName, "conversation", e.ConversationID)
		}
	}
	writeJSON(w, http.StatusCreated, ReplyResponse{Conversation: c.ID, Size: body.n})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
