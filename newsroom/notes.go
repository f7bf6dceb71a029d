package newsroom

// Internal notes, previews in the inbox, and bulk actions on the
// conversations selected in it.
//
//	POST /newsroom/c/{id}/note/sealed   body: an age file the journalist's browser
//	                                    encrypted to the desk's current key and the
//	                                    archive's (never to the source's): a note
//	POST /newsroom/bulk                 id (repeated, at most pista.MaxBulkDelete),
//	                                    status, assignee ("" leaves it, 0: nobody),
//	                                    tags_add, tags_remove: all or nothing
//
// A note is an item of kind pista.KindNote: the desk sees it in the
// conversation, `pista pull` and `pista open` (note-N.txt); the source's
// pages, the source API and `pista follow` list only replies, so a source
// never sees a note nor learns that one exists. Like a reply, a note is
// in the audit log (pista.AuditNote).
//
// A bulk action writes one audit entry per conversation and change, as
// the same change made on each conversation's page would.

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/ui"
)

func (h *Handler) registerNotes(mux *http.ServeMux) {
	mux.HandleFunc("POST /newsroom/c/{id}/note/sealed", h.auth(h.noteSealed))
	mux.HandleFunc("POST /newsroom/bulk", h.auth(h.bulkChange))
}

// noteSealed stores a note that the journalist's browser encrypted to the
// desk's current key and the archive's keys (the note form's
// data-recipients). It answers JSON: {"location": …} or {"error": …}.
func (h *Handler) noteSealed(w http.ResponseWriter, r *http.Request, q request) {
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
	r.Body = http.MaxBytesReader(w, r.Body, MaxSealedReply)
	err = storeSealed(ctx, h.Blobs, h.Tips, c, pista.KindNote, q.j.ID, r.Body, 1+len(h.Archive), "browser")
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.Is(err, intake.ErrTooLarge) || errors.As(err, &tooBig):
			h.jsonError(w, r, http.StatusRequestEntityTooLarge, "error.message.toolong")
		case errors.Is(err, intake.ErrMalformed):
			h.jsonError(w, r, http.StatusBadRequest, "notes.note.malformed")
		default:
			h.Log.Error("storing a note", "err", err)
			h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		}
		return
	}
	h.Log.Info("journalist wrote a note", "journalist", q.j.Name)
	h.audit(ctx, q, pista.AuditNote, c)
	writeJSON(w, http.StatusOK, map[string]string{"location": ui.WithLang(r, "/newsroom/c/"+c.ID+"?done=noted")})
}

// noteRecipients are the keys a note is encrypted to: the desk's current
// key and the archive's, never the source's.
func (h *Handler) noteRecipients(d pista.Desk) string {
	return strings.Join(append([]string{d.Recipient}, h.Archive...), " ")
}

// inboxPreviews are what the inbox's script decrypts for each row, by
// conversation ID: its preview's age file (base64), or, for a
// conversation from before previews, where to fetch its first message.
func inboxPreviews(convs []pista.Conversation) (previews, first map[string]string) {
	previews, first = map[string]string{}, map[string]string{}
	for _, c := range convs {
		switch {
		case len(c.Preview) > 0:
			previews[c.ID] = base64.StdEncoding.EncodeToString(c.Preview)
		case c.FirstMessage != 0:
			first[c.ID] = itemURL(c.ID, c.FirstMessage, false)
		}
	}
	return previews, first
}

// assignable lists the active members of the journalist's desks, once
// each, by name: whom the inbox's bulk action can assign to.
func (h *Handler) assignable(ctx context.Context, desks []pista.Desk) ([]pista.Member, error) {
	seen := map[int64]bool{}
	var out []pista.Member
	for _, d := range desks {
		ms, err := h.Team.Members(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if !m.Pending && !m.Suspended && !seen[m.JournalistID] {
				seen[m.JournalistID] = true
				out = append(out, m)
			}
		}
	}
	slices.SortFunc(out, func(a, b pista.Member) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// selectedIDs reads the conversations a bulk form selected: at least one,
// at most pista.MaxBulkDelete, each a small field. It answers the
// message key of what is wrong, if anything.
func selectedIDs(r *http.Request) ([]string, int, string) {
	ids := r.PostForm["id"]
	switch {
	case len(ids) == 0:
		return nil, http.StatusBadRequest, "retention.bulk.none"
	case len(ids) > pista.MaxBulkDelete:
		return nil, http.StatusBadRequest, "retention.bulk.toomany"
	}
	for _, id := range ids {
		if id == "" || len(id) > httpx.MaxSmallField {
			return nil, http.StatusBadRequest, "error.form"
		}
	}
	return ids, 0, ""
}

// bulkChange sets the status, assignee or tags of the conversations
// selected in the inbox, all of them or none: if one is not of the
// journalist's desks (or the assignee is not an active member of its
// desk), nothing changes and the page says so.
func (h *Handler) bulkChange(w http.ResponseWriter, r *http.Request, q request) {
	ctx := context.WithoutCancel(r.Context())
	ids, status, key := selectedIDs(r)
	if key != "" {
		h.fail(w, r, q.sid, status, key)
		return
	}
	var ch pista.BulkChange
	if v := r.PostForm.Get("status"); v != "" {
		ch.Status = pista.Status(v)
		if !ch.Status.Valid() {
			h.fail(w, r, q.sid, http.StatusBadRequest, "newsroom.status.invalid")
			return
		}
	}
	if v := r.PostForm.Get("assignee"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			h.fail(w, r, q.sid, http.StatusBadRequest, "newsroom.assign.notmember")
			return
		}
		ch.Assign, ch.Assignee = true, n
	}
	var bad string
	if ch.AddTags, bad = parseTags(r.PostForm.Get("tags_add")); bad != "" {
		h.fail(w, r, q.sid, http.StatusBadRequest, bad)
		return
	}
	if ch.RemoveTags, bad = parseTags(r.PostForm.Get("tags_remove")); bad != "" {
		h.fail(w, r, q.sid, http.StatusBadRequest, bad)
		return
	}
	if ch.Empty() {
		h.fail(w, r, q.sid, http.StatusBadRequest, "notes.bulk.nothing")
		return
	}
	// Every conversation must be the journalist's to change: read them
	// first, for a clear refusal and for the audit log's entries.
	convs := make([]pista.Conversation, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		c, err := h.Tips.ConversationFor(ctx, q.j.ID, id)
		if errors.Is(err, pista.ErrNotFound) {
			h.fail(w, r, q.sid, http.StatusNotFound, "notes.bulk.notyours")
			return
		} else if err != nil {
			h.internal(w, r, q, "loading a conversation", err)
			return
		}
		convs = append(convs, c)
	}
	assigneeName := ""
	if ch.Assign && ch.Assignee != 0 {
		checked := map[int64]bool{}
		for _, c := range convs {
			if checked[c.DeskID] {
				continue
			}
			checked[c.DeskID] = true
			m, err := h.Team.Membership(ctx, c.DeskID, ch.Assignee)
			if errors.Is(err, pista.ErrNotFound) || (err == nil && (m.Pending || m.Suspended)) {
				h.fail(w, r, q.sid, http.StatusBadRequest, "notes.bulk.notmember")
				return
			} else if err != nil {
				h.internal(w, r, q, "checking a membership", err)
				return
			}
			assigneeName = m.Name
		}
	}
	err := h.Tips.ChangeConversations(ctx, q.j.ID, ids, ch)
	switch {
	case errors.Is(err, pista.ErrNotFound):
		// A conversation went, or the assignee left, meanwhile.
		h.fail(w, r, q.sid, http.StatusConflict, "notes.bulk.notyours")
		return
	case errors.Is(err, pista.ErrTooManyTags):
		h.fail(w, r, q.sid, http.StatusBadRequest, "notes.bulk.toomanytags")
		return
	case errors.Is(err, pista.ErrTooMany):
		h.fail(w, r, q.sid, http.StatusBadRequest, "retention.bulk.toomany")
		return
	case err != nil:
		h.internal(w, r, q, "changing conversations in bulk", err)
		return
	}
	for _, c := range convs {
		if ch.Status != "" {
			h.audit(ctx, q, pista.AuditStatus, c)
		}
		if ch.Assign {
			e := h.auditEntry(q, pista.AuditAssign, c)
			e.Subject = assigneeName
			h.addAudit(ctx, e)
		}
		if len(ch.AddTags) > 0 || len(ch.RemoveTags) > 0 {
			h.audit(ctx, q, pista.AuditTags, c)
		}
	}
	h.Log.Info("journalist changed conversations in bulk", "journalist", q.j.Name, "conversations", len(convs))
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/?done=bulkchanged&n="+strconv.Itoa(len(convs))), http.StatusSeeOther)
}
