package newsroom_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
)

func exists(t *testing.T, st pista.TipStore, j int64, id string) bool {
	t.Helper()
	_, err := st.ConversationFor(context.Background(), j, id)
	if err != nil && err != pista.ErrNotFound && !strings.Contains(err.Error(), pista.ErrNotFound.Error()) {
		t.Fatal(err)
	}
	return err == nil
}

func auditActions(t *testing.T, team pista.TeamStore, desk int64) map[string][]pista.AuditAction {
	t.Helper()
	es, err := team.Audit(context.Background(), pista.AuditQuery{DeskIDs: []int64{desk}, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]pista.AuditAction{}
	for _, e := range es {
		m[e.ConversationID] = append(m[e.ConversationID], e.Action)
	}
	return m
}

// TestBulkDelete: coordinators only, a confirmation step, the count
// bound, CSRF, objects deleted, one audit entry per conversation.
func TestBulkDelete(t *testing.T) {
	tm := newTeam(t)
	ctx := context.Background()
	st := tm.in.Srv.Stores
	coord, journ, other := tm.in.Journalist("coord"), tm.in.Journalist("journ"), tm.in.Journalist("other")
	deskA := tm.desk("desk-a", []*pistatest.Journalist{coord}, journ)
	deskB := tm.desk("desk-b", []*pistatest.Journalist{other}, coord)
	var flood []string
	var objects []string
	for range 5 {
		tip := tm.in.StoreTip(deskA)
		flood = append(flood, tip.Conversation.ID)
		for _, it := range tip.Items {
			objects = append(objects, it.Object)
		}
	}
	// coord is only a journalist on desk B.
	notCoordinated := tm.in.StoreTip(deskB).Conversation.ID
	form := func(confirm bool, ids ...string) url.Values {
		f := url.Values{"id": ids}
		if confirm {
			f.Set("confirm", "1")
		}
		return f
	}

	t.Run("a journalist who coordinates no desk is refused", func(t *testing.T) {
		b := tm.session(journ.ID)
		r := post(b, "/newsroom/bulk-delete", csrfOf(b), form(true, flood...))
		if r.Status != http.StatusForbidden {
			t.Errorf("status %d, want 403", r.Status)
		}
		for _, id := range flood {
			if !exists(t, st.Tips, journ.ID, id) {
				t.Fatalf("%s was deleted", id)
			}
		}
		if strings.Contains(b.Get("/newsroom/").Body, `action="/newsroom/bulk-delete`) {
			t.Error("the inbox offers bulk deletion to a journalist who coordinates nothing")
		}
	})

	b := tm.session(coord.ID)
	tok := csrfOf(b)
	t.Run("without CSRF", func(t *testing.T) {
		r := b.Post("/newsroom/bulk-delete", form(true, flood...))
		if r.Status != http.StatusForbidden {
			t.Errorf("status %d, want 403", r.Status)
		}
		if !exists(t, st.Tips, coord.ID, flood[0]) {
			t.Fatal("deleted without a CSRF token")
		}
	})
	t.Run("too many", func(t *testing.T) {
		ids := make([]string, pista.MaxBulkDelete+1)
		for i := range ids {
			ids[i] = fmt.Sprintf("x%d", i)
		}
		ids[0] = flood[0]
		r := post(b, "/newsroom/bulk-delete", tok, form(true, ids...))
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Text(), pistatest.En("retention.bulk.toomany")) {
			t.Errorf("status %d, want 400 and the bound said", r.Status)
		}
		if !exists(t, st.Tips, coord.ID, flood[0]) {
			t.Fatal("deleted past the bound")
		}
	})
	t.Run("none", func(t *testing.T) {
		if r := post(b, "/newsroom/bulk-delete", tok, form(true)); r.Status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", r.Status)
		}
	})
	t.Run("the inbox offers checkboxes on every row, deletion to coordinators", func(t *testing.T) {
		body := b.Get("/newsroom/").Body
		// Every row can be selected for a bulk change of status, tags or
		// assignee; deleting them is for the desks coord coordinates.
		if !strings.Contains(body, `name="id" value="`+flood[0]+`"`) || !strings.Contains(body, `name="id" value="`+notCoordinated+`"`) {
			t.Error("a row without a checkbox")
		}
		if !strings.Contains(body, `formaction="/newsroom/bulk-delete`) {
			t.Error("no bulk deletion for a coordinator")
		}
	})
	t.Run("a selection with another desk's conversation is refused whole", func(t *testing.T) {
		ask := append(append([]string{}, flood[:4]...), notCoordinated)
		for _, confirm := range []bool{false, true} {
			r := post(b, "/newsroom/bulk-delete", tok, form(confirm, ask...))
			if r.Status != http.StatusForbidden || !strings.Contains(r.Text(), pistatest.En("notes.bulk.notallowed")) {
				t.Errorf("confirm %v: status %d, want 403 and why", confirm, r.Status)
			}
		}
		for _, id := range ask {
			if !exists(t, st.Tips, coord.ID, id) {
				t.Fatalf("%s was deleted", id)
			}
		}
	})
	t.Run("confirmation, then deletion", func(t *testing.T) {
		ask := append([]string{}, flood[:4]...)
		r := post(b, "/newsroom/bulk-delete", tok, form(false, ask...))
		if r.Status != http.StatusOK || !strings.Contains(r.Text(), pistatest.En("retention.bulk.confirm", "n", 4)) {
			t.Fatalf("confirmation page: %d\n%s", r.Status, r.Body)
		}
		if !exists(t, st.Tips, coord.ID, flood[0]) {
			t.Fatal("the confirmation page deleted")
		}
		confirmTok := r.CSRF(t)
		r = post(b, "/newsroom/bulk-delete", confirmTok, form(true, ask...))
		if r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "n=4") {
			t.Fatalf("deletion: %d %s", r.Status, r.Header.Get("Location"))
		}
		for _, id := range flood[:4] {
			if exists(t, st.Tips, coord.ID, id) {
				t.Errorf("%s is still there", id)
			}
		}
		if !exists(t, st.Tips, coord.ID, flood[4]) || !exists(t, st.Tips, coord.ID, notCoordinated) {
			t.Error("a conversation not asked for, or of a desk coord does not coordinate, was deleted")
		}
		for _, k := range objects[:4] {
			if obj, err := st.Blobs.Open(ctx, k); err == nil {
				obj.Close()
				t.Errorf("object %s is still there", k)
			}
		}
		if obj, err := st.Blobs.Open(ctx, objects[4]); err != nil {
			t.Errorf("the object of the kept conversation: %v", err)
		} else {
			obj.Close()
		}
		audit := auditActions(t, st.Team, deskA.ID)
		for _, id := range flood[:4] {
			if acts := audit[id]; countAction(acts, pista.AuditBulkDelete) != 1 {
				t.Errorf("audit of %s = %v, want one bulk_delete", id, acts)
			}
		}
		if acts := auditActions(t, st.Team, deskB.ID)[notCoordinated]; countAction(acts, pista.AuditBulkDelete) != 0 {
			t.Errorf("audit of the other desk's conversation = %v", acts)
		}
		if body := b.Get(r.Header.Get("Location")).Text(); !strings.Contains(body, pistatest.En("retention.bulk.done", "n", 4)) {
			t.Error("the inbox does not say how many were deleted")
		}
	})
}

// TestHoldAndRetention: a journalist holds and releases (audited), the
// inbox says what is left, a coordinator sets the desk's retention.
func TestHoldAndRetention(t *testing.T) {
	tm := newTeam(t)
	ctx := context.Background()
	st := tm.in.Srv.Stores
	coord, journ := tm.in.Journalist("coord"), tm.in.Journalist("journ")
	desk := tm.desk("desk-a", []*pistatest.Journalist{coord}, journ)
	id := tm.in.StoreTip(desk).Conversation.ID

	jb := tm.session(journ.ID)
	jtok := csrfOf(jb)
	if !strings.Contains(jb.Get("/newsroom/").Text(), pistatest.En("retention.kept")) {
		t.Error("the inbox does not say a conversation of a desk without retention is kept")
	}
	if r := post(jb, "/newsroom/desks/desk-a/retention", jtok, url.Values{"days": {"30"}}); r.Status != http.StatusForbidden {
		t.Errorf("a journalist set the retention: %d", r.Status)
	}
	cb := tm.session(coord.ID)
	ctok := csrfOf(cb)
	for _, bad := range []string{"-1", "36501", "x", ""} {
		if r := post(cb, "/newsroom/desks/desk-a/retention", ctok, url.Values{"days": {bad}}); r.Status != http.StatusBadRequest {
			t.Errorf("days=%q: %d, want 400", bad, r.Status)
		}
	}
	if r := post(cb, "/newsroom/desks/desk-a/retention", ctok, url.Values{"days": {"30"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("set retention: %d", r.Status)
	}
	if d, _ := st.Desks.DeskByID(ctx, desk.ID); d.RetentionDays != 30 {
		t.Errorf("retention = %d, want 30", d.RetentionDays)
	}
	if !strings.Contains(cb.Get("/newsroom/desks/desk-a").Text(), pistatest.En("retention.desk.days", "n", 30)) {
		t.Error("the desk page does not say the retention")
	}
	c, _ := st.Tips.ConversationFor(ctx, journ.ID, id)
	on := pista.ExpiresAt(c.Updated, 30)
	left := pistatest.En("retention.left", "n", pista.DaysLeft(on, pista.Now()), "date", on.UTC().Format("2006-01-02 15:04 UTC"))
	if body := jb.Get("/newsroom/").Text(); !strings.Contains(body, left) {
		t.Errorf("the inbox does not say %q", left)
	}

	if r := post(jb, "/newsroom/c/"+id+"/hold", jtok, url.Values{"hold": {"1"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("hold: %d", r.Status)
	}
	if body := jb.Get("/newsroom/c/" + id).Text(); !strings.Contains(body, pistatest.En("retention.held")) || !strings.Contains(body, pistatest.En("retention.release")) {
		t.Error("the conversation page does not say it is held")
	}
	if r := post(jb, "/newsroom/c/"+id+"/hold", jtok, url.Values{"hold": {"0"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("release: %d", r.Status)
	}
	if c, _ := st.Tips.ConversationFor(ctx, journ.ID, id); c.Held {
		t.Error("still held")
	}
	acts := auditActions(t, st.Team, desk.ID)[id]
	if !containsAction(acts, pista.AuditHold) || !containsAction(acts, pista.AuditRelease) {
		t.Errorf("audit of %s = %v, want hold and release", id, acts)
	}
	es, _ := st.Team.Audit(ctx, pista.AuditQuery{DeskIDs: []int64{desk.ID}})
	found := false
	for _, e := range es {
		found = found || (e.Action == pista.AuditRetention && e.Subject == "30" && e.ActorName == "coord")
	}
	if !found {
		t.Errorf("no audit entry of the retention change: %+v", es)
	}
}

func containsAction(as []pista.AuditAction, a pista.AuditAction) bool { return countAction(as, a) > 0 }

func countAction(as []pista.AuditAction, a pista.AuditAction) int {
	n := 0
	for _, x := range as {
		if x == a {
			n++
		}
	}
	return n
}
