package newsroom_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
)

// TestPermissionMatrix runs every action of the newsroom as every role,
// on the role's own desk (A) and on another (B), over HTTP through the
// real handlers, and checks the status of each cell. Each cell makes its
// own fresh target (a conversation, a pending member, a member…), so
// that cells do not depend on each other.
func TestPermissionMatrix(t *testing.T) {
	tm := newTeam(t)
	ctx := context.Background()
	st := tm.in.Srv.Stores
	admin := tm.in.Journalist("admin")
	coordA, journA, suspA := tm.in.Journalist("coord-a"), tm.in.Journalist("journ-a"), tm.in.Journalist("susp-a")
	coordB := tm.in.Journalist("coord-b")
	if err := st.Journalists.SetAdmin(ctx, admin.ID, true); err != nil {
		t.Fatal(err)
	}
	deskA := tm.desk("desk-a", []*pistatest.Journalist{coordA, suspA}, journA)
	deskB := tm.desk("desk-b", []*pistatest.Journalist{coordB})
	pendA, _ := tm.pending(deskA, "pend-a")

	n := 0
	fresh := func() *pistatest.Journalist {
		n++
		return tm.in.Journalist(fmt.Sprintf("target-%d", n))
	}
	member := func(d pista.Desk) *pistatest.Journalist {
		j := fresh()
		d, _ = st.Desks.DeskByID(ctx, d.ID)
		w := pista.KeyWrap{DeskKeyID: d.KeyID, JournalistID: j.ID, Wrapped: wrap(t, tm.idents[d.ID], j.Recipient)}
		if err := st.Team.AddMember(ctx, d.ID, j.ID, pista.RoleJournalist, []pista.KeyWrap{w}); err != nil {
			t.Fatal(err)
		}
		return j
	}
	conv := func(d pista.Desk) (string, int64) {
		tip := tm.in.StoreTip(d)
		items, err := st.Tips.ItemsOfConversation(ctx, tip.Conversation.ID)
		if err != nil || len(items) == 0 {
			t.Fatal(err)
		}
		return tip.Conversation.ID, items[0].ID
	}
	id := func(i int64) string { return strconv.FormatInt(i, 10) }
	type action func(b *pistatest.Browser, tok string, d pista.Desk) int
	post := func(b *pistatest.Browser, tok, path string, f url.Values) int {
		return post(b, path, tok, f).Status
	}
	actions := []struct {
		name string
		do   action
	}{
		{"read conversation", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			c, _ := conv(d)
			return b.Get("/newsroom/c/" + c).Status
		}},
		{"download item", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			c, item := conv(d)
			return b.Get("/newsroom/c/" + c + "/items/" + id(item)).Status
		}},
		{"reply", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			c, _ := conv(d)
			return post(b, tok, "/newsroom/c/"+c+"/reply", url.Values{"reply": {"thanks"}})
		}},
		{"star", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			c, _ := conv(d)
			return post(b, tok, "/newsroom/c/"+c+"/star", url.Values{"star": {"1"}})
		}},
		{"set status", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			c, _ := conv(d)
			return post(b, tok, "/newsroom/c/"+c+"/status", url.Values{"status": {"in_progress"}})
		}},
		{"set tags", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			c, _ := conv(d)
			return post(b, tok, "/newsroom/c/"+c+"/tags", url.Values{"tags": {"lead"}})
		}},
		{"assign", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			c, _ := conv(d)
			return post(b, tok, "/newsroom/c/"+c+"/assign", url.Values{"assignee": {""}})
		}},
		{"delete conversation", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			c, _ := conv(d)
			return post(b, tok, "/newsroom/c/"+c+"/delete", url.Values{"confirm": {"1"}})
		}},
		{"hold", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			c, _ := conv(d)
			return post(b, tok, "/newsroom/c/"+c+"/hold", url.Values{"hold": {"1"}})
		}},
		{"set retention", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			return post(b, tok, "/newsroom/desks/"+d.Slug+"/retention", url.Values{"days": {"0"}})
		}},
		// A coordinator of another desk is refused: a selection is
		// deleted whole or not at all (TestBulkDelete).
		{"bulk delete", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			c, _ := conv(d)
			return post(b, tok, "/newsroom/bulk-delete", url.Values{"id": {c}, "confirm": {"1"}})
		}},
		{"invite", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			return post(b, tok, "/newsroom/desks/"+d.Slug+"/invite", url.Values{"role": {"journalist"}})
		}},
		{"approve", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			n++
			p, _ := tm.pending(d, fmt.Sprintf("pending-%d", n))
			return post(b, tok, "/newsroom/desks/"+d.Slug+"/members/"+id(p.ID)+"/approve", url.Values{"wraps": {tm.approveForm(d, p.Recipient)}})
		}},
		{"reject", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			n++
			p, _ := tm.pending(d, fmt.Sprintf("pending-%d", n))
			return post(b, tok, "/newsroom/desks/"+d.Slug+"/members/"+id(p.ID)+"/reject", nil)
		}},
		{"remove member", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			m := member(d)
			f, newID := tm.rotateForm(d, m.ID)
			s := post(b, tok, "/newsroom/desks/"+d.Slug+"/rotate", f)
			if s == http.StatusOK {
				tm.idents[d.ID] = newID
			}
			return s
		}},
		{"rotate key", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			f, newID := tm.rotateForm(d, 0)
			s := post(b, tok, "/newsroom/desks/"+d.Slug+"/rotate", f)
			if s == http.StatusOK {
				tm.idents[d.ID] = newID
			}
			return s
		}},
		{"change role", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			m := member(d)
			return post(b, tok, "/newsroom/desks/"+d.Slug+"/members/"+id(m.ID)+"/role", url.Values{"role": {"coordinator"}})
		}},
		{"view desk audit", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			return b.Get("/newsroom/desks/" + d.Slug + "/audit").Status
		}},
		{"view all audit", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			return b.Get("/newsroom/audit").Status
		}},
		{"list accounts", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			return b.Get("/newsroom/admin").Status
		}},
		{"suspend account", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			return post(b, tok, "/newsroom/admin/accounts/"+id(fresh().ID)+"/suspend", url.Values{"suspend": {"1"}})
		}},
		{"create desk", func(b *pistatest.Browser, tok string, d pista.Desk) int {
			n++
			ident, _ := age.GenerateHybridIdentity()
			f := url.Values{"slug": {fmt.Sprintf("new-%d", n)}, "title": {"New"}, "recipient": {ident.Recipient().String()},
				"wraps": {wrapsField(wrapJSON{Journalist: coordB.ID, Age: b64(wrap(t, ident, coordB.Recipient))})}}
			return post(b, tok, "/newsroom/admin/desks", f)
		}},
	}

	const (
		ok      = http.StatusOK
		created = http.StatusCreated
		see     = http.StatusSeeOther
		no      = http.StatusForbidden
		hidden  = http.StatusNotFound
	)
	// want[role][action] = {desk A, desk B}
	type cell [2]int
	want := map[string]map[string]cell{
		"admin, not a member": {
			"read conversation": {hidden, hidden}, "download item": {hidden, hidden}, "reply": {hidden, hidden},
			"star": {hidden, hidden}, "delete conversation": {hidden, hidden},
			"invite": {created, created}, "approve": {no, no}, "reject": {no, no}, "remove member": {no, no}, "rotate key": {no, no},
			"change role": {no, no}, "view desk audit": {ok, ok}, "view all audit": {ok, ok}, "list accounts": {ok, ok},
			"suspend account": {see, see}, "create desk": {ok, ok},
		},
		"coordinator of A": {
			"read conversation": {ok, hidden}, "download item": {ok, hidden}, "reply": {see, hidden},
			"star": {see, hidden}, "delete conversation": {see, hidden},
			"invite": {created, no}, "approve": {ok, no}, "reject": {see, no}, "remove member": {ok, no}, "rotate key": {ok, no},
			"change role": {see, no}, "view desk audit": {ok, no}, "view all audit": {no, no}, "list accounts": {no, no},
			"suspend account": {no, no}, "create desk": {no, no},
		},
		"journalist of A": {
			"read conversation": {ok, hidden}, "download item": {ok, hidden}, "reply": {see, hidden},
			"star": {see, hidden}, "delete conversation": {see, hidden},
			"invite": {no, no}, "approve": {no, no}, "reject": {no, no}, "remove member": {no, no}, "rotate key": {no, no},
			"change role": {no, no}, "view desk audit": {no, no}, "view all audit": {no, no}, "list accounts": {no, no},
			"suspend account": {no, no}, "create desk": {no, no},
		},
		"pending member of A": {
			"read conversation": {hidden, hidden}, "download item": {hidden, hidden}, "reply": {hidden, hidden},
			"star": {hidden, hidden}, "delete conversation": {hidden, hidden},
			"invite": {no, no}, "approve": {no, no}, "reject": {no, no}, "remove member": {no, no}, "rotate key": {no, no},
			"change role": {no, no}, "view desk audit": {no, no}, "view all audit": {no, no}, "list accounts": {no, no},
			"suspend account": {no, no}, "create desk": {no, no},
		},
	}
	// Status, tags, assignment and holds go like the star; a desk's
	// retention like a role change.
	for _, w := range want {
		for _, a := range []string{"set status", "set tags", "assign", "hold"} {
			w[a] = w["star"]
		}
		w["set retention"] = w["change role"]
		w["bulk delete"] = cell{no, no}
	}
	want["coordinator of A"]["bulk delete"] = cell{see, no}
	// A suspended coordinator of A can do nothing at all.
	all := map[string]cell{}
	for _, a := range actions {
		all[a.name] = cell{no, no}
	}
	want["suspended coordinator of A"] = all

	roles := []struct {
		name string
		id   int64
	}{
		{"admin, not a member", admin.ID}, {"coordinator of A", coordA.ID}, {"journalist of A", journA.ID},
		{"pending member of A", pendA.ID}, {"suspended coordinator of A", suspA.ID},
	}
	for _, role := range roles {
		b := tm.session(role.id)
		tok := csrfOf(b)
		if role.id == suspA.ID {
			if err := st.Journalists.SetSuspended(ctx, suspA.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range actions {
			w, ok := want[role.name][a.name]
			if !ok {
				t.Fatalf("no expectation for %s / %s", role.name, a.name)
			}
			for i, d := range []pista.Desk{deskA, deskB} {
				if got := a.do(b, tok, d); got != w[i] {
					t.Errorf("%s / %s / desk %s: %d, want %d", role.name, a.name, d.Slug, got, w[i])
				}
			}
		}
	}
}
