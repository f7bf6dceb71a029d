package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pista-tips/pista"
)

func deletedIDs(ds []pista.DeletedConversation) []string {
	out := ids(ds, func(d pista.DeletedConversation) string { return d.ID })
	slices.Sort(out)
	return out
}

func testRetentionSetting(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	if n.americas.RetentionDays != 0 {
		t.Errorf("a new desk's retention = %d, want 0 (keep)", n.americas.RetentionDays)
	}
	if err := s.Desks.SetRetention(ctx, n.americas.ID, 30); err != nil {
		t.Fatal(err)
	}
	d, err := s.Desks.DeskBySlug(ctx, "americas")
	if err != nil || d.RetentionDays != 30 {
		t.Errorf("DeskBySlug after SetRetention(30) = %+v, %v", d, err)
	}
	if ds, _ := s.Desks.DesksOf(ctx, n.alice.ID); len(ds) != 1 || ds[0].RetentionDays != 30 {
		t.Errorf("DesksOf = %+v", ds)
	}
	if d, _ := s.Desks.DeskByID(ctx, n.maghreb.ID); d.RetentionDays != 0 {
		t.Errorf("the other desk's retention = %d, want 0", d.RetentionDays)
	}
	for _, bad := range []int{-1, pista.MaxRetentionDays + 1} {
		if err := s.Desks.SetRetention(ctx, n.americas.ID, bad); err == nil {
			t.Errorf("SetRetention(%d) succeeded", bad)
		}
	}
	isNotFound(t, "SetRetention(unknown desk)", s.Desks.SetRetention(ctx, 1<<40, 3))
}

func testHold(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas)
	id := tip.Conversation.ID
	if c, err := s.Tips.ConversationFor(ctx, n.alice.ID, id); err != nil || c.Held {
		t.Fatalf("a new conversation: %+v, %v; want not held", c, err)
	}
	if err := s.Tips.SetHold(ctx, n.alice.ID, id, true); err != nil {
		t.Fatal(err)
	}
	for _, j := range []pista.Journalist{n.alice, n.bob} {
		if c, err := s.Tips.ConversationFor(ctx, j.ID, id); err != nil || !c.Held {
			t.Errorf("%s sees held = %v, %v; want true (a hold is the desk's)", j.Name, c.Held, err)
		}
	}
	if err := s.Tips.SetHold(ctx, n.alice.ID, id, true); err != nil {
		t.Errorf("holding twice: %v", err)
	}
	if cs, err := s.Tips.ConversationsFor(ctx, n.bob.ID, pista.Page{}); err != nil || len(cs) != 1 || !cs[0].Held {
		t.Errorf("inbox = %+v, %v; want the conversation held", cs, err)
	}
	isNotFound(t, "SetHold(another desk's)", s.Tips.SetHold(ctx, n.carol.ID, id, false))
	isNotFound(t, "SetHold(unknown)", s.Tips.SetHold(ctx, n.alice.ID, "nope", true))
	if err := s.Tips.SetHold(ctx, n.bob.ID, id, false); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Tips.ConversationFor(ctx, n.alice.ID, id); c.Held {
		t.Error("still held after release")
	}
}

// testDeleteExpired moves a clock the test holds: now is whatever the
// test passes to DeleteExpired.
func testDeleteExpired(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	if err := s.Desks.SetRetention(ctx, n.americas.ID, 30); err != nil {
		t.Fatal(err)
	}
	old := n.tip(t, n.americas, pista.KindMessage, pista.KindFile)
	held := n.tip(t, n.americas)
	forever := n.tip(t, n.maghreb) // retention 0
	if err := s.Tips.SetHold(ctx, n.alice.ID, held.Conversation.ID, true); err != nil {
		t.Fatal(err)
	}
	c, err := s.Tips.ConversationFor(ctx, n.alice.ID, old.Conversation.ID)
	if err != nil {
		t.Fatal(err)
	}
	expires := pista.ExpiresAt(c.Updated, 30)

	// The hour before: nothing.
	if got, err := s.Tips.DeleteExpired(ctx, expires.Add(-pista.TimeGranularity), 0); err != nil || len(got) != 0 {
		t.Fatalf("DeleteExpired(before) = %v, %v; want nothing", deletedIDs(got), err)
	}
	// At the hour: old goes, held stays, maghreb's (no retention) stays.
	got, err := s.Tips.DeleteExpired(ctx, expires, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deletedIDs(got), []string{old.Conversation.ID}) {
		t.Fatalf("DeleteExpired = %v, want %v", deletedIDs(got), old.Conversation.ID)
	}
	if got[0].DeskID != n.americas.ID || got[0].DeskSlug != "americas" || !equalItems(got[0].Items, old.Items) {
		t.Errorf("DeleteExpired = %+v, want americas and the items %+v", got[0], old.Items)
	}
	_, err = s.Tips.ConversationFor(ctx, n.alice.ID, old.Conversation.ID)
	isNotFound(t, "ConversationFor(expired)", err)
	_, err = s.Tips.SourceByLookup(ctx, old.Source.Lookup)
	isNotFound(t, "SourceByLookup(expired's source)", err)
	keys, err := s.Tips.ObjectKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range old.Items {
		if keys[it.Object] || (it.Meta != "" && keys[it.Meta]) {
			t.Errorf("ObjectKeys still lists expired item %d's objects", it.ID)
		}
	}
	later := expires.Add(1000 * pista.RetentionDay)
	if got, err := s.Tips.DeleteExpired(ctx, later, 0); err != nil || len(got) != 0 {
		t.Errorf("DeleteExpired(later, held) = %v, %v; want nothing", deletedIDs(got), err)
	}
	// Released, it goes at the next expiry.
	if err := s.Tips.SetHold(ctx, n.bob.ID, held.Conversation.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Tips.DeleteExpired(ctx, later, 0); err != nil || !slices.Equal(deletedIDs(got), []string{held.Conversation.ID}) {
		t.Errorf("DeleteExpired(released) = %v, %v; want %s", deletedIDs(got), err, held.Conversation.ID)
	}
	if _, err := s.Tips.ConversationFor(ctx, n.carol.ID, forever.Conversation.ID); err != nil {
		t.Errorf("a conversation of a desk without retention: %v", err)
	}
}

// testExpiryFollowsActivity: a new item moves the expiry on; limit bounds
// one call.
func testExpiryFollowsActivity(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	if err := s.Desks.SetRetention(ctx, n.americas.ID, 1); err != nil {
		t.Fatal(err)
	}
	a := n.tip(t, n.americas)
	b := n.tip(t, n.americas)
	ca, _ := s.Tips.ConversationFor(ctx, n.alice.ID, a.Conversation.ID)
	// A reply a week later is activity.
	reply := n.items(pista.KindReply)
	reply[0].Created = ca.Updated.Add(7 * pista.RetentionDay)
	n.add(t, a.Conversation.ID, reply...)
	at := ca.Updated.Add(2 * pista.RetentionDay)
	got, err := s.Tips.DeleteExpired(ctx, at, 0)
	if err != nil || !slices.Equal(deletedIDs(got), []string{b.Conversation.ID}) {
		t.Errorf("DeleteExpired = %v, %v; want only %s (%s had a reply since)", deletedIDs(got), err, b.Conversation.ID, a.Conversation.ID)
	}
	var more []string
	for range 3 {
		more = append(more, n.tip(t, n.americas).Conversation.ID)
	}
	far := at.Add(30 * pista.RetentionDay)
	got, err = s.Tips.DeleteExpired(ctx, far, 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("DeleteExpired(limit 2) = %v, %v", deletedIDs(got), err)
	}
	rest, err := s.Tips.DeleteExpired(ctx, far, 2)
	if err != nil || len(rest) != 2 {
		t.Fatalf("DeleteExpired(limit 2) again = %v, %v", deletedIDs(rest), err)
	}
	all := append(deletedIDs(got), deletedIDs(rest)...)
	slices.Sort(all)
	want := append(more, a.Conversation.ID)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Errorf("deleted %v, want %v", all, want)
	}
}

func testDeleteConversations(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	if err := s.Team.SetRole(ctx, n.americas.ID, n.alice.ID, pista.RoleCoordinator); err != nil {
		t.Fatal(err)
	}
	var americas []string
	for range 3 {
		americas = append(americas, n.tip(t, n.americas, pista.KindMessage, pista.KindFile).Conversation.ID)
	}
	other := n.tip(t, n.maghreb).Conversation.ID

	// bob is a journalist of the desk, not its coordinator: nothing.
	if got, err := s.Tips.DeleteConversations(ctx, n.bob.ID, americas); err != nil || len(got) != 0 {
		t.Errorf("DeleteConversations(bob) = %v, %v; want nothing", deletedIDs(got), err)
	}
	// alice coordinates americas, not maghreb: the other desk's stays,
	// unknown IDs and repeats are ignored.
	ask := []string{americas[0], americas[1], other, "nope", americas[0]}
	got, err := s.Tips.DeleteConversations(ctx, n.alice.ID, ask)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{americas[0], americas[1]}
	slices.Sort(want)
	if !slices.Equal(deletedIDs(got), want) {
		t.Errorf("DeleteConversations = %v, want %v", deletedIDs(got), want)
	}
	for _, d := range got {
		if len(d.Items) != 2 || d.DeskSlug != "americas" {
			t.Errorf("deleted %+v, want americas with 2 items", d)
		}
		_, err := s.Tips.ConversationFor(ctx, n.bob.ID, d.ID)
		isNotFound(t, "ConversationFor(bulk-deleted)", err)
	}
	if _, err := s.Tips.ConversationFor(ctx, n.bob.ID, americas[2]); err != nil {
		t.Errorf("the conversation not asked for: %v", err)
	}
	if _, err := s.Tips.ConversationFor(ctx, n.carol.ID, other); err != nil {
		t.Errorf("the other desk's conversation: %v", err)
	}
	tooMany := make([]string, pista.MaxBulkDelete+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("c%d", i)
	}
	if _, err := s.Tips.DeleteConversations(ctx, n.alice.ID, tooMany); !errors.Is(err, pista.ErrTooMany) {
		t.Errorf("DeleteConversations(%d) = %v, want ErrTooMany", len(tooMany), err)
	}
	if got, err := s.Tips.DeleteConversations(ctx, n.alice.ID, nil); err != nil || len(got) != 0 {
		t.Errorf("DeleteConversations(nothing) = %v, %v", got, err)
	}
}

func testAuditRetention(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	if days, err := s.Team.AuditRetention(ctx); err != nil || days != pista.DefaultAuditRetentionDays {
		t.Errorf("AuditRetention = %d, %v; want the default %d", days, err, pista.DefaultAuditRetentionDays)
	}
	for _, days := range []int{0, 90} {
		if err := s.Team.SetAuditRetention(ctx, days); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Team.AuditRetention(ctx); err != nil || got != days {
			t.Errorf("AuditRetention = %d, %v; want %d", got, err, days)
		}
	}
	if err := s.Team.SetAuditRetention(ctx, -1); err == nil {
		t.Error("SetAuditRetention(-1) succeeded")
	}
	now := pista.Now()
	for i, age := range []time.Duration{400 * pista.RetentionDay, 100 * pista.RetentionDay, 0} {
		e := pista.AuditEntry{Created: now.Add(-age), ActorID: n.alice.ID, ActorName: "alice", Action: pista.AuditRead, ConversationID: fmt.Sprint("c", i)}
		if err := s.Team.AddAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := s.Team.DeleteAuditBefore(ctx, now.Add(-90*pista.RetentionDay))
	if err != nil || deleted != 2 {
		t.Errorf("DeleteAuditBefore = %d, %v; want 2", deleted, err)
	}
	left, err := s.Team.Audit(ctx, pista.AuditQuery{})
	if err != nil || len(left) != 1 || left[0].ConversationID != "c2" {
		t.Errorf("Audit after = %+v, %v; want the newest entry only", left, err)
	}
}
