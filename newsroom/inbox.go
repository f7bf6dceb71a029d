package newsroom

import (
	"net/http"
	"strconv"

	"github.com/pista-tips/pista"
)

// inboxPageSize is how many conversations a page of the inbox shows.
const inboxPageSize = 50

type inboxData struct {
	Name          string
	Notice        string
	Desks         []pista.Desk
	DeskID        int64
	DeskSlug      string
	Conversations []pista.Conversation
	Next          int64 // the ?before= of the next page, 0 if none
}

var notices = map[string]string{
	"deleted": "newsroom.deleted",
	"replied": "newsroom.reply.sent",
	"starred": "newsroom.starred.notice",
	"unread":  "newsroom.unread.notice",
}

// showInbox lists the conversations of the journalist's desks, newest
// activity first, a page at a time.
func (h *Handler) showInbox(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	desks, err := h.Desks.DesksOf(ctx, q.j.ID)
	if err != nil {
		h.Log.Error("inbox", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return
	}
	d := inboxData{Name: q.j.Name, Desks: desks, Notice: notices[r.URL.Query().Get("done")]}
	if slug := r.URL.Query().Get("desk"); slug != "" {
		for _, desk := range desks {
			if desk.Slug == slug {
				d.DeskID, d.DeskSlug = desk.ID, desk.Slug
			}
		}
		if d.DeskID == 0 {
			h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
			return
		}
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	convs, err := h.Tips.ConversationsFor(ctx, q.j.ID, pista.Page{Before: max(before, 0), Limit: inboxPageSize + 1, DeskID: d.DeskID})
	if err != nil {
		h.Log.Error("inbox", "err", err)
		h.fail(w, r, q.sid, http.StatusInternalServerError, "error.internal")
		return
	}
	if len(convs) > inboxPageSize {
		convs = convs[:inboxPageSize]
		d.Next = convs[len(convs)-1].LastItem
	}
	d.Conversations = convs
	p := h.page(r, q.sid, "newsroom.inbox.heading")
	p.Data = d
	h.Render.Render(w, http.StatusOK, "newsroom/inbox", p)
}
