package newsroom

// The instance admin's page. An admin runs accounts and desks; being admin
// reads nothing. Creating a desk takes a desk key, which the admin's
// browser makes, wraps to the chosen first coordinators and forgets: the
// admin is not on the desk unless they chose themselves.
//
//	GET  /newsroom/admin                          accounts, desks, forms
//	POST /newsroom/admin/invite                   desk (slug, or "" with admin=1), role → link shown once
//	POST /newsroom/admin/desks                    slug, title, recipient, wraps (JSON) → JSON
//	POST /newsroom/admin/accounts/{id}/suspend    suspend=1|0
//	POST /newsroom/admin/accounts/{id}/admin      admin=1|0

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/ui"
)

// slugRE is what a desk's short name may be: it goes into URLs, forms and
// mail addresses.
var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// maxTitleChars bounds a desk's title.
const maxTitleChars = 100

type adminData struct {
	Name     string
	Self     int64
	Notice   string
	Link     string
	Accounts []pista.Journalist
	Desks    []pista.Desk
}

var adminNotices = map[string]string{
	"suspended":   "team.account.suspended",
	"unsuspended": "team.account.unsuspended",
	"admin":       "team.account.admin",
	"created":     "team.desk.created",
}

func (h *Handler) showAdmin(w http.ResponseWriter, r *http.Request, q request) {
	h.renderAdmin(w, r, q, "")
}

func (h *Handler) renderAdmin(w http.ResponseWriter, r *http.Request, q request, link string) {
	ctx := r.Context()
	if !h.allowed(w, r, q, ActAccounts, 0) {
		return
	}
	js, err := h.Journalists.Journalists(ctx)
	if err != nil {
		h.internal(w, r, q, "listing accounts", err)
		return
	}
	desks, err := h.Desks.Desks(ctx)
	if err != nil {
		h.internal(w, r, q, "listing desks", err)
		return
	}
	// The page needs names, flags and public keys only.
	for i := range js {
		js[i] = pista.Journalist{ID: js[i].ID, Name: js[i].Name, Recipient: js[i].Recipient, Admin: js[i].Admin,
			Suspended: js[i].Suspended, Created: js[i].Created}
	}
	p := h.page(r, q.sid, "team.admin.title")
	p.Data = adminData{Name: q.j.Name, Self: q.j.ID, Link: link, Accounts: js, Desks: desks, Notice: adminNotices[r.URL.Query().Get("done")]}
	status := http.StatusOK
	if link != "" {
		status = http.StatusCreated
	}
	h.Render.Render(w, status, "newsroom/admin", p)
}

// inviteAdmin makes an invitation to any desk in any role, or to be an
// instance admin on no desk.
func (h *Handler) inviteAdmin(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	f := r.PostForm
	inv := pista.Invitation{CreatedBy: q.j.ID}
	var d pista.Desk
	if f.Get("admin") == "1" {
		if !h.allowed(w, r, q, ActInviteAdmin, 0) {
			return
		}
		if f.Get("desk") != "" {
			h.fail(w, r, q.sid, http.StatusBadRequest, "team.invite.admindesk")
			return
		}
		inv.Admin, inv.Role = true, pista.RoleJournalist
	} else {
		var err error
		d, err = h.Desks.DeskBySlug(ctx, f.Get("desk"))
		if errors.Is(err, pista.ErrNotFound) {
			h.fail(w, r, q.sid, http.StatusBadRequest, "team.desk.unknown")
			return
		} else if err != nil {
			h.internal(w, r, q, "loading a desk", err)
			return
		}
		if !h.allowed(w, r, q, ActInvite, d.ID) {
			return
		}
		inv.DeskID, inv.Role = d.ID, pista.Role(f.Get("role"))
		if !inv.Role.Valid() {
			h.fail(w, r, q.sid, http.StatusBadRequest, "team.role.bad")
			return
		}
	}
	token, err := h.newInvitation(ctx, &inv)
	if err != nil {
		h.internal(w, r, q, "creating an invitation", err)
		return
	}
	subject := string(inv.Role)
	if inv.Admin {
		subject = "admin"
	}
	h.auditTeam(ctx, q.j, pista.AuditInvite, d, subject)
	h.renderAdmin(w, r, q, inviteLink(r, token))
}

// createDesk stores a desk whose first key the admin's browser made and
// wrapped to its first coordinators.
func (h *Handler) createDesk(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	if !h.allowed(w, r, q, ActCreateDesk, 0) {
		return
	}
	f := r.PostForm
	slug, title := f.Get("slug"), f.Get("title")
	if !slugRE.MatchString(slug) {
		h.jsonResult(w, r, http.StatusBadRequest, "", "team.desk.slug")
		return
	}
	if title == "" || !utf8.ValidString(title) || utf8.RuneCountInString(title) > maxTitleChars {
		h.jsonResult(w, r, http.StatusBadRequest, "", "team.desk.titlebad")
		return
	}
	// A desk's first coordinators must be accounts that can act.
	active := func(id int64) error {
		j, err := h.Journalists.JournalistByID(ctx, id)
		if errors.Is(err, pista.ErrNotFound) || (err == nil && j.Suspended) {
			return errBadWraps
		} else if err != nil {
			return fmt.Errorf("loading an account: %w", err)
		}
		return nil
	}
	recipient, wraps, ok := h.readNewDeskKey(w, r, slug, active)
	if !ok {
		return
	}
	for i := range wraps {
		// Its first members are its coordinators.
		wraps[i].Role = pista.RoleCoordinator
	}
	d := pista.Desk{Slug: slug, Title: title, Recipient: recipient}
	err := h.Desks.CreateDesk(context.WithoutCancel(ctx), &d, wraps)
	if errors.Is(err, pista.ErrExists) {
		h.jsonResult(w, r, http.StatusConflict, "", "team.desk.exists")
		return
	} else if err != nil {
		h.Log.Error("creating a desk", "err", err)
		h.jsonResult(w, r, writeStatus(err), "", writeErrorKey(err))
		return
	}
	h.auditTeam(ctx, q.j, pista.AuditCreateDesk, d, "")
	h.jsonResult(w, r, http.StatusOK, "/newsroom/admin?done=created", "")
}

// account loads the account of the URL.
func (h *Handler) account(w http.ResponseWriter, r *http.Request, q request) (pista.Journalist, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
		return pista.Journalist{}, false
	}
	j, err := h.Journalists.JournalistByID(r.Context(), id)
	if errors.Is(err, pista.ErrNotFound) {
		h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
		return j, false
	} else if err != nil {
		h.internal(w, r, q, "loading an account", err)
		return j, false
	}
	return j, true
}

// flag reads a 0/1 form field.
func flag(r *http.Request, name string) (bool, bool) {
	switch r.PostForm.Get(name) {
	case "1":
		return true, true
	case "0":
		return false, true
	}
	return false, false
}

// setAccountFlag is what suspending an account and making it admin
// share: an admin sets the 0/1 form field on the account of the URL with
// set. No admin may do it to themselves: someone must be left to undo it.
// On failure it has answered and ok is false; the caller records and
// answers what was done.
func (h *Handler) setAccountFlag(w http.ResponseWriter, r *http.Request, q request, field string,
	set func(ctx context.Context, journalistID int64, on bool) error, what string) (j pista.Journalist, on, ok bool) {
	if !h.allowed(w, r, q, ActAccounts, 0) {
		return j, false, false
	}
	if j, ok = h.account(w, r, q); !ok {
		return j, false, false
	}
	if on, ok = flag(r, field); !ok {
		h.fail(w, r, q.sid, http.StatusBadRequest, "error.form")
		return j, false, false
	}
	if j.ID == q.j.ID {
		h.fail(w, r, q.sid, http.StatusBadRequest, "team.account.self")
		return j, false, false
	}
	if err := set(r.Context(), j.ID, on); err != nil {
		h.internal(w, r, q, what, err)
		return j, false, false
	}
	return j, on, true
}

// suspendAccount stops an account from doing anything (or lets it again).
func (h *Handler) suspendAccount(w http.ResponseWriter, r *http.Request, q request) {
	j, on, ok := h.setAccountFlag(w, r, q, "suspend", h.Journalists.SetSuspended, "suspending an account")
	if !ok {
		return
	}
	subject, done := j.Name, "suspended"
	if !on {
		subject, done = j.Name+" (lifted)", "unsuspended"
	}
	h.auditTeam(r.Context(), q.j, pista.AuditSuspend, pista.Desk{}, subject)
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/admin?done="+done), http.StatusSeeOther)
}

// setAdmin makes an account an instance admin or not; the instance always
// keeps one, as no admin can revoke themselves.
func (h *Handler) setAdmin(w http.ResponseWriter, r *http.Request, q request) {
	j, on, ok := h.setAccountFlag(w, r, q, "admin", h.Journalists.SetAdmin, "changing admin")
	if !ok {
		return
	}
	subject := j.Name + " → admin"
	if !on {
		subject = j.Name + " → not admin"
	}
	h.auditTeam(r.Context(), q.j, pista.AuditRole, pista.Desk{}, subject)
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/admin?done=admin"), http.StatusSeeOther)
}
