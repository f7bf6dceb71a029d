package newsroom

// Desks that run themselves. The server keeps who is on a desk and in
// which role, but it cannot add anyone to a desk on its own: that takes
// the desk's key, which exists only wrapped to each member's public key.
// A coordinator's browser unwraps it and wraps it to the newcomer
// (approve), or makes a new one and wraps it to everyone who stays
// (remove, rotate); the server checks that what arrives is well-formed
// age and stores it.
//
//	GET  /newsroom/desks/{slug}                         members, pending members, invitations
//	POST /newsroom/desks/{slug}/invite                  role → a one-time link, shown once
//	POST /newsroom/desks/{slug}/members/{id}/approve    wraps (JSON) → JSON
//	POST /newsroom/desks/{slug}/members/{id}/reject
//	POST /newsroom/desks/{slug}/members/{id}/role       role
//	POST /newsroom/desks/{slug}/rotate                  remove, recipient, wraps (JSON) → JSON
//	GET  /newsroom/desks/{slug}/audit                   the desk's audit log

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/ui"
)

// Bounds of what a browser sends about desk keys.
const (
	// maxWraps bounds the wraps of one request: one per key generation
	// (approve) or per remaining member (rotate). A form body
	// (httpx.MaxFormBody) holds about 180 of them.
	maxWraps = 128
	// maxWrapSize bounds one wrapped desk identity: a hybrid stanza is
	// about 1.6 KiB and the identity string under 100 bytes.
	maxWrapSize = 4 << 10
)

func (h *Handler) registerTeam(mux *http.ServeMux) {
	mux.HandleFunc("GET /newsroom/desks/{slug}", h.auth(h.showDesk))
	mux.HandleFunc("POST /newsroom/desks/{slug}/invite", h.auth(h.inviteToDesk))
	mux.HandleFunc("POST /newsroom/desks/{slug}/members/{id}/approve", h.auth(h.approveMember))
	mux.HandleFunc("POST /newsroom/desks/{slug}/members/{id}/reject", h.auth(h.rejectMember))
	mux.HandleFunc("POST /newsroom/desks/{slug}/members/{id}/role", h.auth(h.setRole))
	mux.HandleFunc("POST /newsroom/desks/{slug}/rotate", h.auth(h.rotateDeskKey))
	mux.HandleFunc("GET /newsroom/desks/{slug}/audit", h.auth(h.showDeskAudit))
	mux.HandleFunc("GET /newsroom/audit", h.auth(h.showAudit))
	mux.HandleFunc("GET /newsroom/admin", h.auth(h.showAdmin))
	mux.HandleFunc("POST /newsroom/admin/invite", h.auth(h.inviteAdmin))
	mux.HandleFunc("POST /newsroom/admin/desks", h.auth(h.createDesk))
	mux.HandleFunc("POST /newsroom/admin/accounts/{id}/suspend", h.auth(h.suspendAccount))
	mux.HandleFunc("POST /newsroom/admin/accounts/{id}/admin", h.auth(h.setAdmin))
	mux.HandleFunc("GET /newsroom/invite/{token}", h.showInvitation)
	mux.HandleFunc("POST /newsroom/invite/{token}", h.acceptInvitation)
}

// desk loads the desk of the URL, answering 404 for an unknown one.
func (h *Handler) desk(w http.ResponseWriter, r *http.Request, q request) (pista.Desk, bool) {
	d, err := h.Desks.DeskBySlug(r.Context(), r.PathValue("slug"))
	if errors.Is(err, pista.ErrNotFound) {
		h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
		return d, false
	} else if err != nil {
		h.Log.Error("loading a desk", "err", err)
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return d, false
	}
	return d, true
}

type deskData struct {
	Name        string
	Desk        pista.Desk
	Notice      string
	Link        string // a new invitation's link, shown once
	Members     []pista.Member
	Pending     []pista.Member
	Invitations []pista.Invitation
	Keys        []pista.DeskKey
	Self        int64
	Coordinator bool
	CanInvite   bool
	// CanRetain: the journalist may set the desk's retention.
	CanRetain bool
	MaxDays   int
	// Questions: what the desk asks its sources (questions.go).
	Questions questionsData
}

var teamNotices = map[string]string{
	"approved":  "team.approved",
	"rejected":  "team.rejected",
	"removed":   "team.removed",
	"rotated":   "team.rotated",
	"role":      "team.role.changed",
	"created":   "team.desk.created",
	"retention": "retention.set",
	"questions": "questions.edit.saved",
}

// showDesk is a desk's members page: who is on it, who waits for
// approval, and (for coordinators) what can be done about it.
func (h *Handler) showDesk(w http.ResponseWriter, r *http.Request, q request) {
	h.renderDesk(w, r, q, "")
}

func (h *Handler) renderDesk(w http.ResponseWriter, r *http.Request, q request, link string) {
	h.renderDeskWith(w, r, q, link, nil)
}

// renderDeskWith is renderDesk showing a refused change of the desk's
// questions (400), if qe is not nil.
func (h *Handler) renderDeskWith(w http.ResponseWriter, r *http.Request, q request, link string, qe *questionsEdit) {
	ctx := r.Context()
	d, ok := h.desk(w, r, q)
	if !ok || !h.allowed(w, r, q, ActViewDesk, d.ID) {
		return
	}
	members, err := h.Team.Members(ctx, d.ID)
	if err != nil {
		h.internal(w, r, q, "listing members", err)
		return
	}
	dd := deskData{Name: q.j.Name, Desk: d, Link: link, Self: q.j.ID, Notice: teamNotices[r.URL.Query().Get("done")]}
	for _, m := range members {
		if m.Pending {
			dd.Pending = append(dd.Pending, m)
		} else {
			dd.Members = append(dd.Members, m)
		}
	}
	dd.Coordinator = h.may(ctx, q.j, ActApprove, d.ID) == nil
	dd.CanInvite = h.may(ctx, q.j, ActInvite, d.ID) == nil
	dd.CanRetain, dd.MaxDays = h.may(ctx, q.j, ActRetention, d.ID) == nil, pista.MaxRetentionDays
	if dd.CanInvite {
		if dd.Invitations, err = h.Team.Invitations(ctx, d.ID, pista.Now()); err != nil {
			h.internal(w, r, q, "listing invitations", err)
			return
		}
	}
	if dd.Keys, err = h.Team.DeskKeys(ctx, d.ID); err != nil {
		h.internal(w, r, q, "listing desk keys", err)
		return
	}
	p := h.page(r, q.sid, "team.desk.title")
	if dd.Questions, err = h.questionsView(ctx, q.j, d, p.L.Tag); err != nil {
		h.internal(w, r, q, "reading a desk's questions", err)
		return
	}
	status := http.StatusOK
	if link != "" {
		status = http.StatusCreated
	}
	if qe != nil {
		dd.Questions.Error, dd.Questions.Add = questionsError(p.L, qe.err), qe.add
		if qe.json != "" {
			dd.Questions.JSON = qe.json
		}
		status = http.StatusBadRequest
	}
	p.Data = dd
	h.Render.Render(w, status, "newsroom/desk", p)
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, q request, what string, err error) {
	h.Log.Error(what, "err", err)
	h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
}

// auditTeam records what a journalist did to a desk or an account; a failure is logged, and does not
// undo what was done.
func (h *Handler) auditTeam(ctx context.Context, j pista.Journalist, a pista.AuditAction, d pista.Desk, subject string) {
	e := pista.AuditEntry{Created: pista.Now(), ActorID: j.ID, ActorName: j.Name, Action: a, DeskID: d.ID, DeskSlug: d.Slug, Subject: subject}
	if err := h.Team.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		h.Log.Error("recording an audit entry", "action", string(a), "err", err)
	}
}

// newInvitation stores an invitation and returns its link's token.
func (h *Handler) newInvitation(ctx context.Context, inv *pista.Invitation) (string, error) {
	return NewInvitation(ctx, h.Team, inv)
}

// NewInvitation makes a random 32-byte token, stores inv with the token's
// SHA-256 and an expiry of pista.InvitationLifetime, and returns the token
// (base64url): the link is InvitePath + token, and it is shown once.
func NewInvitation(ctx context.Context, team pista.TeamStore, inv *pista.Invitation) (string, error) {
	var b [32]byte
	rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	now := time.Now().UTC()
	inv.TokenHash, inv.Created, inv.Expires = sum[:], now, now.Add(pista.InvitationLifetime)
	if err := team.CreateInvitation(ctx, inv); err != nil {
		return "", err
	}
	return token, nil
}

// InvitePath is where invitation links point, before the token.
const InvitePath = "/newsroom/invite/"

// inviteLink is the absolute address of an invitation, on the host the
// inviting journalist used.
func inviteLink(r *http.Request, token string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + InvitePath + token
}

// inviteToDesk makes a one-time link to join the desk in a role, and
// shows it once: the server keeps only its hash.
func (h *Handler) inviteToDesk(w http.ResponseWriter, r *http.Request, q request) {
	d, ok := h.desk(w, r, q)
	if !ok || !h.allowed(w, r, q, ActInvite, d.ID) {
		return
	}
	role := pista.Role(r.PostForm.Get("role"))
	if !role.Valid() {
		h.fail(w, r, q.sid, http.StatusBadRequest, "team.role.bad")
		return
	}
	inv := pista.Invitation{DeskID: d.ID, Role: role, CreatedBy: q.j.ID}
	token, err := h.newInvitation(r.Context(), &inv)
	if err != nil {
		h.internal(w, r, q, "creating an invitation", err)
		return
	}
	h.auditTeam(r.Context(), q.j, pista.AuditInvite, d, string(role))
	h.renderDesk(w, r, q, inviteLink(r, token))
}

// memberOf finds the member of the URL on desk d.
func (h *Handler) memberOf(ctx context.Context, d pista.Desk, r *http.Request) (pista.Member, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return pista.Member{}, pista.ErrNotFound
	}
	ms, err := h.Team.Members(ctx, d.ID)
	if err != nil {
		return pista.Member{}, err
	}
	for _, m := range ms {
		if m.JournalistID == id {
			return m, nil
		}
	}
	return pista.Member{}, pista.ErrNotFound
}

// wrapIn is one wrapped desk identity as a browser sends it: the key
// generation (approve) or the member (rotate) it is for, and the age
// file in standard base64.
type wrapIn struct {
	Key        int64  `json:"key,omitempty"`
	Journalist int64  `json:"journalist,omitempty"`
	Age        string `json:"age"`
}

// errBadWraps is a wraps field that is not what the browser should send.
var errBadWraps = errors.New("bad wraps")

// parseWraps reads the JSON wraps field: at most maxWraps entries, each
// an age file with exactly one hybrid stanza (the one member it is for).
func parseWraps(s string) ([]wrapIn, [][]byte, error) {
	var ws []wrapIn
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ws); err != nil || dec.More() || len(ws) == 0 || len(ws) > maxWraps {
		return nil, nil, errBadWraps
	}
	files := make([][]byte, len(ws))
	for i, wr := range ws {
		if len(wr.Age) > base64.StdEncoding.EncodedLen(maxWrapSize) {
			return nil, nil, errBadWraps
		}
		b, err := base64.StdEncoding.Strict().DecodeString(wr.Age)
		if err != nil || len(b) == 0 {
			return nil, nil, errBadWraps
		}
		if _, _, err := intake.CheckHeader(bytes.NewReader(b), 1); err != nil {
			return nil, nil, errBadWraps
		}
		files[i] = b
	}
	return ws, files, nil
}

// readNewDeskKey reads a desk key that a browser made (creating or
// rotating a desk): the recipient field, a hybrid age recipient, and the
// wraps field, its identity wrapped to journalists, one wrap each (a
// positive journalist ID, no key generation, no journalist twice). holder,
// unless nil, checks each journalist too: errBadWraps refuses them, any
// other error is the server's. The wraps are for desk slug; on bad input
// readNewDeskKey has answered (jsonResult) and ok is false.
func (h *Handler) readNewDeskKey(w http.ResponseWriter, r *http.Request, slug string, holder func(journalist int64) error) (recipient string, wraps []pista.KeyWrap, ok bool) {
	f := r.PostForm
	recipient = f.Get("recipient")
	if len(recipient) > 4096 {
		h.jsonResult(w, r, http.StatusBadRequest, "", "team.recipient.bad")
		return "", nil, false
	}
	if _, err := age.ParseHybridRecipient(recipient); err != nil {
		h.jsonResult(w, r, http.StatusBadRequest, "", "team.recipient.bad")
		return "", nil, false
	}
	ws, files, err := parseWraps(f.Get("wraps"))
	if err != nil {
		h.jsonResult(w, r, http.StatusBadRequest, "", "team.wraps.bad")
		return "", nil, false
	}
	seen := map[int64]bool{}
	wraps = make([]pista.KeyWrap, len(ws))
	for i, wr := range ws {
		if wr.Journalist <= 0 || wr.Key != 0 || seen[wr.Journalist] {
			h.jsonResult(w, r, http.StatusBadRequest, "", "team.wraps.bad")
			return "", nil, false
		}
		if holder != nil {
			if err := holder(wr.Journalist); errors.Is(err, errBadWraps) {
				h.jsonResult(w, r, http.StatusBadRequest, "", "team.wraps.bad")
				return "", nil, false
			} else if err != nil {
				h.Log.Error("checking a new desk key's holder", "err", err)
				h.jsonResult(w, r, writeStatus(err), "", writeErrorKey(err))
				return "", nil, false
			}
		}
		seen[wr.Journalist] = true
		wraps[i] = pista.KeyWrap{DeskSlug: slug, JournalistID: wr.Journalist, Wrapped: files[i]}
	}
	return recipient, wraps, true
}

// jsonResult answers a request of the desk script: {"next": URL} when it
// worked, {"error": message} in the journalist's language when not.
func (h *Handler) jsonResult(w http.ResponseWriter, r *http.Request, status int, next, errKey string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if errKey != "" {
		l := ui.NewPage(r, h.Newsroom, "").L
		json.NewEncoder(w).Encode(map[string]string{"error": l.T(errKey)})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"next": ui.WithLang(r, next)})
}

// approveMember stores the desk key generations a coordinator's browser
// wrapped to a pending member, making them a member.
func (h *Handler) approveMember(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	d, ok := h.desk(w, r, q)
	if !ok || !h.allowed(w, r, q, ActApprove, d.ID) {
		return
	}
	m, err := h.memberOf(ctx, d, r)
	if errors.Is(err, pista.ErrNotFound) || (err == nil && !m.Pending) {
		h.jsonResult(w, r, http.StatusNotFound, "", "team.pending.gone")
		return
	} else if err != nil {
		h.internal(w, r, q, "finding a member", err)
		return
	}
	ws, files, err := parseWraps(r.PostForm.Get("wraps"))
	if err != nil {
		h.jsonResult(w, r, http.StatusBadRequest, "", "team.wraps.bad")
		return
	}
	gens, err := h.Team.DeskKeys(ctx, d.ID)
	if err != nil {
		h.internal(w, r, q, "listing desk keys", err)
		return
	}
	known := map[int64]bool{}
	for _, g := range gens {
		known[g.ID] = true
	}
	seen := map[int64]bool{}
	wraps := make([]pista.KeyWrap, len(ws))
	for i, wr := range ws {
		if !known[wr.Key] || seen[wr.Key] || wr.Journalist != 0 {
			h.jsonResult(w, r, http.StatusBadRequest, "", "team.wraps.bad")
			return
		}
		seen[wr.Key] = true
		wraps[i] = pista.KeyWrap{DeskKeyID: wr.Key, DeskSlug: d.Slug, JournalistID: m.JournalistID, Wrapped: files[i]}
	}
	if !seen[d.KeyID] {
		h.jsonResult(w, r, http.StatusBadRequest, "", "team.wraps.current")
		return
	}
	err = h.Team.ApproveMember(context.WithoutCancel(ctx), d.ID, m.JournalistID, wraps)
	if errors.Is(err, pista.ErrNotFound) {
		h.jsonResult(w, r, http.StatusNotFound, "", "team.pending.gone")
		return
	} else if err != nil {
		h.Log.Error("approving a member", "err", err)
		h.jsonResult(w, r, writeStatus(err), "", writeErrorKey(err))
		return
	}
	h.auditTeam(ctx, q.j, pista.AuditApprove, d, m.Name)
	h.jsonResult(w, r, http.StatusOK, "/newsroom/desks/"+d.Slug+"?done=approved", "")
}

// rejectMember forgets a pending member; their account stays.
func (h *Handler) rejectMember(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	d, ok := h.desk(w, r, q)
	if !ok || !h.allowed(w, r, q, ActApprove, d.ID) {
		return
	}
	m, err := h.memberOf(ctx, d, r)
	if errors.Is(err, pista.ErrNotFound) || (err == nil && !m.Pending) {
		h.fail(w, r, q.sid, http.StatusNotFound, "team.pending.gone")
		return
	} else if err != nil {
		h.internal(w, r, q, "finding a member", err)
		return
	}
	if err := h.Team.RejectMember(context.WithoutCancel(ctx), d.ID, m.JournalistID); err != nil {
		h.internal(w, r, q, "rejecting a member", err)
		return
	}
	h.auditTeam(ctx, q.j, pista.AuditReject, d, m.Name)
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/desks/"+d.Slug+"?done=rejected"), http.StatusSeeOther)
}

// setRole makes an active member a journalist or a coordinator. A
// coordinator cannot demote themselves: a desk must not lose its last
// coordinator by accident, and another coordinator can do it.
func (h *Handler) setRole(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	d, ok := h.desk(w, r, q)
	if !ok || !h.allowed(w, r, q, ActSetRole, d.ID) {
		return
	}
	role := pista.Role(r.PostForm.Get("role"))
	if !role.Valid() {
		h.fail(w, r, q.sid, http.StatusBadRequest, "team.role.bad")
		return
	}
	m, err := h.memberOf(ctx, d, r)
	if errors.Is(err, pista.ErrNotFound) || (err == nil && m.Pending) {
		h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
		return
	} else if err != nil {
		h.internal(w, r, q, "finding a member", err)
		return
	}
	if m.JournalistID == q.j.ID && role != pista.RoleCoordinator {
		h.fail(w, r, q.sid, http.StatusBadRequest, "team.role.self")
		return
	}
	if err := h.Team.SetRole(ctx, d.ID, m.JournalistID, role); err != nil {
		h.internal(w, r, q, "changing a role", err)
		return
	}
	h.auditTeam(ctx, q.j, pista.AuditRole, d, m.Name+" → "+string(role))
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/desks/"+d.Slug+"?done=role"), http.StatusSeeOther)
}

// rotateDeskKey stores a new desk key that a coordinator's browser made
// and wrapped to every member who stays, removing one member or none.
// Tips from now on are encrypted to the new key; what the removed member
// could read before, they may have kept.
func (h *Handler) rotateDeskKey(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	d, ok := h.desk(w, r, q)
	if !ok || !h.allowed(w, r, q, ActRemove, d.ID) {
		return
	}
	f := r.PostForm
	var removed pista.Member
	if s := f.Get("remove"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			h.jsonResult(w, r, http.StatusBadRequest, "", "error.form")
			return
		}
		if removed, err = h.Team.Membership(ctx, d.ID, id); errors.Is(err, pista.ErrNotFound) {
			h.jsonResult(w, r, http.StatusConflict, "", "team.members.changed")
			return
		} else if err != nil {
			h.internal(w, r, q, "finding a member", err)
			return
		}
		if id == q.j.ID {
			h.jsonResult(w, r, http.StatusBadRequest, "", "team.remove.self")
			return
		}
	}
	// Whether the wraps go to exactly the members who stay is the store's
	// to check, in the transaction that rotates.
	recipient, wraps, ok := h.readNewDeskKey(w, r, d.Slug, nil)
	if !ok {
		return
	}
	key := pista.DeskKey{DeskID: d.ID, Recipient: recipient, Created: pista.Now()}
	err := h.Team.RotateDeskKey(context.WithoutCancel(ctx), d.ID, removed.JournalistID, &key, wraps)
	if errors.Is(err, pista.ErrMembersChanged) || errors.Is(err, pista.ErrNotFound) {
		h.jsonResult(w, r, http.StatusConflict, "", "team.members.changed")
		return
	} else if err != nil {
		h.Log.Error("rotating a desk key", "err", err)
		h.jsonResult(w, r, writeStatus(err), "", writeErrorKey(err))
		return
	}
	done := "rotated"
	if removed.JournalistID != 0 {
		h.auditTeam(ctx, q.j, pista.AuditRemove, d, removed.Name)
		done = "removed"
	}
	h.auditTeam(ctx, q.j, pista.AuditRotate, d, "")
	h.jsonResult(w, r, http.StatusOK, "/newsroom/desks/"+d.Slug+"?done="+done, "")
}
