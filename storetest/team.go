package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pista-tips/pista"
)

func testJournalistAuth(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	a := pista.JournalistAuth{Salt: []byte("salt-16-bytes..."), KDF: "argon2id$v=19$m=65536,t=3,p=1",
		Hash: bytes.Repeat([]byte{7}, 32), WrappedIdentity: []byte("sealed identity")}
	if err := s.Journalists.SetAuth(ctx, n.alice.ID, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.Journalists.JournalistByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Auth.Salt, a.Salt) || got.Auth.KDF != a.KDF || !bytes.Equal(got.Auth.Hash, a.Hash) ||
		!bytes.Equal(got.Auth.WrappedIdentity, a.WrappedIdentity) {
		t.Errorf("Auth after SetAuth = %+v, want %+v", got.Auth, a)
	}
	isNotFound(t, "SetAuth(unknown)", s.Journalists.SetAuth(ctx, 99999, a))

	if err := s.Journalists.SetTOTP(ctx, n.alice.ID, "NEWSECRET"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Journalists.JournalistByID(ctx, n.alice.ID); err != nil || got.TOTPSecret != "NEWSECRET" {
		t.Errorf("TOTP secret after SetTOTP = %q, %v", got.TOTPSecret, err)
	}

	// The last login is kept to the hour, no finer.
	at := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	if err := s.Journalists.RecordLogin(ctx, n.alice.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.Journalists.RecordLogin(ctx, n.alice.ID, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Journalists.JournalistByID(ctx, n.alice.ID); err != nil || !got.LastLogin.Equal(at.Truncate(time.Hour)) {
		t.Errorf("LastLogin = %v, %v; want %v", got.LastLogin, err, at.Truncate(time.Hour))
	}
	isNotFound(t, "RecordLogin(unknown)", s.Journalists.RecordLogin(ctx, 99999, at))

	// Suspending moves the session epoch on; restoring does not move it
	// back, so the sessions of before the suspension stay ended.
	before, err := s.Journalists.JournalistByID(ctx, n.bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Journalists.SetSuspended(ctx, n.bob.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Journalists.SetSuspended(ctx, n.bob.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Journalists.JournalistByID(ctx, n.bob.ID); err != nil || got.Suspended || got.SessionEpoch == before.SessionEpoch {
		t.Errorf("after suspend and restore: suspended %v, epoch %d → %d, %v", got.Suspended, before.SessionEpoch, got.SessionEpoch, err)
	}
	if err := s.Journalists.SetSuspended(ctx, n.bob.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Journalists.SetAdmin(ctx, n.carol.ID, true); err != nil {
		t.Fatal(err)
	}
	js, err := s.Journalists.Journalists(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(js, func(j pista.Journalist) string { return j.Name }); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
		t.Fatalf("Journalists = %v", got)
	}
	if js[0].Suspended || js[0].Admin || !js[1].Suspended || js[1].Admin || !js[2].Admin || js[2].Suspended {
		t.Errorf("flags: alice %v/%v bob %v/%v carol %v/%v (suspended/admin)",
			js[0].Suspended, js[0].Admin, js[1].Suspended, js[1].Admin, js[2].Suspended, js[2].Admin)
	}
	isNotFound(t, "SetSuspended(unknown)", s.Journalists.SetSuspended(ctx, 99999, true))
}

func testInvitations(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	now := time.Now()
	inv := pista.Invitation{TokenHash: []byte("hash-1"), DeskID: n.americas.ID, Role: pista.RoleJournalist,
		CreatedBy: n.alice.ID, Expires: now.Add(time.Hour)}
	if err := s.Team.CreateInvitation(ctx, &inv); err != nil {
		t.Fatal(err)
	}
	expired := pista.Invitation{TokenHash: []byte("hash-old"), DeskID: n.americas.ID, Role: pista.RoleJournalist,
		Expires: now.Add(-time.Minute)}
	if err := s.Team.CreateInvitation(ctx, &expired); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Team.Invitation(ctx, []byte("hash-1"), now); err != nil || got.ID != inv.ID || got.DeskID != n.americas.ID || got.CreatedBy != n.alice.ID {
		t.Errorf("Invitation = %+v, %v", got, err)
	}
	_, err := s.Team.Invitation(ctx, []byte("hash-old"), now)
	isNotFound(t, "expired Invitation", err)
	if invs, err := s.Team.Invitations(ctx, n.americas.ID, now); err != nil || len(invs) != 1 || invs[0].ID != inv.ID {
		t.Errorf("Invitations = %+v, %v; want only the unexpired one", invs, err)
	}

	// A taken name does not spend the invitation.
	dup := pista.Journalist{Name: "bob", Recipient: "age1pq1x", TOTPSecret: "S"}
	if err := s.Team.AcceptInvitation(ctx, []byte("hash-1"), now, &dup); !errors.Is(err, pista.ErrExists) {
		t.Fatalf("AcceptInvitation(taken name) = %v, want ErrExists", err)
	}
	dave := pista.Journalist{Name: "dave", Recipient: "age1pq1dave", TOTPSecret: "S",
		Auth: pista.JournalistAuth{Salt: []byte("s"), KDF: "k", Hash: []byte("h"), WrappedIdentity: []byte("w")}}
	if err := s.Team.AcceptInvitation(ctx, []byte("hash-1"), now, &dave); err != nil {
		t.Fatal(err)
	}
	again := pista.Journalist{Name: "eve", Recipient: "age1pq1eve", TOTPSecret: "S"}
	isNotFound(t, "AcceptInvitation twice", s.Team.AcceptInvitation(ctx, []byte("hash-1"), now, &again))
	isNotFound(t, "AcceptInvitation(expired)", s.Team.AcceptInvitation(ctx, []byte("hash-old"), now, &again))
	if _, err := s.Journalists.JournalistByName(ctx, "eve"); !errors.Is(err, pista.ErrNotFound) {
		t.Errorf("a refused invitation made an account: %v", err)
	}

	// Pending: listed as such, but not a member for any purpose.
	ms, err := s.Team.Members(ctx, n.americas.ID)
	if err != nil {
		t.Fatal(err)
	}
	var pending []string
	for _, m := range ms {
		if m.Pending {
			pending = append(pending, m.Name)
		}
	}
	if len(ms) != 3 || !slices.Equal(pending, []string{"dave"}) {
		t.Errorf("Members = %+v; want alice, bob and dave pending", ms)
	}
	_, err = s.Team.Membership(ctx, n.americas.ID, dave.ID)
	isNotFound(t, "Membership(pending)", err)
	tip := n.tip(t, n.americas)
	_, err = s.Tips.ConversationFor(ctx, dave.ID, tip.Conversation.ID)
	isNotFound(t, "ConversationFor(pending member)", err)

	// Approval needs the current key among the wraps.
	keys, err := s.Team.DeskKeys(ctx, n.americas.ID)
	if err != nil || len(keys) != 1 || keys[0].ID != n.americas.KeyID {
		t.Fatalf("DeskKeys = %+v, %v", keys, err)
	}
	if err := s.Team.ApproveMember(ctx, n.americas.ID, dave.ID, nil); err == nil {
		t.Fatal("ApproveMember without wraps succeeded")
	}
	other := []pista.KeyWrap{{DeskKeyID: n.maghreb.KeyID, Wrapped: []byte("x")}}
	if err := s.Team.ApproveMember(ctx, n.americas.ID, dave.ID, other); err == nil {
		t.Fatal("ApproveMember with another desk's key succeeded")
	}
	if _, err := s.Team.Membership(ctx, n.americas.ID, dave.ID); !errors.Is(err, pista.ErrNotFound) {
		t.Fatal("a failed approval made a member")
	}
	wraps := []pista.KeyWrap{{DeskKeyID: n.americas.KeyID, Wrapped: []byte("americas for dave")}}
	if err := s.Team.ApproveMember(ctx, n.americas.ID, dave.ID, wraps); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Team.Membership(ctx, n.americas.ID, dave.ID); err != nil || m.Role != pista.RoleJournalist {
		t.Errorf("Membership after approval = %+v, %v", m, err)
	}
	if _, err := s.Tips.ConversationFor(ctx, dave.ID, tip.Conversation.ID); err != nil {
		t.Errorf("an approved member cannot see the desk's tip: %v", err)
	}
	got, err := s.Desks.WrapsFor(ctx, dave.ID)
	if err != nil || len(got) != 1 || string(got[0].Wrapped) != "americas for dave" {
		t.Errorf("WrapsFor(dave) = %+v, %v", got, err)
	}
	isNotFound(t, "ApproveMember twice", s.Team.ApproveMember(ctx, n.americas.ID, dave.ID, wraps))

	// An admin invitation makes an admin on no desk; rejecting forgets.
	adm := pista.Invitation{TokenHash: []byte("hash-admin"), Admin: true, Role: pista.RoleJournalist, Expires: now.Add(time.Hour)}
	if err := s.Team.CreateInvitation(ctx, &adm); err != nil {
		t.Fatal(err)
	}
	root := pista.Journalist{Name: "root", Recipient: "age1pq1root", TOTPSecret: "S"}
	if err := s.Team.AcceptInvitation(ctx, []byte("hash-admin"), now, &root); err != nil {
		t.Fatal(err)
	}
	if j, err := s.Journalists.JournalistByName(ctx, "root"); err != nil || !j.Admin {
		t.Errorf("admin invitation made %+v, %v", j, err)
	}
	if ds, err := s.Desks.DesksOf(ctx, root.ID); err != nil || len(ds) != 0 {
		t.Errorf("an admin is on desks %+v, %v", ds, err)
	}
	inv2 := pista.Invitation{TokenHash: []byte("hash-2"), DeskID: n.maghreb.ID, Role: pista.RoleCoordinator, Expires: now.Add(time.Hour)}
	if err := s.Team.CreateInvitation(ctx, &inv2); err != nil {
		t.Fatal(err)
	}
	if err := s.Team.DeleteInvitation(ctx, inv2.ID); err != nil {
		t.Fatal(err)
	}
	frank := pista.Journalist{Name: "frank", Recipient: "age1pq1frank", TOTPSecret: "S"}
	isNotFound(t, "AcceptInvitation(withdrawn)", s.Team.AcceptInvitation(ctx, []byte("hash-2"), now, &frank))
	inv3 := pista.Invitation{TokenHash: []byte("hash-3"), DeskID: n.maghreb.ID, Role: pista.RoleCoordinator, Expires: now.Add(time.Hour)}
	if err := s.Team.CreateInvitation(ctx, &inv3); err != nil {
		t.Fatal(err)
	}
	if err := s.Team.AcceptInvitation(ctx, []byte("hash-3"), now, &frank); err != nil {
		t.Fatal(err)
	}
	if err := s.Team.RejectMember(ctx, n.maghreb.ID, frank.ID); err != nil {
		t.Fatal(err)
	}
	isNotFound(t, "RejectMember twice", s.Team.RejectMember(ctx, n.maghreb.ID, frank.ID))
	if ms, _ := s.Team.Members(ctx, n.maghreb.ID); len(ms) != 1 {
		t.Errorf("maghreb members after rejection = %+v", ms)
	}
}

func testRotateDeskKey(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	dave := n.journalist(t, "dave")
	if err := s.Team.AddMember(ctx, n.americas.ID, dave.ID, pista.RoleJournalist,
		[]pista.KeyWrap{{DeskKeyID: n.americas.KeyID, Wrapped: []byte("old for dave")}}); err != nil {
		t.Fatal(err)
	}
	old := n.tip(t, n.americas)
	if err := s.Tips.SetAssignee(ctx, n.alice.ID, old.Conversation.ID, dave.ID); err != nil {
		t.Fatal(err)
	}

	// Wraps must match the remaining members exactly.
	key := pista.DeskKey{Recipient: "age1pq1new"}
	short := []pista.KeyWrap{{JournalistID: n.alice.ID, Wrapped: []byte("new for alice")}}
	if err := s.Team.RotateDeskKey(ctx, n.americas.ID, dave.ID, &key, short); !errors.Is(err, pista.ErrMembersChanged) {
		t.Fatalf("RotateDeskKey(missing bob) = %v, want ErrMembersChanged", err)
	}
	withDave := append(short, pista.KeyWrap{JournalistID: n.bob.ID, Wrapped: []byte("b")}, pista.KeyWrap{JournalistID: dave.ID, Wrapped: []byte("d")})
	if err := s.Team.RotateDeskKey(ctx, n.americas.ID, dave.ID, &key, withDave); !errors.Is(err, pista.ErrMembersChanged) {
		t.Fatalf("RotateDeskKey(wrapping to the removed member) = %v, want ErrMembersChanged", err)
	}
	if _, err := s.Team.Membership(ctx, n.americas.ID, dave.ID); err != nil {
		t.Fatal("a refused rotation removed the member")
	}
	wraps := []pista.KeyWrap{{JournalistID: n.alice.ID, Wrapped: []byte("new for alice")}, {JournalistID: n.bob.ID, Wrapped: []byte("new for bob")}}
	if err := s.Team.RotateDeskKey(ctx, n.americas.ID, dave.ID, &key, wraps); err != nil {
		t.Fatal(err)
	}
	d, err := s.Desks.DeskByID(ctx, n.americas.ID)
	if err != nil || d.Recipient != "age1pq1new" || d.KeyID != key.ID || key.ID == n.americas.KeyID {
		t.Errorf("desk after rotation = %+v, %v; key %+v", d, err, key)
	}
	keys, err := s.Team.DeskKeys(ctx, n.americas.ID)
	if err != nil || len(keys) != 2 || keys[1].Recipient != "age1pq1new" {
		t.Errorf("DeskKeys = %+v, %v", keys, err)
	}
	_, err = s.Tips.ConversationFor(ctx, dave.ID, old.Conversation.ID)
	isNotFound(t, "removed member's ConversationFor", err)
	if ws, err := s.Desks.WrapsFor(ctx, dave.ID); err != nil || len(ws) != 0 {
		t.Errorf("removed member still gets wraps %+v, %v", ws, err)
	}
	if ws, err := s.Desks.WrapsFor(ctx, n.alice.ID); err != nil || len(ws) != 2 {
		t.Errorf("alice's wraps = %+v, %v; want the old and the new generation", ws, err)
	}
	if c, err := s.Tips.ConversationFor(ctx, n.alice.ID, old.Conversation.ID); err != nil || c.Assignee != 0 {
		t.Errorf("conversation assigned to the removed member: %+v, %v", c, err)
	}
	// Rotating without removing anyone.
	key2 := pista.DeskKey{Recipient: "age1pq1newer"}
	if err := s.Team.RotateDeskKey(ctx, n.americas.ID, 0, &key2, wraps); err != nil {
		t.Fatal(err)
	}
	isNotFound(t, "RotateDeskKey(remove a non-member)", s.Team.RotateDeskKey(ctx, n.americas.ID, dave.ID, &pista.DeskKey{Recipient: "x"}, wraps))
}

func testRoles(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	if m, err := s.Team.Membership(ctx, n.americas.ID, n.alice.ID); err != nil || m.Role != pista.RoleJournalist || m.Name != "alice" {
		t.Fatalf("Membership = %+v, %v", m, err)
	}
	if err := s.Team.SetRole(ctx, n.americas.ID, n.alice.ID, pista.RoleCoordinator); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Team.Membership(ctx, n.americas.ID, n.alice.ID); m.Role != pista.RoleCoordinator {
		t.Errorf("role = %q, want coordinator", m.Role)
	}
	if err := s.Team.SetRole(ctx, n.americas.ID, n.alice.ID, "boss"); err == nil {
		t.Error("SetRole accepted an unknown role")
	}
	isNotFound(t, "SetRole(not a member)", s.Team.SetRole(ctx, n.maghreb.ID, n.alice.ID, pista.RoleCoordinator))

	// CreateDesk makes its members with the wraps' roles.
	europe := pista.Desk{Slug: "europe", Title: "Europe", Recipient: "age1pq1deskeurope"}
	if err := s.Desks.CreateDesk(ctx, &europe, []pista.KeyWrap{
		{JournalistID: n.bob.ID, Wrapped: []byte("w"), Role: pista.RoleCoordinator},
		{JournalistID: n.carol.ID, Wrapped: []byte("w")},
	}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Team.Membership(ctx, europe.ID, n.bob.ID); err != nil || m.Role != pista.RoleCoordinator {
		t.Errorf("bob on europe = %+v, %v; want coordinator", m, err)
	}
	if m, err := s.Team.Membership(ctx, europe.ID, n.carol.ID); err != nil || m.Role != pista.RoleJournalist {
		t.Errorf("carol on europe = %+v, %v; want journalist", m, err)
	}
	bad := pista.Desk{Slug: "asia", Title: "Asia", Recipient: "age1pq1deskasia"}
	if err := s.Desks.CreateDesk(ctx, &bad, []pista.KeyWrap{{JournalistID: n.bob.ID, Wrapped: []byte("w"), Role: "owner"}}); err == nil {
		t.Error("CreateDesk accepted an unknown role")
	}
	if _, err := s.Desks.DeskBySlug(ctx, "asia"); !errors.Is(err, pista.ErrNotFound) {
		t.Errorf("a refused CreateDesk left a desk: %v", err)
	}
	_, err := s.Team.Membership(ctx, n.maghreb.ID, n.alice.ID)
	isNotFound(t, "Membership(other desk)", err)
}

func testCredentials(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	c := pista.WebAuthnCredential{ID: []byte{1, 2, 3}, JournalistID: n.alice.ID, Name: "blue key", Data: []byte(`{"n":1}`)}
	if err := s.Team.AddCredential(ctx, &c); err != nil {
		t.Fatal(err)
	}
	dup := c
	if err := s.Team.AddCredential(ctx, &dup); !errors.Is(err, pista.ErrExists) {
		t.Errorf("AddCredential(same ID) = %v, want ErrExists", err)
	}
	c.Data = []byte(`{"n":2}`)
	if err := s.Team.UpdateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	bobs := c
	bobs.JournalistID = n.bob.ID
	isNotFound(t, "UpdateCredential(someone else's)", s.Team.UpdateCredential(ctx, bobs))
	cs, err := s.Team.Credentials(ctx, n.alice.ID)
	if err != nil || len(cs) != 1 || string(cs[0].Data) != `{"n":2}` || cs[0].Name != "blue key" {
		t.Errorf("Credentials = %+v, %v", cs, err)
	}
	isNotFound(t, "DeleteCredential(someone else's)", s.Team.DeleteCredential(ctx, n.bob.ID, c.ID))
	if err := s.Team.DeleteCredential(ctx, n.alice.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.Team.Credentials(ctx, n.alice.ID); len(cs) != 0 {
		t.Errorf("Credentials after delete = %+v", cs)
	}
}

func testAudit(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	add := func(e pista.AuditEntry) {
		t.Helper()
		if err := s.Team.AddAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	add(pista.AuditEntry{ActorID: n.alice.ID, ActorName: "alice", Action: pista.AuditLogin})
	add(pista.AuditEntry{ActorID: n.alice.ID, ActorName: "alice", Action: pista.AuditRead, DeskID: n.americas.ID, ConversationID: "c1"})
	add(pista.AuditEntry{ActorID: n.carol.ID, ActorName: "carol", Action: pista.AuditApprove, DeskID: n.maghreb.ID, Subject: "dave"})
	all, err := s.Team.Audit(ctx, pista.AuditQuery{})
	if err != nil || len(all) != 3 || all[0].Action != pista.AuditApprove || all[0].DeskSlug != "maghreb" || all[0].Subject != "dave" {
		t.Fatalf("Audit(all) = %+v, %v", all, err)
	}
	desk, err := s.Team.Audit(ctx, pista.AuditQuery{DeskIDs: []int64{n.americas.ID}})
	if err != nil || len(desk) != 1 || desk[0].ConversationID != "c1" || desk[0].ActorName != "alice" {
		t.Errorf("Audit(americas) = %+v, %v", desk, err)
	}
	if none, err := s.Team.Audit(ctx, pista.AuditQuery{DeskIDs: []int64{}}); err != nil || len(none) != 0 {
		t.Errorf("Audit(no desks) = %+v, %v; want nothing", none, err)
	}
	page, err := s.Team.Audit(ctx, pista.AuditQuery{Before: all[0].ID, Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != all[1].ID {
		t.Errorf("Audit(before, limit 1) = %+v, %v; want %+v", page, err, all[1])
	}
	if err := s.Team.AddAudit(ctx, pista.AuditEntry{Action: pista.AuditLogin}); err == nil {
		t.Error("AddAudit without an actor succeeded")
	}
	// Several at once: all, or none if one is malformed.
	if err := s.Team.AddAudit(ctx,
		pista.AuditEntry{ActorID: n.bob.ID, ActorName: "bob", Action: pista.AuditSort, DeskID: n.americas.ID, ConversationID: "c2", Subject: "3"},
		pista.AuditEntry{ActorName: "bob"}); err == nil {
		t.Error("AddAudit took a batch with an entry without an action")
	}
	if err := s.Team.AddAudit(ctx,
		pista.AuditEntry{ActorID: n.bob.ID, ActorName: "bob", Action: pista.AuditSort, DeskID: n.americas.ID, ConversationID: "c2", Subject: "3"},
		pista.AuditEntry{ActorID: n.bob.ID, ActorName: "bob", Action: pista.AuditSort, DeskID: n.americas.ID, ConversationID: "c3", Subject: "0"}); err != nil {
		t.Fatal(err)
	}
	now, err := s.Team.Audit(ctx, pista.AuditQuery{})
	if err != nil || len(now) != 5 || now[0].ConversationID != "c3" || now[1].ConversationID != "c2" || now[1].Subject != "3" || now[2].ID != all[0].ID {
		t.Errorf("Audit after a batch of two = %+v, %v; want the two, newest first, then the three before", now, err)
	}
}

func testStatusAssigneeTags(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas)
	id := tip.Conversation.ID
	c, err := s.Tips.ConversationFor(ctx, n.alice.ID, id)
	if err != nil || c.Status != pista.StatusNew || c.Assignee != 0 || len(c.Tags) != 0 {
		t.Fatalf("a new conversation = %+v, %v; want status new, nobody, no tags", c, err)
	}
	if err := s.Tips.SetStatus(ctx, n.alice.ID, id, pista.StatusInProgress); err != nil {
		t.Fatal(err)
	}
	if err := s.Tips.SetStatus(ctx, n.alice.ID, id, "lost"); err == nil {
		t.Error("SetStatus accepted an unknown status")
	}
	if err := s.Tips.SetAssignee(ctx, n.alice.ID, id, n.bob.ID); err != nil {
		t.Fatal(err)
	}
	isNotFound(t, "SetAssignee(not a member of the desk)", s.Tips.SetAssignee(ctx, n.alice.ID, id, n.carol.ID))
	if err := s.Tips.SetTags(ctx, n.alice.ID, id, []string{"mayor", "budget-2026"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Tips.SetTags(ctx, n.alice.ID, id, []string{"Bad Tag"}); err == nil {
		t.Error("SetTags accepted a tag with a space and capitals")
	}
	many := make([]string, pista.MaxTags+1)
	for i := range many {
		many[i] = string(rune('a' + i))
	}
	if err := s.Tips.SetTags(ctx, n.alice.ID, id, many); err == nil {
		t.Error("SetTags accepted too many tags")
	}
	c, err = s.Tips.ConversationFor(ctx, n.bob.ID, id)
	if err != nil || c.Status != pista.StatusInProgress || c.Assignee != n.bob.ID || c.AssigneeName != "bob" ||
		!slices.Equal(c.Tags, []string{"budget-2026", "mayor"}) {
		t.Errorf("conversation = %+v, %v", c, err)
	}
	// Another desk's journalist can change nothing.
	isNotFound(t, "SetStatus(other desk)", s.Tips.SetStatus(ctx, n.carol.ID, id, pista.StatusClosed))
	isNotFound(t, "SetAssignee(other desk)", s.Tips.SetAssignee(ctx, n.carol.ID, id, 0))
	isNotFound(t, "SetTags(other desk)", s.Tips.SetTags(ctx, n.carol.ID, id, nil))
	if err := s.Tips.SetAssignee(ctx, n.alice.ID, id, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Tips.SetTags(ctx, n.alice.ID, id, nil); err != nil {
		t.Fatal(err)
	}
	c, _ = s.Tips.ConversationFor(ctx, n.alice.ID, id)
	if c.Assignee != 0 || c.AssigneeName != "" || len(c.Tags) != 0 || c.Status != pista.StatusInProgress {
		t.Errorf("after clearing = %+v", c)
	}
}

func testInboxFilters(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	var convs []string
	for range 6 {
		convs = append(convs, n.tip(t, n.americas).Conversation.ID)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Tips.SetStatus(ctx, n.alice.ID, convs[0], pista.StatusClosed))
	must(s.Tips.SetStatus(ctx, n.alice.ID, convs[3], pista.StatusClosed))
	must(s.Tips.SetAssignee(ctx, n.alice.ID, convs[1], n.bob.ID))
	must(s.Tips.SetTags(ctx, n.alice.ID, convs[2], []string{"mayor"}))
	must(s.Tips.SetTags(ctx, n.alice.ID, convs[4], []string{"mayor", "port"}))
	must(s.Tips.SetStar(ctx, n.alice.ID, convs[5], true))
	must(s.Tips.MarkRead(ctx, n.alice.ID, convs[5]))
	must(s.Tips.MarkRead(ctx, n.alice.ID, convs[4]))

	page := func(p pista.Page) []string {
		t.Helper()
		cs, err := s.Tips.ConversationsFor(ctx, n.alice.ID, p)
		if err != nil {
			t.Fatal(err)
		}
		return ids(cs, func(c pista.Conversation) string { return c.ID })
	}
	rev := func(xs ...string) []string { slices.Reverse(xs); return xs }
	for _, tc := range []struct {
		name string
		p    pista.Page
		want []string
	}{
		{"closed", pista.Page{Status: pista.StatusClosed}, rev(convs[0], convs[3])},
		{"new", pista.Page{Status: pista.StatusNew}, rev(convs[1], convs[2], convs[4], convs[5])},
		{"assigned to bob", pista.Page{Assignee: n.bob.ID}, []string{convs[1]}},
		{"tag mayor", pista.Page{Tag: "mayor"}, rev(convs[2], convs[4])},
		{"starred", pista.Page{Starred: true}, []string{convs[5]}},
		{"unread", pista.Page{Unread: true}, rev(convs[0], convs[1], convs[2], convs[3])},
		{"unread and new", pista.Page{Unread: true, Status: pista.StatusNew}, rev(convs[1], convs[2])},
		{"tag, keyset page", pista.Page{Tag: "mayor", Limit: 1}, []string{convs[4]}},
	} {
		if got := page(tc.p); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// The next page of a filtered list continues after the last one shown.
	first, err := s.Tips.ConversationsFor(ctx, n.alice.ID, pista.Page{Tag: "mayor", Limit: 1})
	if err != nil || len(first) != 1 {
		t.Fatal(first, err)
	}
	if got := page(pista.Page{Tag: "mayor", Limit: 1, Before: first[0].LastItem}); !slices.Equal(got, []string{convs[2]}) {
		t.Errorf("second filtered page = %v, want %v", got, convs[2])
	}
	// A new item moves a tagged conversation to the top of its tag's list
	// too, and deleting it (a reply) moves it back.
	reply := n.add(t, convs[2], pista.Item{Kind: pista.KindReply, Object: "tagged-reply", Size: 1, AuthorID: n.bob.ID})
	if got := page(pista.Page{Tag: "mayor"}); !slices.Equal(got, []string{convs[2], convs[4]}) {
		t.Errorf("tag mayor after an item on %s: %v", convs[2], got)
	}
	if got := page(pista.Page{Tag: "mayor", Limit: 1}); !slices.Equal(got, []string{convs[2]}) {
		t.Errorf("tag mayor, first page of one, after an item on %s: %v", convs[2], got)
	}
	if _, err := s.Tips.DeleteReply(ctx, convs[2], reply[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := page(pista.Page{Tag: "mayor"}); !slices.Equal(got, rev(convs[2], convs[4])) {
		t.Errorf("tag mayor after the reply is deleted: %v", got)
	}
	// Stars follow their conversations the same way, and a star of
	// another desk's journalist or a paged walk does not mix them up.
	must(s.Tips.SetStar(ctx, n.alice.ID, convs[0], true))
	if got := page(pista.Page{Starred: true}); !slices.Equal(got, []string{convs[5], convs[0]}) {
		t.Errorf("starred, two: %v", got)
	}
	reply = n.add(t, convs[0], pista.Item{Kind: pista.KindReply, Object: "starred-reply", Size: 1, AuthorID: n.bob.ID})
	if got := page(pista.Page{Starred: true, Limit: 1}); !slices.Equal(got, []string{convs[0]}) {
		t.Errorf("starred, first page of one, after an item on %s: %v", convs[0], got)
	}
	if _, err := s.Tips.DeleteReply(ctx, convs[0], reply[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := page(pista.Page{Starred: true}); !slices.Equal(got, []string{convs[5], convs[0]}) {
		t.Errorf("starred after the reply is deleted: %v", got)
	}
	if got := page(pista.Page{Starred: true, Status: pista.StatusClosed}); !slices.Equal(got, []string{convs[0]}) {
		t.Errorf("starred and closed: %v", got)
	}
	must(s.Tips.SetStar(ctx, n.alice.ID, convs[0], false))
	// Bob's stars and reads are his own.
	if cs, _ := s.Tips.ConversationsFor(ctx, n.bob.ID, pista.Page{Starred: true}); len(cs) != 0 {
		t.Errorf("bob sees alice's star: %v", cs)
	}
	// Carol's filters see none of americas.
	if cs, _ := s.Tips.ConversationsFor(ctx, n.carol.ID, pista.Page{Tag: "mayor"}); len(cs) != 0 {
		t.Errorf("carol sees americas' tagged conversations: %v", cs)
	}
}

// The unread filter follows every change that makes a conversation read
// or unread for a journalist: reads, new items and deleted replies, a
// new member, a deleted conversation; each journalist's own.
func testUnreadFollows(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	unread := func(j pista.Journalist, p pista.Page) []string {
		t.Helper()
		p.Unread = true
		cs, err := s.Tips.ConversationsFor(ctx, j.ID, p)
		if err != nil {
			t.Fatal(err)
		}
		return ids(cs, func(c pista.Conversation) string { return c.ID })
	}
	var convs []string
	for range 4 {
		convs = append(convs, n.tip(t, n.americas).Conversation.ID)
	}
	rev := func(xs ...string) []string { xs = slices.Clone(xs); slices.Reverse(xs); return xs }
	if got := unread(n.alice, pista.Page{}); !slices.Equal(got, rev(convs...)) {
		t.Fatalf("new tips: unread %v, want all", got)
	}
	for _, c := range convs[1:] {
		if err := s.Tips.MarkRead(ctx, n.alice.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	if got := unread(n.alice, pista.Page{}); !slices.Equal(got, []string{convs[0]}) {
		t.Errorf("after reading three: %v, want %v", got, convs[:1])
	}
	if got := unread(n.bob, pista.Page{}); len(got) != 4 {
		t.Errorf("alice's reads changed bob's unread: %v", got)
	}
	// A new item makes a read conversation unread, at the top; deleting
	// it (a reply) makes it read again.
	reply := n.add(t, convs[2], pista.Item{Kind: pista.KindReply, Object: "unread-reply", Size: 1, AuthorID: n.bob.ID})
	if got := unread(n.alice, pista.Page{}); !slices.Equal(got, []string{convs[2], convs[0]}) {
		t.Errorf("after an item on a read conversation: %v", got)
	}
	if got := unread(n.alice, pista.Page{Limit: 1}); !slices.Equal(got, []string{convs[2]}) {
		t.Errorf("first page of one: %v", got)
	}
	if _, err := s.Tips.DeleteReply(ctx, convs[2], reply[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := unread(n.alice, pista.Page{}); !slices.Equal(got, []string{convs[0]}) {
		t.Errorf("after the reply is deleted: %v", got)
	}
	if err := s.Tips.MarkUnread(ctx, n.alice.ID, convs[3]); err != nil {
		t.Fatal(err)
	}
	if got := unread(n.alice, pista.Page{}); !slices.Equal(got, []string{convs[3], convs[0]}) {
		t.Errorf("after marking one unread: %v", got)
	}
	if err := s.Tips.MarkRead(ctx, n.alice.ID, convs[3]); err != nil {
		t.Fatal(err)
	}
	// Unread with another filter.
	if err := s.Tips.SetStatus(ctx, n.alice.ID, convs[0], pista.StatusClosed); err != nil {
		t.Fatal(err)
	}
	if got := unread(n.alice, pista.Page{Status: pista.StatusNew}); len(got) != 0 {
		t.Errorf("unread and new: %v, want none", got)
	}
	// A new member has everything of the desk unread.
	if err := s.Team.AddMember(ctx, n.americas.ID, n.carol.ID, pista.RoleJournalist, []pista.KeyWrap{{DeskKeyID: n.americas.KeyID, Wrapped: []byte("w")}}); err != nil {
		t.Fatal(err)
	}
	if got := unread(n.carol, pista.Page{DeskID: n.americas.ID}); !slices.Equal(got, rev(convs...)) {
		t.Errorf("a new member's unread: %v, want all four", got)
	}
	// A deleted conversation is nobody's unread any more.
	if _, err := s.Tips.DeleteConversation(ctx, n.alice.ID, convs[0]); err != nil {
		t.Fatal(err)
	}
	if got := unread(n.alice, pista.Page{}); len(got) != 0 {
		t.Errorf("after deleting the last unread: %v", got)
	}
	if got := unread(n.carol, pista.Page{DeskID: n.americas.ID}); slices.Contains(got, convs[0]) {
		t.Errorf("carol still has the deleted conversation unread: %v", got)
	}
}
