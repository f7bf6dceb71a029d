package newsroom

// Retention and deletion in the inbox (see pista's retention.go for the
// rules).
//
//	POST /newsroom/c/{id}/hold                hold=1 holds, hold=0 releases
//	POST /newsroom/desks/{slug}/retention     days (0 keeps): coordinators
//	POST /newsroom/bulk-delete                id (repeated, at most pista.MaxBulkDelete):
//	                                          without confirm=1 a confirmation page,
//	                                          with it the deletion: coordinators
//
// A bulk deletion writes one audit entry per deleted conversation
// (pista.AuditBulkDelete), like a single deletion does, so that the desk's
// log says which conversations went and who deleted them.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/ui"
)

func (h *Handler) registerRetention(mux *http.ServeMux) {
	mux.HandleFunc("POST /newsroom/c/{id}/hold", h.auth(h.holdConversation))
	mux.HandleFunc("POST /newsroom/desks/{slug}/retention", h.auth(h.setDeskRetention))
	mux.HandleFunc("POST /newsroom/bulk-delete", h.auth(h.bulkDelete))
}

// keepView says how long a conversation is kept, for the pages.
type keepView struct {
	Held bool
	Days int // the desk's retention; 0 keeps
	Left int // whole days left, rounded up; 0 on its last day
	On   time.Time
}

func keepOf(c pista.Conversation, days int, now time.Time) keepView {
	k := keepView{Held: c.Held, Days: days}
	if days > 0 {
		k.On = pista.ExpiresAt(c.Updated, days)
		k.Left = pista.DaysLeft(k.On, now)
	}
	return k
}

// holdConversation holds a conversation (kept whatever its desk's
// retention) or releases it. Any member of the desk may, as they may
// star or tag it; both are in the audit log.
func (h *Handler) holdConversation(w http.ResponseWriter, r *http.Request, q request) {
	ctx := context.WithoutCancel(r.Context())
	c, ok := h.conversation(w, r, q)
	if !ok {
		return
	}
	hold := r.PostForm.Get("hold") == "1"
	if err := h.Tips.SetHold(ctx, q.j.ID, c.ID, hold); errors.Is(err, pista.ErrNotFound) {
		h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
		return
	} else if err != nil {
		h.internal(w, r, q, "holding a conversation", err)
		return
	}
	action, done := pista.AuditRelease, "released"
	if hold {
		action, done = pista.AuditHold, "held"
	}
	h.audit(ctx, q, action, c)
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/c/"+c.ID+"?done="+done), http.StatusSeeOther)
}

// setDeskRetention sets how many days the desk keeps a conversation after
// its last activity.
func (h *Handler) setDeskRetention(w http.ResponseWriter, r *http.Request, q request) {
	ctx := context.WithoutCancel(r.Context())
	d, ok := h.desk(w, r, q)
	if !ok || !h.allowed(w, r, q, ActRetention, d.ID) {
		return
	}
	days, err := strconv.Atoi(r.PostForm.Get("days"))
	if err != nil || !pista.ValidRetention(days) {
		h.fail(w, r, q.sid, http.StatusBadRequest, "retention.days.bad")
		return
	}
	if err := h.Desks.SetRetention(ctx, d.ID, days); err != nil {
		h.internal(w, r, q, "setting a desk's retention", err)
		return
	}
	h.auditTeam(ctx, q.j, pista.AuditRetention, d, strconv.Itoa(days))
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/desks/"+d.Slug+"?done=retention"), http.StatusSeeOther)
}

type bulkData struct {
	Name string
	IDs  []string
}

// bulkDelete deletes many conversations at once, for cleaning up after a
// flood: the inbox's checkboxes post their IDs here, which answers a
// confirmation page; its form posts them again with confirm=1. Only the
// conversations of desks the journalist coordinates are deleted (the
// store checks, in the deletion's transaction); a journalist who
// coordinates no desk is refused outright.
func (h *Handler) bulkDelete(w http.ResponseWriter, r *http.Request, q request) {
	ctx := context.WithoutCancel(r.Context())
	ids, status, key := selectedIDs(r)
	if key != "" {
		h.fail(w, r, q.sid, status, key)
		return
	}
	coordinates, err := h.coordinatedDesks(ctx, q.j)
	if err != nil {
		h.internal(w, r, q, "checking a permission", err)
		return
	}
	if len(coordinates) == 0 {
		h.fail(w, r, q.sid, http.StatusForbidden, "team.forbidden")
		return
	}
	// All or nothing: a selection with a conversation the journalist may
	// not delete is refused whole, before the confirmation and again
	// after it, rather than deleted in part.
	for _, id := range ids {
		c, err := h.Tips.ConversationFor(ctx, q.j.ID, id)
		if errors.Is(err, pista.ErrNotFound) || (err == nil && !coordinates[c.DeskID]) {
			h.fail(w, r, q.sid, http.StatusForbidden, "notes.bulk.notallowed")
			return
		} else if err != nil {
			h.internal(w, r, q, "loading a conversation", err)
			return
		}
	}
	if r.PostForm.Get("confirm") != "1" {
		p := h.page(r, q.sid, "retention.bulk.title")
		p.Data = bulkData{Name: q.j.Name, IDs: ids}
		h.Render.Render(w, http.StatusOK, "newsroom/bulkdelete", p)
		return
	}
	gone, err := h.Tips.DeleteConversations(ctx, q.j.ID, ids)
	if err != nil {
		h.internal(w, r, q, "deleting conversations", err)
		return
	}
	objects := 0
	for _, c := range gone {
		n, err := pista.DeleteObjects(ctx, h.Blobs, c.Items)
		objects += n
		if err != nil {
			h.Log.Error("deleting an object", "err", err)
		}
		h.addAudit(ctx, pista.AuditEntry{Created: pista.Now(), ActorID: q.j.ID, ActorName: q.j.Name, Action: pista.AuditBulkDelete,
			DeskID: c.DeskID, DeskSlug: c.DeskSlug, ConversationID: c.ID})
	}
	h.Log.Info("journalist deleted conversations in bulk", "journalist", q.j.Name, "conversations", len(gone), "objects", objects)
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/?done=bulkdeleted&n="+strconv.Itoa(len(gone))), http.StatusSeeOther)
}

// coordinatedDesks are the IDs of the desks where j may delete in bulk.
func (h *Handler) coordinatedDesks(ctx context.Context, j pista.Journalist) (map[int64]bool, error) {
	desks, err := h.Desks.DesksOf(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	ids := map[int64]bool{}
	for _, d := range desks {
		switch err := h.may(ctx, j, ActBulkDelete, d.ID); {
		case err == nil:
			ids[d.ID] = true
		case !errors.Is(err, errForbidden):
			return nil, err
		}
	}
	return ids, nil
}
