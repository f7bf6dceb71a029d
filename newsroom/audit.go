package newsroom

// The audit log: what journalists did (logins, reads, downloads, replies,
// deletions, membership changes), newest first, a page at a time. It names
// journalists, desks and conversation IDs, never anything a source sent.
//
//	GET /newsroom/audit                 everything (instance admins)
//	GET /newsroom/desks/{slug}/audit    one desk's entries (its coordinators, admins)
//
// Both take ?before=ID for the next page (keyset pagination).

import (
	"net/http"
	"strconv"

	"github.com/pista-tips/pista"
)

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
