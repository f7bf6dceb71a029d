package newsroom

import (
	"context"
	"errors"
	"net/http"

	"github.com/pista-tips/pista"
)

// Permissions of the newsroom, in one place. Every team and admin handler
// asks [Handler.may] before it does anything; reading a desk's tips is
// decided by the stores themselves (pista.TipStore's *For methods answer
// ErrNotFound outside the journalist's active desks), and suspended
// accounts are stopped before any handler runs (see [Handler.auth]).
//
//	action                          who
//	-----------------------------   -------------------------------------------
//	view a desk's members page      its active members; instance admins
//	invite to a desk                its coordinators; instance admins
//	approve, reject, remove, rotate its coordinators (their browser holds the desk key)
//	change a role on a desk         its coordinators
//	set a desk's retention          its coordinators
//	set a desk's questions          its coordinators
//	delete conversations in bulk    its coordinators (of each conversation's desk)
//	hold or release a conversation  its members (like starring or tagging)
//	move a conversation to a desk   members of both desks; its desk's coordinators, to any desk (transfer.go)
//	view a desk's audit log         its coordinators; instance admins
//	view the whole audit log        instance admins
//	list, suspend accounts, admins  instance admins
//	create a desk, invite an admin  instance admins
//
// Being an instance admin reads nothing: only desk membership (a desk key
// wrapped to the journalist) does. A suspended account may do nothing at
// all, whatever its roles.

// Action is something a journalist may or may not do.
type Action int

const (
	ActViewDesk Action = iota
	ActInvite
	ActApprove // approve or reject a pending member
	ActRemove  // remove a member, rotate the desk key
	ActSetRole
	ActDeskAudit
	ActAllAudit
	ActAccounts // list accounts, suspend, make admin
	ActCreateDesk
	ActInviteAdmin
	ActRetention  // set the desk's retention period
	ActBulkDelete // delete the desk's conversations many at a time
	// ActTransferAny: move the desk's conversations to any desk, not
	// only to the journalist's own (transfer.go).
	ActTransferAny
	ActQuestions // set the questions the desk asks its sources
)

// instanceActions need no desk: they are the instance admin's.
var instanceActions = map[Action]bool{ActAllAudit: true, ActAccounts: true, ActCreateDesk: true, ActInviteAdmin: true}

// errForbidden answers an action the journalist may not do.
var errForbidden = errors.New("newsroom: not allowed")

// may answers whether j may do a on desk deskID (0 for instance actions):
// nil if so, errForbidden if not, another error if the store failed.
func (h *Handler) may(ctx context.Context, j pista.Journalist, a Action, deskID int64) error {
	if j.Suspended {
		return errForbidden
	}
	if instanceActions[a] {
		if j.Admin {
			return nil
		}
		return errForbidden
	}
	if deskID == 0 {
		return errForbidden
	}
	m, err := h.Team.Membership(ctx, deskID, j.ID)
	if errors.Is(err, pista.ErrNotFound) {
		m = pista.Member{}
	} else if err != nil {
		return err
	}
	member := m.JournalistID == j.ID && !m.Pending && !m.Suspended
	coordinator := member && m.Role == pista.RoleCoordinator
	var ok bool
	switch a {
	case ActViewDesk:
		ok = member || j.Admin
	case ActInvite, ActDeskAudit:
		ok = coordinator || j.Admin
	case ActApprove, ActRemove, ActSetRole, ActRetention, ActBulkDelete, ActTransferAny, ActQuestions:
		ok = coordinator
	}
	if !ok {
		return errForbidden
	}
	return nil
}

// allowed is may for handlers: it answers the request itself (403, or 500
// if the store failed) and returns false when the action is refused.
func (h *Handler) allowed(w http.ResponseWriter, r *http.Request, q request, a Action, deskID int64) bool {
	err := h.may(r.Context(), q.j, a, deskID)
	if err == nil {
		return true
	}
	if errors.Is(err, errForbidden) {
		h.fail(w, r, q.sid, http.StatusForbidden, "team.forbidden")
		return false
	}
	h.Log.Error("checking a permission", "err", err)
	h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
	return false
}
