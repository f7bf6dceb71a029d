package newsroom

// The audit log: what journalists did (logins, reads, downloads, replies,
// deletions, membership changes), newest first, a page at a time. It names
// journalists, desks and conversation IDs, never anything a source sent.
//
//	GET /newsroom/audit                 everything (instance admins)
//	GET /newsroom/desks/{slug}/audit    one desk's entries (its coordinators, admins)
//
// Both take ?before=ID for the next page (keyset pagination).
//
// Every read of a desk's tips is recorded, whatever the route: listing
// conversations (the inbox page, its JSON, the API's item list: "list"),
// opening one ("read"), and fetching items (one item, its meta, a zip, the
// API's item and meta: "download"). Lists and downloads come in bursts
// (the page's script fetches every item it shows, `pista pull` every new
// one), so one entry stands for a journalist's lists, or downloads, of one
// conversation within downloadAuditWindow. An entry that cannot be written
// (a full disk) does not stop the read: it goes to the server's log.

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pista-tips/pista"
)

// auditList records that the journalist saw conversations in a list.
func (h *Handler) auditList(ctx context.Context, q request, convs []pista.Conversation) {
	for _, c := range convs {
		if !h.downloads.seen(q.j.ID, "list/"+c.ID, time.Now()) {
			h.audit(ctx, q, pista.AuditList, c)
		}
	}
}

// ReadAudit records the reads of routes outside this package (the API)
// as the inbox records its own.
type ReadAudit struct {
	Team pista.TeamStore
	Tips pista.TipStore
	Log  *slog.Logger

	recent recentAudit
}

// Items records that journalist j listed (pista.AuditList) or downloaded
// (pista.AuditDownload) items: an entry per conversation, each naming its
// desk.
func (ra *ReadAudit) Items(ctx context.Context, j pista.Journalist, action pista.AuditAction, items []pista.Item) {
	ctx = context.WithoutCancel(ctx)
	for _, it := range items {
		if ra.recent.seen(j.ID, string(action)+"/"+it.ConversationID, time.Now()) {
			continue
		}
		e := pista.AuditEntry{Created: pista.Now(), ActorID: j.ID, ActorName: j.Name, Action: action, ConversationID: it.ConversationID}
		if c, err := ra.Tips.ConversationFor(ctx, j.ID, it.ConversationID); err == nil {
			e.DeskID, e.DeskSlug = c.DeskID, c.DeskSlug
		} else {
			ra.Log.Error("finding an audited conversation's desk", "err", err)
		}
		if err := ra.Team.AddAudit(ctx, e); err != nil {
			ra.Log.Error("writing the audit log", "err", err, "action", action, "journalist", j.Name, "conversation", it.ConversationID)
		}
	}
}

// auditPageSize is how many entries a page of the audit log shows.
const auditPageSize = 100

type auditData struct {
	Name    string
	Desk    pista.Desk // the zero Desk for the whole log
	Entries []pista.AuditEntry
	Next    int64 // the ?before= of the next page, 0 if none
}

func (h *Handler) showAudit(w http.ResponseWriter, r *http.Request, q request) {
	if !h.allowed(w, r, q, ActAllAudit, 0) {
		return
	}
	h.renderAudit(w, r, q, pista.Desk{}, nil)
}

func (h *Handler) showDeskAudit(w http.ResponseWriter, r *http.Request, q request) {
	d, ok := h.desk(w, r, q)
	if !ok || !h.allowed(w, r, q, ActDeskAudit, d.ID) {
		return
	}
	h.renderAudit(w, r, q, d, []int64{d.ID})
}

func (h *Handler) renderAudit(w http.ResponseWriter, r *http.Request, q request, d pista.Desk, desks []int64) {
	before, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	if err != nil || before < 0 {
		before = 0
	}
	es, err := h.Team.Audit(r.Context(), pista.AuditQuery{DeskIDs: desks, Before: before, Limit: auditPageSize + 1})
	if err != nil {
		h.internal(w, r, q, "reading the audit log", err)
		return
	}
	ad := auditData{Name: q.j.Name, Desk: d}
	if len(es) > auditPageSize {
		es = es[:auditPageSize]
		ad.Next = es[len(es)-1].ID
	}
	ad.Entries = es
	p := h.page(r, q.sid, "team.audit.title")
	p.Data = ad
	h.Render.Render(w, http.StatusOK, "newsroom/audit", p)
}
