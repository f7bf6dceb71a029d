// Package storetest is the contract test suite of pista's stores. Every
// storage backend runs it against a fresh database of its own:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Stores { … })
//	}
//
// The suite checks the behaviour the doc comments of package pista promise,
// above all the permission rule: a journalist sees the conversations of
// their desks and nothing else, and anything else is pista.ErrNotFound.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pista-tips/pista"
)

// Stores are the stores of one backend, over one fresh database.
type Stores struct {
	Desks       pista.DeskStore
	Journalists pista.JournalistStore
	Tips        pista.TipStore
	Settings    pista.Settings
	Team        pista.TeamStore
}

// Run runs the contract suite. open is called once per subtest and must
// return stores over an empty database, cleaned up with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Stores) {
	tests := []struct {
		name string
		run  func(t *testing.T, s Stores)
	}{
		{"Journalists", testJournalists},
		{"Desks", testDesks},
		{"DuplicateDesk", testDuplicateDesk},
		{"DeskAliases", testDeskAliases},
		{"Notify", testNotify},
		{"Settings", testSettings},
		{"DeleteSecrets", testDeleteSecrets},
		{"CreateTip", testCreateTip},
		{"CreateTipFailureLeavesNothing", testCreateTipFailure},
		{"Channels", testChannels},
		{"AddItems", testAddItems},
		{"OtherDeskIsNotFound", testOtherDesk},
		{"InboxOrderAndPages", testInboxPages},
		{"InboxLimitAndDeskFilter", testInboxLimit},
		{"ReadPerJournalist", testReadPerJournalist},
		{"StarPerJournalist", testStars},
		{"ItemsForIncremental", testItemsFor},
		{"PullSkipsNothing", testPullSkipsNothing},
		{"NewSourceItems", testNewSourceItems},
		{"DeleteReply", testDeleteReply},
		{"DeleteConversation", testDeleteConversation},
		{"SourceSessions", testSourceSessions},
		{"ObjectKeys", testObjectKeys},
		{"ObjectsInUse", testObjectsInUse},
		{"DoomedObjects", testDoomedObjects},
		{"TimesAreCoarse", testCoarseTimes},
		{"ConcurrentWrites", testConcurrentWrites},
		{"DeskTexts", testDeskTexts},
		{"NewsroomTexts", testNewsroomTexts},
		{"EncryptedBy", testEncryptedBy},
		{"JournalistAuth", testJournalistAuth},
		{"InvitationsAndApproval", testInvitations},
		{"RotateDeskKey", testRotateDeskKey},
		{"Roles", testRoles},
		{"Credentials", testCredentials},
		{"Audit", testAudit},
		{"StatusAssigneeTags", testStatusAssigneeTags},
		{"InboxFilters", testInboxFilters},
		{"UnreadFollows", testUnreadFollows},
		{"OpaqueIDs", testOpaqueIDs},
		{"IndexSegments", testIndexSegments},
		{"DeskItemsFor", testDeskItemsFor},
		{"RetentionSetting", testRetentionSetting},
		{"Hold", testHold},
		{"DeleteExpired", testDeleteExpired},
		{"ExpiryFollowsActivity", testExpiryFollowsActivity},
		{"DeleteConversations", testDeleteConversations},
		{"AuditRetention", testAuditRetention},
		{"Transfer", testTransfer},
		{"Questions", testQuestions},
		{"AnswersItems", testAnswersItems},
		{"Previews", testPreviews},
		{"Notes", testNotes},
		{"ChangeConversations", testChangeConversations},
		{"IntakeKeys", testIntakeKeys},
		{"IntakeItems", testIntakeItems},
		{"DestroyIntakeKeys", testDestroyIntakeKeys},
		{"ExpireIntakeKeys", testExpireIntakeKeys},
		{"Unsorted", testUnsorted},
		{"Sort", testSort},
		{"SortPreview", testSortPreview},
		{"SortBatches", testSortBatches},
		{"ConversationKeyDeleted", testConversationKeyDeleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open(t)) })
	}
}

// newsroom is the fixture most tests start from: alice and bob are on the
// americas desk, carol on maghreb.
type newsroom struct {
	s                 Stores
	alice, bob, carol pista.Journalist
	americas, maghreb pista.Desk
	next              int // to make unique conversation IDs, lookups, objects
}

func newNewsroom(t *testing.T, s Stores) *newsroom {
	t.Helper()
	n := &newsroom{s: s}
	n.alice = n.journalist(t, "alice")
	n.bob = n.journalist(t, "bob")
	n.carol = n.journalist(t, "carol")
	n.americas = n.desk(t, "americas", n.alice, n.bob)
	n.maghreb = n.desk(t, "maghreb", n.carol)
	return n
}

func (n *newsroom) journalist(t *testing.T, name string) pista.Journalist {
	t.Helper()
	j := pista.Journalist{
		Name:       name,
		Recipient:  "age1pq1" + name,
		TOTPSecret: "JBSWY3DPEHPK3PXP",
	}
	if err := n.s.Journalists.CreateJournalist(context.Background(), &j); err != nil {
		t.Fatalf("CreateJournalist(%s): %v", name, err)
	}
	if j.ID == 0 {
		t.Fatalf("CreateJournalist(%s) did not set ID", name)
	}
	return j
}

func (n *newsroom) desk(t *testing.T, slug string, members ...pista.Journalist) pista.Desk {
	t.Helper()
	d := pista.Desk{Slug: slug, Title: "Desk " + slug, Description: "about " + slug, Recipient: "age1pq1desk" + slug}
	var wraps []pista.KeyWrap
	for _, m := range members {
		wraps = append(wraps, pista.KeyWrap{JournalistID: m.ID, Wrapped: []byte("wrapped " + slug + " for " + m.Name)})
	}
	if err := n.s.Desks.CreateDesk(context.Background(), &d, wraps); err != nil {
		t.Fatalf("CreateDesk(%s): %v", slug, err)
	}
	return d
}

// tip stores a tip to desk with the given item kinds (a message if none).
func (n *newsroom) tip(t *testing.T, desk pista.Desk, kinds ...pista.ItemKind) *pista.NewTip {
	t.Helper()
	n.next++
	if len(kinds) == 0 {
		kinds = []pista.ItemKind{pista.KindMessage}
	}
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: fmt.Sprintf("conv-%03d", n.next), DeskID: desk.ID},
		Source:       pista.Source{Lookup: fmt.Appendf(nil, "lookup-%03d", n.next), Recipient: "age1pq1source"},
		Items:        n.items(kinds...),
	}
	if err := n.s.Tips.CreateTip(context.Background(), tip); err != nil {
		t.Fatalf("CreateTip: %v", err)
	}
	return tip
}

func (n *newsroom) items(kinds ...pista.ItemKind) []pista.Item {
	var items []pista.Item
	for _, k := range kinds {
		n.next++
		it := pista.Item{Kind: k, Object: fmt.Sprintf("obj-%03d", n.next), Size: 1000 + int64(n.next)}
		if k == pista.KindFile {
			it.Meta, it.MetaSize = fmt.Sprintf("meta-%03d", n.next), 300
		}
		items = append(items, it)
	}
	return items
}

func (n *newsroom) add(t *testing.T, conversationID string, items ...pista.Item) []pista.Item {
	t.Helper()
	if err := n.s.Tips.AddItems(context.Background(), conversationID, items); err != nil {
		t.Fatalf("AddItems(%s): %v", conversationID, err)
	}
	return items
}

func isNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, pista.ErrNotFound) {
		t.Errorf("%s: error %v, want pista.ErrNotFound", what, err)
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func convIDs(cs []pista.Conversation) []string {
	return ids(cs, func(c pista.Conversation) string { return c.ID })
}

func itemIDs(items []pista.Item) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func testJournalists(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)

	got, err := s.Journalists.JournalistByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, n.alice) {
		t.Errorf("JournalistByName = %+v, want %+v", got, n.alice)
	}
	if got, err = s.Journalists.JournalistByID(ctx, n.bob.ID); err != nil || !reflect.DeepEqual(got, n.bob) {
		t.Errorf("JournalistByID = %+v, %v, want %+v", got, err, n.bob)
	}

	dup := pista.Journalist{Name: "alice", Recipient: "age1pq1other", TOTPSecret: "y"}
	if err := s.Journalists.CreateJournalist(ctx, &dup); !errors.Is(err, pista.ErrExists) {
		t.Errorf("duplicate name: error %v, want pista.ErrExists", err)
	}
	if got, _ := s.Journalists.JournalistByName(ctx, "alice"); got.Recipient != n.alice.Recipient {
		t.Errorf("duplicate name changed the account: %+v", got)
	}

	_, err = s.Journalists.JournalistByName(ctx, "mallory")
	isNotFound(t, "JournalistByName(unknown)", err)
	_, err = s.Journalists.JournalistByID(ctx, 99999)
	isNotFound(t, "JournalistByID(unknown)", err)
}

func testDesks(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	dave := n.journalist(t, "dave")

	d := pista.Desk{Slug: "europe", Title: "Europe", Recipient: "age1pq1europe"}
	wraps := []pista.KeyWrap{
		{JournalistID: n.alice.ID, Wrapped: []byte("for alice")},
		{JournalistID: dave.ID, Wrapped: []byte("for dave")},
	}
	if err := s.Desks.CreateDesk(ctx, &d, wraps); err != nil {
		t.Fatal(err)
	}
	if d.ID == 0 || d.KeyID == 0 || d.Created.IsZero() {
		t.Fatalf("CreateDesk did not set ID, KeyID and Created: %+v", d)
	}
	for _, w := range wraps {
		if w.DeskKeyID != d.KeyID {
			t.Errorf("wrap for %d: DeskKeyID = %d, want %d", w.JournalistID, w.DeskKeyID, d.KeyID)
		}
	}

	desks, err := s.Desks.Desks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(desks, func(d pista.Desk) string { return d.Slug }), []string{"americas", "europe", "maghreb"}; !slices.Equal(got, want) {
		t.Errorf("Desks = %v, want %v (by slug)", got, want)
	}
	got, err := s.Desks.DeskBySlug(ctx, "europe")
	if err != nil {
		t.Fatal(err)
	}
	if got != d {
		t.Errorf("DeskBySlug = %+v, want %+v", got, d)
	}
	_, err = s.Desks.DeskBySlug(ctx, "antarctica")
	isNotFound(t, "DeskBySlug(unknown)", err)
	if got, err := s.Desks.DeskByID(ctx, d.ID); err != nil || got != d {
		t.Errorf("DeskByID = %+v, %v; want %+v", got, err, d)
	}
	_, err = s.Desks.DeskByID(ctx, 99999)
	isNotFound(t, "DeskByID(unknown)", err)

	of := []struct {
		name string
		id   int64
		want []string
	}{
		{"alice", n.alice.ID, []string{"americas", "europe"}},
		{"bob", n.bob.ID, []string{"americas"}},
		{"carol", n.carol.ID, []string{"maghreb"}},
		{"dave", dave.ID, []string{"europe"}},
		{"nobody", 99999, nil},
	}
	for _, tt := range of {
		t.Run("DesksOf/"+tt.name, func(t *testing.T) {
			desks, err := s.Desks.DesksOf(ctx, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(desks, func(d pista.Desk) string { return d.Slug }); !slices.Equal(got, tt.want) {
				t.Errorf("DesksOf = %v, want %v", got, tt.want)
			}
			for _, d := range desks {
				if d.Recipient == "" || d.KeyID == 0 {
					t.Errorf("DesksOf: desk %s without its key: %+v", d.Slug, d)
				}
			}
		})
	}

	t.Run("WrapsFor", func(t *testing.T) {
		got, err := s.Desks.WrapsFor(ctx, n.alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []pista.KeyWrap{
			{DeskKeyID: n.americas.KeyID, DeskSlug: "americas", JournalistID: n.alice.ID, Wrapped: []byte("wrapped americas for alice")},
			{DeskKeyID: d.KeyID, DeskSlug: "europe", JournalistID: n.alice.ID, Wrapped: []byte("for alice")},
		}
		if len(got) != len(want) {
			t.Fatalf("WrapsFor(alice) = %+v, want %+v", got, want)
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.DeskKeyID != w.DeskKeyID || g.DeskSlug != w.DeskSlug || g.JournalistID != w.JournalistID || !bytes.Equal(g.Wrapped, w.Wrapped) {
				t.Errorf("WrapsFor(alice)[%d] = %+v, want %+v", i, g, w)
			}
		}
		if none, err := s.Desks.WrapsFor(ctx, 99999); err != nil || len(none) != 0 {
			t.Errorf("WrapsFor(unknown) = %v, %v; want none", none, err)
		}
	})
}

func testDuplicateDesk(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	dave := n.journalist(t, "dave")

	d := pista.Desk{Slug: "americas", Title: "Again", Recipient: "age1pq1again"}
	err := s.Desks.CreateDesk(ctx, &d, []pista.KeyWrap{{JournalistID: dave.ID, Wrapped: []byte("w")}})
	if !errors.Is(err, pista.ErrExists) {
		t.Fatalf("duplicate slug: error %v, want pista.ErrExists", err)
	}
	if d.ID != 0 {
		t.Errorf("failed CreateDesk set ID %d", d.ID)
	}
	// Nothing of the failed desk remains: no membership, no wrap.
	if desks, _ := s.Desks.DesksOf(ctx, dave.ID); len(desks) != 0 {
		t.Errorf("failed CreateDesk left memberships: %+v", desks)
	}
	if wraps, _ := s.Desks.WrapsFor(ctx, dave.ID); len(wraps) != 0 {
		t.Errorf("failed CreateDesk left wraps: %+v", wraps)
	}
	if got, _ := s.Desks.DeskBySlug(ctx, "americas"); got != n.americas {
		t.Errorf("duplicate slug changed the desk: %+v", got)
	}
}

func testSettings(t *testing.T, s Stores) {
	ctx := context.Background()
	a, err := s.Settings.Secret(ctx, "csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || bytes.Equal(a, make([]byte, 32)) {
		t.Fatalf("Secret = %x, want 32 random bytes", a)
	}
	again, err := s.Settings.Secret(ctx, "csrf", 32)
	if err != nil || !bytes.Equal(a, again) {
		t.Errorf("second Secret = %x, %v; want the first %x", again, err, a)
	}
	other, err := s.Settings.Secret(ctx, "salt", 16)
	if err != nil || len(other) != 16 || bytes.Equal(other, a[:16]) {
		t.Errorf("Secret(salt) = %x, %v; want 16 other bytes", other, err)
	}

	// Concurrent first callers all get the one stored value.
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Go(func() {
			v, err := s.Settings.Secret(ctx, "race", 32)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i, v := range got {
		if len(v) != 32 || !bytes.Equal(v, got[0]) {
			t.Errorf("concurrent Secret #%d = %x, want %x", i, v, got[0])
		}
	}
}

func testCreateTip(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas, pista.KindMessage, pista.KindFile, pista.KindContact)
	c := tip.Conversation

	if tip.Source.ID == 0 || c.SourceID != tip.Source.ID {
		t.Errorf("CreateTip: Source.ID %d, Conversation.SourceID %d", tip.Source.ID, c.SourceID)
	}
	for i, it := range tip.Items {
		if it.ID == 0 || it.ConversationID != c.ID || it.Created.IsZero() {
			t.Errorf("item %d not filled in: %+v", i, it)
		}
		// IDs carry no order (a count across desks would show in their
		// gaps): only that they are distinct.
		if i > 0 && slices.Contains(itemIDs(tip.Items[:i]), it.ID) {
			t.Errorf("item IDs not distinct: %v", itemIDs(tip.Items))
		}
	}
	if c.LastItem != tip.Items[2].ID || c.Items != 3 || c.Created.IsZero() || c.Updated.IsZero() {
		t.Errorf("CreateTip: conversation %+v, want LastItem %d, Items 3, times set", c, tip.Items[2].ID)
	}

	src, err := s.Tips.SourceByLookup(ctx, tip.Source.Lookup)
	if err != nil {
		t.Fatal(err)
	}
	if src.ID != tip.Source.ID || !bytes.Equal(src.Lookup, tip.Source.Lookup) || src.Recipient != tip.Source.Recipient || !src.Created.Equal(tip.Source.Created) {
		t.Errorf("SourceByLookup = %+v, want %+v", src, tip.Source)
	}
	_, err = s.Tips.SourceByLookup(ctx, []byte("nobody"))
	isNotFound(t, "SourceByLookup(unknown)", err)
	if byID, err := s.Tips.SourceByID(ctx, src.ID); err != nil || byID.ID != src.ID || !bytes.Equal(byID.Lookup, src.Lookup) || byID.Recipient != src.Recipient || !byID.Created.Equal(src.Created) {
		t.Errorf("SourceByID = %+v, %v; want %+v", byID, err, src)
	}
	_, err = s.Tips.SourceByID(ctx, 99999)
	isNotFound(t, "SourceByID(unknown)", err)

	convs, err := s.Tips.ConversationsOfSource(ctx, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 1 {
		t.Fatalf("ConversationsOfSource = %+v, want one", convs)
	}
	if g := convs[0]; g.ID != c.ID || g.DeskID != n.americas.ID || g.DeskSlug != "americas" || g.LastItem != c.LastItem || g.Items != 3 || !g.Created.Equal(c.Created) {
		t.Errorf("ConversationsOfSource[0] = %+v, want %+v", g, c)
	}

	items, err := s.Tips.ItemsOfConversation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !equalItems(items, tip.Items) {
		t.Errorf("ItemsOfConversation = %+v, want %+v", items, tip.Items)
	}
	if items, err := s.Tips.ItemsOfConversation(ctx, "no-such"); err != nil || len(items) != 0 {
		t.Errorf("ItemsOfConversation(unknown) = %v, %v; want none", items, err)
	}

	cases := []struct {
		name string
		tip  pista.NewTip
		want error
	}{
		{"duplicate lookup", pista.NewTip{
			Conversation: pista.Conversation{ID: "fresh-1", DeskID: n.americas.ID},
			Source:       pista.Source{Lookup: tip.Source.Lookup, Recipient: "r"},
			Items:        n.items(pista.KindMessage),
		}, pista.ErrExists},
		{"unknown desk", pista.NewTip{
			Conversation: pista.Conversation{ID: "fresh-2", DeskID: 99999},
			Source:       pista.Source{Lookup: []byte("fresh-2"), Recipient: "r"},
			Items:        n.items(pista.KindMessage),
		}, pista.ErrNotFound},
		{"no items", pista.NewTip{
			Conversation: pista.Conversation{ID: "fresh-3", DeskID: n.americas.ID},
			Source:       pista.Source{Lookup: []byte("fresh-3"), Recipient: "r"},
		}, nil},
		{"unknown kind", pista.NewTip{
			Conversation: pista.Conversation{ID: "fresh-4", DeskID: n.americas.ID},
			Source:       pista.Source{Lookup: []byte("fresh-4"), Recipient: "r"},
			Items:        []pista.Item{{Kind: "scribble", Object: "obj-x", Size: 1}},
		}, nil},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Tips.CreateTip(ctx, &tt.tip)
			if err == nil {
				t.Fatal("CreateTip succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if _, err := s.Tips.ConversationFor(ctx, n.alice.ID, tt.tip.Conversation.ID); !errors.Is(err, pista.ErrNotFound) {
				t.Errorf("failed CreateTip left its conversation (%v)", err)
			}
		})
	}
}

func equalItems(got, want []pista.Item) bool {
	return slices.EqualFunc(got, want, func(a, b pista.Item) bool {
		return a.ID == b.ID && a.ConversationID == b.ConversationID && a.Kind == b.Kind &&
			a.Object == b.Object && a.Meta == b.Meta && a.Size == b.Size && a.MetaSize == b.MetaSize &&
			a.AuthorID == b.AuthorID && a.Created.Equal(b.Created)
	})
}

func testCreateTipFailure(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	first := n.tip(t, n.americas)
	before, err := s.Tips.ObjectKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A second tip reusing the conversation ID fails after its source was
	// inserted: the transaction must take the source back out.
	dup := &pista.NewTip{
		Conversation: pista.Conversation{ID: first.Conversation.ID, DeskID: n.maghreb.ID},
		Source:       pista.Source{Lookup: []byte("second source"), Recipient: "age1pq1second"},
		Items:        n.items(pista.KindMessage, pista.KindFile),
	}
	if err := s.Tips.CreateTip(ctx, dup); err == nil {
		t.Fatal("CreateTip with a taken conversation ID succeeded")
	} else if !errors.Is(err, pista.ErrExists) {
		t.Errorf("duplicate conversation ID: error %v, want pista.ErrExists", err)
	}
	if dup.Source.ID != 0 || dup.Items[0].ID != 0 {
		t.Errorf("failed CreateTip set IDs: source %d, item %d", dup.Source.ID, dup.Items[0].ID)
	}
	_, err = s.Tips.SourceByLookup(ctx, []byte("second source"))
	isNotFound(t, "source of the failed tip", err)
	after, err := s.Tips.ObjectKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("failed CreateTip left items: object keys %v, were %v", after, before)
	}
	c, err := s.Tips.ConversationFor(ctx, n.alice.ID, first.Conversation.ID)
	if err != nil || c.DeskID != n.americas.ID || c.Items != 1 {
		t.Errorf("the first conversation changed: %+v, %v", c, err)
	}
	if got, err := s.Tips.ConversationsFor(ctx, n.carol.ID, pista.Page{}); err != nil || len(got) != 0 {
		t.Errorf("carol's inbox after the failed tip = %v, %v; want empty", convIDs(got), err)
	}
}

func testAddItems(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas)
	id := tip.Conversation.ID

	reply := n.items(pista.KindReply)
	reply[0].AuthorID = n.alice.ID
	added := n.add(t, id, append(reply, n.items(pista.KindMessage, pista.KindFile)...)...)
	for i, it := range added {
		if it.ID == 0 || slices.Contains(itemIDs(tip.Items), it.ID) || it.ConversationID != id || it.Created.IsZero() {
			t.Errorf("added item %d: %+v", i, it)
		}
	}
	c, err := s.Tips.ConversationFor(ctx, n.alice.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.LastItem != added[2].ID || c.Items != 4 || c.Updated.Before(tip.Conversation.Updated) {
		t.Errorf("after AddItems: %+v, want LastItem %d and 4 items", c, added[2].ID)
	}
	items, err := s.Tips.ItemsOfConversation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !equalItems(items, append(slices.Clone(tip.Items), added...)) {
		t.Errorf("ItemsOfConversation = %+v", items)
	}
	if items[1].AuthorID != n.alice.ID || items[0].AuthorID != 0 {
		t.Errorf("authors: %d, %d; want 0, %d", items[0].AuthorID, items[1].AuthorID, n.alice.ID)
	}

	err = s.Tips.AddItems(ctx, "no-such", n.items(pista.KindMessage))
	isNotFound(t, "AddItems(unknown conversation)", err)
	if err := s.Tips.AddItems(ctx, id, nil); err != nil {
		t.Errorf("AddItems(no items): %v", err)
	}

	// Items encrypted to another desk than the conversation's (it was
	// moved meanwhile) are refused whole; to its own desk they go in.
	err = s.Tips.AddItemsFor(ctx, id, n.maghreb.ID, n.items(pista.KindMessage, pista.KindFile))
	if !errors.Is(err, pista.ErrMoved) {
		t.Errorf("AddItemsFor(another desk): %v, want ErrMoved", err)
	}
	if after, _ := s.Tips.ItemsOfConversation(ctx, id); len(after) != len(items) {
		t.Errorf("a refused AddItemsFor left %d items, want %d", len(after), len(items))
	}
	if err := s.Tips.AddItemsFor(ctx, id, n.americas.ID, n.items(pista.KindMessage)); err != nil {
		t.Errorf("AddItemsFor(its desk): %v", err)
	}
	if after, _ := s.Tips.ItemsOfConversation(ctx, id); len(after) != len(items)+1 {
		t.Errorf("after AddItemsFor(its desk): %d items, want %d", len(after), len(items)+1)
	}
	err = s.Tips.AddItemsFor(ctx, "no-such", n.americas.ID, n.items(pista.KindMessage))
	isNotFound(t, "AddItemsFor(unknown conversation)", err)
}

// testOtherDesk checks the permission rule on every method that takes a
// journalist: carol, on maghreb, cannot see or touch an americas tip.
func testOtherDesk(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas, pista.KindMessage, pista.KindFile)
	id, item := tip.Conversation.ID, tip.Items[0].ID
	outsider := n.journalist(t, "outsider") // on no desk

	for _, who := range []pista.Journalist{n.carol, outsider} {
		calls := []struct {
			name string
			call func() error
		}{
			{"ConversationFor", func() error { _, err := s.Tips.ConversationFor(ctx, who.ID, id); return err }},
			{"ItemFor", func() error { _, err := s.Tips.ItemFor(ctx, who.ID, item); return err }},
			{"MarkRead", func() error { return s.Tips.MarkRead(ctx, who.ID, id) }},
			{"MarkUnread", func() error { return s.Tips.MarkUnread(ctx, who.ID, id) }},
			{"SetStar", func() error { return s.Tips.SetStar(ctx, who.ID, id, true) }},
			{"SetStar(false)", func() error { return s.Tips.SetStar(ctx, who.ID, id, false) }},
			{"DeleteConversation", func() error { _, err := s.Tips.DeleteConversation(ctx, who.ID, id); return err }},
		}
		for _, c := range calls {
			t.Run(who.Name+"/"+c.name, func(t *testing.T) { isNotFound(t, c.name, c.call()) })
		}
		t.Run(who.Name+"/lists", func(t *testing.T) {
			if cs, err := s.Tips.ConversationsFor(ctx, who.ID, pista.Page{}); err != nil || len(cs) != 0 {
				t.Errorf("ConversationsFor = %v, %v; want none", convIDs(cs), err)
			}
			if cs, err := s.Tips.ConversationsFor(ctx, who.ID, pista.Page{DeskID: n.americas.ID}); err != nil || len(cs) != 0 {
				t.Errorf("ConversationsFor(americas) = %v, %v; want none", convIDs(cs), err)
			}
			if items, err := s.Tips.ItemsFor(ctx, who.ID, 0, 100); err != nil || len(items) != 0 {
				t.Errorf("ItemsFor = %v, %v; want none", itemIDs(items), err)
			}
		})
	}

	// Unknown conversations and items are not found either.
	_, err := s.Tips.ConversationFor(ctx, n.alice.ID, "no-such")
	isNotFound(t, "ConversationFor(unknown)", err)
	_, err = s.Tips.ItemFor(ctx, n.alice.ID, 99999)
	isNotFound(t, "ItemFor(unknown)", err)

	// And nothing the outsiders tried changed the tip for its desk.
	c, err := s.Tips.ConversationFor(ctx, n.alice.ID, id)
	if err != nil {
		t.Fatalf("the conversation is gone for its own desk: %v", err)
	}
	if !c.Unread || c.Starred || c.Items != 2 {
		t.Errorf("outsiders changed the conversation: %+v", c)
	}
	if got, err := s.Tips.ItemFor(ctx, n.bob.ID, item); err != nil || got.ID != item {
		t.Errorf("ItemFor(bob) = %+v, %v", got, err)
	}
}

func testInboxPages(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	dave := n.journalist(t, "dave")
	europe := n.desk(t, "europe", n.alice, dave)

	// 23 conversations over americas and europe (alice is on both), and
	// some on maghreb that alice must never see.
	var created []string
	for i := range 23 {
		desk := n.americas
		if i%3 == 0 {
			desk = europe
		}
		created = append(created, n.tip(t, desk).Conversation.ID)
		if i%5 == 0 {
			n.tip(t, n.maghreb)
		}
	}
	// An old conversation that gets a new item comes first.
	n.add(t, created[4], n.items(pista.KindMessage)...)
	want := slices.Clone(created)
	slices.Reverse(want)
	want = slices.DeleteFunc(want, func(id string) bool { return id == created[4] })
	want = append([]string{created[4]}, want...)

	for _, limit := range []int{1, 5, 7, 23, 50} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []string
			var before int64
			for page := 0; ; page++ {
				if page > 30 {
					t.Fatal("paging does not end")
				}
				cs, err := s.Tips.ConversationsFor(ctx, n.alice.ID, pista.Page{Before: before, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				if len(cs) > limit {
					t.Fatalf("page of %d conversations, limit %d", len(cs), limit)
				}
				if len(cs) == 0 {
					break
				}
				// The order is checked against want below: LastItem is
				// an opaque cursor.
				for _, c := range cs {
					if c.DeskSlug != "americas" && c.DeskSlug != "europe" {
						t.Errorf("conversation of desk %q in alice's inbox", c.DeskSlug)
					}
				}
				got = append(got, convIDs(cs)...)
				before = cs[len(cs)-1].LastItem
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages = %v\nwant    %v", got, want)
			}
		})
	}

	t.Run("desk filter", func(t *testing.T) {
		cs, err := s.Tips.ConversationsFor(ctx, n.alice.ID, pista.Page{DeskID: europe.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		wantEurope := slices.DeleteFunc(slices.Clone(want), func(id string) bool {
			return slices.Index(created, id)%3 != 0
		})
		if got := convIDs(cs); !slices.Equal(got, wantEurope) {
			t.Errorf("europe = %v, want %v", got, wantEurope)
		}
		cs, err = s.Tips.ConversationsFor(ctx, dave.ID, pista.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if got := convIDs(cs); !slices.Equal(got, wantEurope) {
			t.Errorf("dave's inbox = %v, want %v", got, wantEurope)
		}
	})
}

func testInboxLimit(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	for range 210 {
		n.tip(t, n.maghreb)
	}
	n.tip(t, n.americas)
	cases := []struct {
		name string
		page pista.Page
		want int
	}{
		{"default limit", pista.Page{}, 50},
		{"negative limit", pista.Page{Limit: -3}, 50},
		{"limit", pista.Page{Limit: 120}, 120},
		{"max limit", pista.Page{Limit: 10000}, 200},
		{"other desk filter", pista.Page{DeskID: n.americas.ID}, 0},
		{"unknown desk filter", pista.Page{DeskID: 99999}, 0},
		{"own desk filter", pista.Page{DeskID: n.maghreb.ID, Limit: 5}, 5},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := s.Tips.ConversationsFor(ctx, n.carol.ID, tt.page)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != tt.want {
				t.Errorf("%d conversations, want %d", len(cs), tt.want)
			}
		})
	}
}

func testReadPerJournalist(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas)
	other := n.tip(t, n.americas)
	id := tip.Conversation.ID

	// unread reports, through both the inbox and ConversationFor, whether
	// the conversation is unread for j.
	unread := func(t *testing.T, j pista.Journalist) bool {
		t.Helper()
		c, err := s.Tips.ConversationFor(ctx, j.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := s.Tips.ConversationsFor(ctx, j.ID, pista.Page{})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(cs, func(c pista.Conversation) bool { return c.ID == id })
		if i < 0 {
			t.Fatalf("%s: conversation not in the inbox", j.Name)
		}
		if cs[i].Unread != c.Unread {
			t.Errorf("%s: inbox says unread=%v, ConversationFor %v", j.Name, cs[i].Unread, c.Unread)
		}
		return c.Unread
	}
	steps := []struct {
		name       string
		do         func(t *testing.T)
		alice, bob bool // unread for each
	}{
		{"new tip", func(t *testing.T) {}, true, true},
		{"alice reads", func(t *testing.T) {
			if err := s.Tips.MarkRead(ctx, n.alice.ID, id); err != nil {
				t.Fatal(err)
			}
		}, false, true},
		{"alice reads again", func(t *testing.T) {
			if err := s.Tips.MarkRead(ctx, n.alice.ID, id); err != nil {
				t.Fatal(err)
			}
		}, false, true},
		{"the source adds a message", func(t *testing.T) { n.add(t, id, n.items(pista.KindMessage)...) }, true, true},
		{"both read", func(t *testing.T) {
			for _, j := range []pista.Journalist{n.alice, n.bob} {
				if err := s.Tips.MarkRead(ctx, j.ID, id); err != nil {
					t.Fatal(err)
				}
			}
		}, false, false},
		{"bob marks unread", func(t *testing.T) {
			if err := s.Tips.MarkUnread(ctx, n.bob.ID, id); err != nil {
				t.Fatal(err)
			}
		}, false, true},
		{"bob marks unread again", func(t *testing.T) {
			if err := s.Tips.MarkUnread(ctx, n.bob.ID, id); err != nil {
				t.Fatal(err)
			}
		}, false, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t)
			if got := unread(t, n.alice); got != st.alice {
				t.Errorf("alice: unread = %v, want %v", got, st.alice)
			}
			if got := unread(t, n.bob); got != st.bob {
				t.Errorf("bob: unread = %v, want %v", got, st.bob)
			}
		})
	}
	if c, err := s.Tips.ConversationFor(ctx, n.alice.ID, other.Conversation.ID); err != nil || !c.Unread {
		t.Errorf("the other conversation: %+v, %v; want unread", c, err)
	}
}

func testStars(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	id := n.tip(t, n.americas).Conversation.ID
	starred := func(j pista.Journalist) bool {
		t.Helper()
		c, err := s.Tips.ConversationFor(ctx, j.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := s.Tips.ConversationsFor(ctx, j.ID, pista.Page{})
		if err != nil || len(cs) != 1 || cs[0].Starred != c.Starred {
			t.Fatalf("%s: inbox %+v, %v disagrees with %+v", j.Name, cs, err, c)
		}
		return c.Starred
	}
	steps := []struct {
		name       string
		who        pista.Journalist
		star       bool
		alice, bob bool
	}{
		{"alice stars", n.alice, true, true, false},
		{"alice stars again", n.alice, true, true, false},
		{"bob stars", n.bob, true, true, true},
		{"alice unstars", n.alice, false, false, true},
		{"alice unstars again", n.alice, false, false, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.Tips.SetStar(ctx, st.who.ID, id, st.star); err != nil {
				t.Fatal(err)
			}
			if got := starred(n.alice); got != st.alice {
				t.Errorf("alice: starred = %v, want %v", got, st.alice)
			}
			if got := starred(n.bob); got != st.bob {
				t.Errorf("bob: starred = %v, want %v", got, st.bob)
			}
		})
	}
}

func testItemsFor(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	var mine []pista.Item // alice's, in ID order
	a := n.tip(t, n.americas, pista.KindMessage, pista.KindFile)
	mine = append(mine, a.Items...)
	n.tip(t, n.maghreb, pista.KindMessage, pista.KindFile)
	b := n.tip(t, n.americas, pista.KindMessage)
	mine = append(mine, b.Items...)
	mine = append(mine, n.add(t, a.Conversation.ID, n.items(pista.KindMessage)...)...)
	n.add(t, n.tip(t, n.maghreb).Conversation.ID, n.items(pista.KindFile)...)

	pull := func(t *testing.T, after int64, limit int) []pista.Item {
		t.Helper()
		items, err := s.Tips.ItemsFor(ctx, n.alice.ID, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	if got := pull(t, 0, 100); !equalItems(got, mine) {
		t.Errorf("ItemsFor(0) = %v, want %v", itemIDs(got), itemIDs(mine))
	}
	// Pulling two at a time gets the same items, each once.
	var got []pista.Item
	var after int64
	for range 10 {
		page := pull(t, after, 2)
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("ItemsFor(limit 2) = %d items", len(page))
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if !equalItems(got, mine) {
		t.Errorf("pulled by twos = %v, want %v", itemIDs(got), itemIDs(mine))
	}
	// A later pull gets only what is new.
	newer := n.add(t, b.Conversation.ID, n.items(pista.KindFile)...)
	n.tip(t, n.maghreb)
	if got := pull(t, after, 100); !equalItems(got, newer) {
		t.Errorf("incremental pull = %v, want %v", itemIDs(got), itemIDs(newer))
	}
	if got := pull(t, newer[0].ID, 100); len(got) != 0 {
		t.Errorf("pull after the newest = %v, want none", itemIDs(got))
	}
	if got := pull(t, 0, 0); len(got) != len(mine)+1 {
		t.Errorf("ItemsFor(limit 0) = %d items, want the default page of all %d", len(got), len(mine)+1)
	}

	// ItemFor agrees.
	for _, it := range mine {
		got, err := s.Tips.ItemFor(ctx, n.bob.ID, it.ID)
		if err != nil || !equalItems([]pista.Item{got}, []pista.Item{it}) {
			t.Errorf("ItemFor(%d) = %+v, %v; want %+v", it.ID, got, err, it)
		}
	}
}

func testDeleteReply(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas, pista.KindMessage)
	other := n.tip(t, n.americas)
	id := tip.Conversation.ID
	replies := n.items(pista.KindReply, pista.KindReply)
	for i := range replies {
		replies[i].AuthorID = n.alice.ID
	}
	n.add(t, id, replies...)
	otherReply := n.add(t, other.Conversation.ID, n.items(pista.KindReply)...)[0]

	refused := []struct {
		name string
		conv string
		item int64
	}{
		{"a source's message", id, tip.Items[0].ID},
		{"a reply in another conversation", id, otherReply.ID},
		{"an unknown item", id, 99999},
		{"an unknown conversation", "no-such", replies[0].ID},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := s.Tips.DeleteReply(ctx, tt.conv, tt.item)
			isNotFound(t, "DeleteReply", err)
		})
	}

	got, err := s.Tips.DeleteReply(ctx, id, replies[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !equalItems([]pista.Item{got}, replies[1:]) {
		t.Errorf("DeleteReply = %+v, want %+v", got, replies[1])
	}
	_, err = s.Tips.DeleteReply(ctx, id, replies[1].ID)
	isNotFound(t, "DeleteReply twice", err)
	_, err = s.Tips.ItemFor(ctx, n.alice.ID, replies[1].ID)
	isNotFound(t, "ItemFor(deleted reply)", err)

	items, err := s.Tips.ItemsOfConversation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{tip.Items[0].ID, replies[0].ID}; !slices.Equal(itemIDs(items), want) {
		t.Errorf("items after DeleteReply = %v, want %v", itemIDs(items), want)
	}
	c, err := s.Tips.ConversationFor(ctx, n.alice.ID, id)
	if err != nil || c.Items != 2 || c.LastItem != replies[0].ID {
		t.Errorf("after DeleteReply: %+v, %v; want 2 items, LastItem %d", c, err, replies[0].ID)
	}

	// Item IDs are never reused, even the newest deleted one's.
	next := n.add(t, id, n.items(pista.KindMessage)...)[0]
	if next.ID == otherReply.ID || next.ID == replies[1].ID {
		t.Errorf("new item ID %d reuses a deleted one", next.ID)
	}
	last, err := s.Tips.DeleteReply(ctx, other.Conversation.ID, otherReply.ID)
	if err != nil || last.ID != otherReply.ID {
		t.Fatalf("DeleteReply(newest item) = %+v, %v", last, err)
	}
	if again := n.add(t, other.Conversation.ID, n.items(pista.KindMessage)...)[0]; again.ID == otherReply.ID || again.ID == next.ID {
		t.Errorf("new item ID %d after deleting the newest reuses one", again.ID)
	}
}

func testDeleteConversation(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas, pista.KindMessage, pista.KindFile)
	keep := n.tip(t, n.americas)
	id := tip.Conversation.ID
	added := n.add(t, id, n.items(pista.KindReply)...)
	want := append(slices.Clone(tip.Items), added...)
	for _, j := range []pista.Journalist{n.alice, n.bob} {
		if err := s.Tips.MarkRead(ctx, j.ID, id); err != nil {
			t.Fatal(err)
		}
		if err := s.Tips.SetStar(ctx, j.ID, id, true); err != nil {
			t.Fatal(err)
		}
	}

	got, err := s.Tips.DeleteConversation(ctx, n.bob.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if !equalItems(got, want) {
		t.Errorf("DeleteConversation = %+v, want %+v", got, want)
	}

	gone := []struct {
		name string
		err  func() error
	}{
		{"ConversationFor", func() error { _, err := s.Tips.ConversationFor(ctx, n.alice.ID, id); return err }},
		{"ItemFor", func() error { _, err := s.Tips.ItemFor(ctx, n.alice.ID, want[0].ID); return err }},
		{"SourceByLookup", func() error { _, err := s.Tips.SourceByLookup(ctx, tip.Source.Lookup); return err }},
		{"SourceByID", func() error { _, err := s.Tips.SourceByID(ctx, tip.Source.ID); return err }},
		{"MarkRead", func() error { return s.Tips.MarkRead(ctx, n.alice.ID, id) }},
		{"SetStar", func() error { return s.Tips.SetStar(ctx, n.alice.ID, id, false) }},
		{"AddItems", func() error { return s.Tips.AddItems(ctx, id, n.items(pista.KindMessage)) }},
		{"DeleteConversation again", func() error { _, err := s.Tips.DeleteConversation(ctx, n.alice.ID, id); return err }},
	}
	for _, g := range gone {
		t.Run("gone/"+g.name, func(t *testing.T) { isNotFound(t, g.name, g.err()) })
	}
	if items, err := s.Tips.ItemsOfConversation(ctx, id); err != nil || len(items) != 0 {
		t.Errorf("ItemsOfConversation after delete = %v, %v", itemIDs(items), err)
	}
	if convs, err := s.Tips.ConversationsOfSource(ctx, tip.Source.ID); err != nil || len(convs) != 0 {
		t.Errorf("ConversationsOfSource after delete = %v, %v", convIDs(convs), err)
	}
	keys, err := s.Tips.ObjectKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range want {
		if keys[it.Object] || (it.Meta != "" && keys[it.Meta]) {
			t.Errorf("ObjectKeys still lists item %d's objects", it.ID)
		}
	}
	if items, err := s.Tips.ItemsFor(ctx, n.alice.ID, 0, 100); err != nil || !equalItems(items, keep.Items) {
		t.Errorf("ItemsFor after delete = %v, %v; want %v", itemIDs(items), err, itemIDs(keep.Items))
	}
	cs, err := s.Tips.ConversationsFor(ctx, n.alice.ID, pista.Page{})
	if err != nil || !slices.Equal(convIDs(cs), []string{keep.Conversation.ID}) {
		t.Errorf("inbox after delete = %v, %v", convIDs(cs), err)
	}
	if _, err := s.Tips.SourceByLookup(ctx, keep.Source.Lookup); err != nil {
		t.Errorf("the other tip's source: %v", err)
	}
}

func testObjectKeys(t *testing.T, s Stores) {
	ctx := context.Background()
	keys, err := s.Tips.ObjectKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("ObjectKeys of an empty store = %v, %v", keys, err)
	}
	n := newNewsroom(t, s)
	a := n.tip(t, n.americas, pista.KindMessage, pista.KindFile)
	b := n.tip(t, n.maghreb, pista.KindContact)
	reply := n.add(t, b.Conversation.ID, n.items(pista.KindReply)...)
	want := map[string]bool{}
	for _, it := range slices.Concat(a.Items, b.Items, reply) {
		want[it.Object] = true
		if it.Meta != "" {
			want[it.Meta] = true
		}
	}
	keys, err = s.Tips.ObjectKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) || len(want) != 5 {
		t.Errorf("ObjectKeys = %v, want %v", keys, want)
	}
	for k := range want {
		if !keys[k] {
			t.Errorf("ObjectKeys lacks %q", k)
		}
	}
}

func testCoarseTimes(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	exact := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))
	coarse := time.Date(2025, 3, 14, 14, 0, 0, 0, time.UTC)

	j := pista.Journalist{Name: "erin", Recipient: "r", TOTPSecret: "s", Created: exact}
	if err := s.Journalists.CreateJournalist(ctx, &j); err != nil {
		t.Fatal(err)
	}
	d := pista.Desk{Slug: "asia", Title: "Asia", Recipient: "r", Created: exact}
	if err := s.Desks.CreateDesk(ctx, &d, []pista.KeyWrap{{JournalistID: j.ID, Wrapped: []byte("w")}}); err != nil {
		t.Fatal(err)
	}
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: "timed", DeskID: d.ID, Created: exact},
		Source:       pista.Source{Lookup: []byte("timed"), Recipient: "r", Created: exact},
		Items:        []pista.Item{{Kind: pista.KindMessage, Object: "o", Size: 1, Created: exact}},
	}
	if err := s.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	added := n.add(t, "timed", pista.Item{Kind: pista.KindReply, Object: "o2", Size: 1, AuthorID: j.ID, Created: exact.Add(2 * time.Hour)})

	gotJ, _ := s.Journalists.JournalistByID(ctx, j.ID)
	gotD, _ := s.Desks.DeskBySlug(ctx, "asia")
	src, _ := s.Tips.SourceByLookup(ctx, []byte("timed"))
	c, err := s.Tips.ConversationFor(ctx, j.ID, "timed")
	if err != nil {
		t.Fatal(err)
	}
	items, _ := s.Tips.ItemsOfConversation(ctx, "timed")
	if len(items) != 2 {
		t.Fatalf("items: %+v", items)
	}
	times := []struct {
		name      string
		got, want time.Time
	}{
		{"journalist (returned)", j.Created, coarse},
		{"journalist (stored)", gotJ.Created, coarse},
		{"desk (returned)", d.Created, coarse},
		{"desk (stored)", gotD.Created, coarse},
		{"source (returned)", tip.Source.Created, coarse},
		{"source (stored)", src.Created, coarse},
		{"conversation created", c.Created, coarse},
		{"conversation updated", c.Updated, coarse.Add(2 * time.Hour)},
		{"item (returned)", tip.Items[0].Created, coarse},
		{"item (stored)", items[0].Created, coarse},
		{"added item (returned)", added[0].Created, coarse.Add(2 * time.Hour)},
		{"added item (stored)", items[1].Created, coarse.Add(2 * time.Hour)},
	}
	for _, tt := range times {
		if !tt.got.Equal(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.got, tt.want)
		}
	}

	// A zero time is now, at the same granularity.
	now := n.tip(t, n.americas)
	if at := now.Conversation.Created; at.IsZero() || !at.Equal(at.Truncate(pista.TimeGranularity)) || time.Since(at) > pista.TimeGranularity+time.Minute {
		t.Errorf("zero Created recorded as %v", at)
	}
}

// testConcurrentWrites runs writers side by side: none may fail, with
// SQLITE_BUSY or anything else, and no write may be lost.
func testConcurrentWrites(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	const writers, tips = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range tips {
				id := fmt.Sprintf("w%d-%d", w, i)
				tip := &pista.NewTip{
					Conversation: pista.Conversation{ID: id, DeskID: n.americas.ID},
					Source:       pista.Source{Lookup: []byte(id), Recipient: "r"},
					Items:        []pista.Item{{Kind: pista.KindMessage, Object: id, Size: 1}},
				}
				if err := s.Tips.CreateTip(ctx, tip); err != nil {
					t.Errorf("CreateTip(%s): %v", id, err)
					return
				}
				if err := s.Tips.AddItems(ctx, id, []pista.Item{{Kind: pista.KindReply, Object: id + "r", Size: 1, AuthorID: n.bob.ID}}); err != nil {
					t.Errorf("AddItems(%s): %v", id, err)
				}
				if err := s.Tips.MarkRead(ctx, n.alice.ID, id); err != nil {
					t.Errorf("MarkRead(%s): %v", id, err)
				}
				if _, err := s.Tips.ConversationsFor(ctx, n.bob.ID, pista.Page{Limit: 10}); err != nil {
					t.Errorf("ConversationsFor: %v", err)
				}
			}
		})
	}
	wg.Wait()
	cs, err := s.Tips.ConversationsFor(ctx, n.alice.ID, pista.Page{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != writers*tips {
		t.Errorf("%d conversations after concurrent writes, want %d", len(cs), writers*tips)
	}
	for _, c := range cs {
		if c.Items != 2 || c.Unread {
			t.Errorf("conversation %s: %d items, unread %v; want 2, read", c.ID, c.Items, c.Unread)
		}
	}
}

func testDeskAliases(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)

	for _, a := range []string{"Tips", "signal-americas"} {
		if err := s.Desks.AddAlias(ctx, n.americas.ID, a); err != nil {
			t.Fatalf("AddAlias(%s): %v", a, err)
		}
	}
	if err := s.Desks.AddAlias(ctx, n.maghreb.ID, "afrique"); err != nil {
		t.Fatalf("AddAlias(afrique): %v", err)
	}

	t.Run("Aliases", func(t *testing.T) {
		got, err := s.Desks.Aliases(ctx, n.americas.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"signal-americas", "tips"}; !slices.Equal(got, want) {
			t.Errorf("Aliases(americas) = %v, want %v (lowercase, sorted)", got, want)
		}
		if got, err := s.Desks.Aliases(ctx, n.maghreb.ID); err != nil || !slices.Equal(got, []string{"afrique"}) {
			t.Errorf("Aliases(maghreb) = %v, %v; want [afrique]", got, err)
		}
	})

	t.Run("DeskByAddress", func(t *testing.T) {
		cases := []struct {
			local string
			want  pista.Desk
		}{
			{"americas", n.americas},
			{"AMERICAS", n.americas},
			{"tips", n.americas},
			{"TiPs", n.americas},
			{"signal-americas", n.americas},
			{"maghreb", n.maghreb},
			{"Afrique", n.maghreb},
		}
		for _, tt := range cases {
			if got, err := s.Desks.DeskByAddress(ctx, tt.local); err != nil || got != tt.want {
				t.Errorf("DeskByAddress(%s) = %+v, %v; want %+v", tt.local, got, err, tt.want)
			}
		}
		for _, local := range []string{"europe", "tip", "", "americas2"} {
			_, err := s.Desks.DeskByAddress(ctx, local)
			isNotFound(t, fmt.Sprintf("DeskByAddress(%q)", local), err)
		}
	})

	t.Run("AddAlias refused", func(t *testing.T) {
		cases := []struct {
			name  string
			desk  int64
			local string
			want  error
		}{
			{"own slug", n.americas.ID, "americas", pista.ErrExists},
			{"other desk's slug", n.americas.ID, "Maghreb", pista.ErrExists},
			{"own alias", n.americas.ID, "TIPS", pista.ErrExists},
			{"other desk's alias", n.maghreb.ID, "tips", pista.ErrExists},
			{"unknown desk", 99999, "nowhere", pista.ErrNotFound},
		}
		for _, tt := range cases {
			if err := s.Desks.AddAlias(ctx, tt.desk, tt.local); !errors.Is(err, tt.want) {
				t.Errorf("%s: AddAlias(%s) = %v, want %v", tt.name, tt.local, err, tt.want)
			}
		}
		if got, _ := s.Desks.Aliases(ctx, n.maghreb.ID); !slices.Equal(got, []string{"afrique"}) {
			t.Errorf("refused aliases changed maghreb's: %v", got)
		}
		if got, _ := s.Desks.DeskByAddress(ctx, "nowhere"); got.ID != 0 {
			t.Errorf("alias of an unknown desk was stored: %+v", got)
		}
	})

	t.Run("CreateDesk with an alias as slug", func(t *testing.T) {
		dave := n.journalist(t, "dave")
		d := pista.Desk{Slug: "tips", Title: "Tips", Recipient: "age1pq1tips"}
		err := s.Desks.CreateDesk(ctx, &d, []pista.KeyWrap{{JournalistID: dave.ID, Wrapped: []byte("w")}})
		if !errors.Is(err, pista.ErrExists) {
			t.Fatalf("CreateDesk(tips) = %v, want pista.ErrExists", err)
		}
		if d.ID != 0 {
			t.Errorf("failed CreateDesk set ID %d", d.ID)
		}
		if desks, _ := s.Desks.DesksOf(ctx, dave.ID); len(desks) != 0 {
			t.Errorf("failed CreateDesk left memberships: %+v", desks)
		}
		_, err = s.Desks.DeskBySlug(ctx, "tips")
		isNotFound(t, "DeskBySlug(tips)", err)
		if got, err := s.Desks.DeskByAddress(ctx, "tips"); err != nil || got != n.americas {
			t.Errorf("DeskByAddress(tips) = %+v, %v; want americas", got, err)
		}
	})
}

func testNotify(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)

	if n.alice.NotifyEmail != "" || n.alice.NotifyWebhook != "" || n.alice.NotifiedItem != 0 {
		t.Errorf("new journalist: %+v, want no notification", n.alice)
	}
	list := func(t *testing.T) []string {
		t.Helper()
		js, err := s.Journalists.JournalistsToNotify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ids(js, func(j pista.Journalist) string { return j.Name })
	}
	if got := list(t); len(got) != 0 {
		t.Errorf("JournalistsToNotify = %v, want none", got)
	}

	// carol first: the list is by ID, not by when notification was set.
	if err := s.Journalists.SetNotify(ctx, n.carol.ID, "", "https://hooks.example/carol"); err != nil {
		t.Fatal(err)
	}
	if err := s.Journalists.SetNotify(ctx, n.alice.ID, "alice@example.org", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Journalists.SetNotify(ctx, n.bob.ID, "bob@example.org", "https://hooks.example/bob"); err != nil {
		t.Fatal(err)
	}
	if got, want := list(t), []string{"alice", "bob", "carol"}; !slices.Equal(got, want) {
		t.Errorf("JournalistsToNotify = %v, want %v", got, want)
	}
	isNotFound(t, "SetNotify(unknown)", s.Journalists.SetNotify(ctx, 99999, "x@example.org", ""))

	if err := s.Journalists.SetNotified(ctx, n.bob.ID, 42); err != nil {
		t.Fatal(err)
	}
	want := n.bob
	want.NotifyEmail, want.NotifyWebhook, want.NotifiedItem = "bob@example.org", "https://hooks.example/bob", 42
	if got, err := s.Journalists.JournalistByID(ctx, n.bob.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("JournalistByID(bob) = %+v, %v; want %+v", got, err, want)
	}
	if got, err := s.Journalists.JournalistByName(ctx, "bob"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("JournalistByName(bob) = %+v, %v; want %+v", got, err, want)
	}
	js, err := s.Journalists.JournalistsToNotify(ctx)
	if err != nil || len(js) != 3 || !reflect.DeepEqual(js[1], want) {
		t.Errorf("JournalistsToNotify = %+v, %v; want bob second as %+v", js, err, want)
	}

	// Clearing both takes a journalist off the list; SetNotify keeps
	// NotifiedItem.
	if err := s.Journalists.SetNotify(ctx, n.bob.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	if got, want := list(t), []string{"alice", "carol"}; !slices.Equal(got, want) {
		t.Errorf("JournalistsToNotify after clearing bob = %v, want %v", got, want)
	}
	if got, _ := s.Journalists.JournalistByID(ctx, n.bob.ID); got.NotifyEmail != "" || got.NotifyWebhook != "" || got.NotifiedItem != 42 {
		t.Errorf("bob after clearing: %+v", got)
	}
	if got, _ := s.Journalists.JournalistByID(ctx, n.alice.ID); got.NotifyEmail != "alice@example.org" || got.NotifiedItem != 0 {
		t.Errorf("alice changed with bob: %+v", got)
	}
}

func testChannels(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := func(t *testing.T, id string, ch pista.Channel, kinds ...pista.ItemKind) (*pista.NewTip, error) {
		t.Helper()
		nt := &pista.NewTip{
			Conversation: pista.Conversation{ID: id, Channel: ch, DeskID: n.americas.ID},
			Source:       pista.Source{Lookup: []byte("lookup-" + id), Recipient: "age1pq1source"},
			Items:        n.items(kinds...),
		}
		return nt, s.Tips.CreateTip(ctx, nt)
	}
	cases := []struct {
		id   string
		in   pista.Channel
		want pista.Channel
	}{
		{"by-default", "", pista.ChannelWeb},
		{"by-web", pista.ChannelWeb, pista.ChannelWeb},
		{"by-email", pista.ChannelEmail, pista.ChannelEmail},
		{"by-api", pista.ChannelAPI, pista.ChannelAPI},
	}
	sources := map[string]int64{}
	for _, tt := range cases {
		nt, err := tip(t, tt.id, tt.in, pista.KindEmail, pista.KindMessage)
		if err != nil {
			t.Fatalf("CreateTip(%s): %v", tt.id, err)
		}
		if nt.Conversation.Channel != tt.want {
			t.Errorf("CreateTip(%s) set Channel %q, want %q", tt.id, nt.Conversation.Channel, tt.want)
		}
		sources[tt.id] = nt.Source.ID
	}
	inbox, err := s.Tips.ConversationsFor(ctx, n.alice.ID, pista.Page{})
	if err != nil {
		t.Fatal(err)
	}
	inInbox := map[string]pista.Channel{}
	for _, c := range inbox {
		inInbox[c.ID] = c.Channel
	}
	for _, tt := range cases {
		t.Run(tt.id, func(t *testing.T) {
			if got := inInbox[tt.id]; got != tt.want {
				t.Errorf("ConversationsFor: Channel %q, want %q", got, tt.want)
			}
			if c, err := s.Tips.ConversationFor(ctx, n.bob.ID, tt.id); err != nil || c.Channel != tt.want {
				t.Errorf("ConversationFor = %q, %v; want %q", c.Channel, err, tt.want)
			}
			cs, err := s.Tips.ConversationsOfSource(ctx, sources[tt.id])
			if err != nil || len(cs) != 1 || cs[0].Channel != tt.want {
				t.Errorf("ConversationsOfSource = %+v, %v; want one with Channel %q", cs, err, tt.want)
			}
			items, err := s.Tips.ItemsOfConversation(ctx, tt.id)
			if err != nil || len(items) != 2 || items[0].Kind != pista.KindEmail {
				t.Errorf("ItemsOfConversation = %+v, %v; want an e-mail item first", items, err)
			}
		})
	}
	t.Run("unknown channel", func(t *testing.T) {
		if _, err := tip(t, "by-pigeon", "pigeon", pista.KindMessage); err == nil {
			t.Error("CreateTip from an unknown channel succeeded")
		}
		_, err := s.Tips.ConversationFor(ctx, n.alice.ID, "by-pigeon")
		isNotFound(t, "failed CreateTip's conversation", err)
	})
}

func testNewSourceItems(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	check := func(t *testing.T, who pista.Journalist, after int64, wantConvs int, wantNewest int64) {
		t.Helper()
		convs, newest, err := s.Tips.NewSourceItems(ctx, who.ID, after)
		if err != nil {
			t.Fatal(err)
		}
		if convs != wantConvs || newest != wantNewest {
			t.Errorf("NewSourceItems(%s, %d) = %d, %d; want %d, %d", who.Name, after, convs, newest, wantConvs, wantNewest)
		}
	}
	check(t, n.alice, 0, 0, 0)

	a := n.tip(t, n.americas, pista.KindMessage, pista.KindFile)
	b := n.tip(t, n.americas, pista.KindEmail)
	m := n.tip(t, n.maghreb, pista.KindMessage)
	reply := n.add(t, a.Conversation.ID, pista.Item{Kind: pista.KindReply, Object: "reply-1", Size: 1, AuthorID: n.alice.ID},
		// A file sent with the reply is the newsroom's too.
		pista.Item{Kind: pista.KindFile, Object: "reply-file-1", Meta: "reply-file-1m", Size: 1, MetaSize: 1, AuthorID: n.alice.ID})
	mark := reply[1].ID // the newest item of all

	t.Run("from the start", func(t *testing.T) {
		check(t, n.alice, 0, 2, b.Items[0].ID)
		check(t, n.bob, 0, 2, b.Items[0].ID)
		check(t, n.carol, 0, 1, m.Items[0].ID)
	})
	t.Run("part of the history", func(t *testing.T) {
		check(t, n.alice, a.Items[0].ID, 2, b.Items[0].ID)
		check(t, n.alice, a.Items[1].ID, 1, b.Items[0].ID)
		check(t, n.carol, b.Items[0].ID, 1, m.Items[0].ID)
	})
	t.Run("replies do not count", func(t *testing.T) {
		check(t, n.alice, b.Items[0].ID, 0, b.Items[0].ID)
		check(t, n.alice, mark, 0, mark)
		check(t, n.carol, mark, 0, mark)
	})
	t.Run("later items", func(t *testing.T) {
		added := n.add(t, a.Conversation.ID, n.items(pista.KindMessage, pista.KindContact)...)
		other := n.tip(t, n.maghreb)
		check(t, n.alice, mark, 1, added[1].ID)
		check(t, n.carol, mark, 1, other.Items[0].ID)
		c := n.tip(t, n.americas)
		check(t, n.bob, mark, 2, c.Items[0].ID)
		check(t, n.bob, c.Items[0].ID, 0, c.Items[0].ID)
	})
	t.Run("unknown journalist", func(t *testing.T) {
		check(t, pista.Journalist{ID: 99999, Name: "nobody"}, 0, 0, 0)
	})
}

func testDeskTexts(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	es := pista.DeskText{Lang: "es", Title: "Américas", Description: "Noticias de las Américas"}
	if err := s.Desks.SetDeskText(ctx, n.americas.ID, es); err != nil {
		t.Fatal(err)
	}
	ar := pista.DeskText{Lang: "ar", Title: "المغرب العربي"}
	if err := s.Desks.SetDeskText(ctx, n.maghreb.ID, ar); err != nil {
		t.Fatal(err)
	}
	got, err := s.Desks.DeskTexts(ctx, "es")
	if err != nil || len(got) != 1 || got[n.americas.ID] != es {
		t.Fatalf("DeskTexts(es) = %v, %v; want only americas' %v", got, err, es)
	}
	// Setting again replaces.
	es.Title = "Las Américas"
	s.Desks.SetDeskText(ctx, n.americas.ID, es)
	if got, _ := s.Desks.DeskTexts(ctx, "es"); got[n.americas.ID].Title != "Las Américas" {
		t.Fatalf("after a second SetDeskText: %v", got)
	}
	if got, _ := s.Desks.DeskTexts(ctx, "fr"); len(got) != 0 {
		t.Fatalf("DeskTexts(fr) = %v, want none", got)
	}
	isNotFound(t, "SetDeskText(unknown desk)", s.Desks.SetDeskText(ctx, 9999, es))
}

func testNewsroomTexts(t *testing.T, s Stores) {
	ctx := context.Background()
	if got, err := s.Settings.NewsroomText(ctx, "fr"); err != nil || got != (pista.NewsroomText{Lang: "fr"}) {
		t.Fatalf("NewsroomText before any = %v, %v", got, err)
	}
	fr := pista.NewsroomText{Lang: "fr", Name: "Le Quotidien", Intro: "Envoyez-nous vos informations."}
	if err := s.Settings.SetNewsroomText(ctx, fr); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Settings.NewsroomText(ctx, "fr"); got != fr {
		t.Fatalf("NewsroomText(fr) = %v, want %v", got, fr)
	}
	fr.Intro = ""
	s.Settings.SetNewsroomText(ctx, fr)
	if got, _ := s.Settings.NewsroomText(ctx, "fr"); got != fr {
		t.Fatalf("after replacing: %v, want %v", got, fr)
	}
	if got, _ := s.Settings.NewsroomText(ctx, "es"); got.Name != "" {
		t.Fatalf("NewsroomText(es) = %v, want empty", got)
	}
}

func testEncryptedBy(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas)
	more := n.items(pista.KindMessage, pista.KindFile)
	more[0].EncryptedBy, more[1].EncryptedBy = "browser", "app"
	n.add(t, tip.Conversation.ID, more...)
	items, err := s.Tips.ItemsOfConversation(ctx, tip.Conversation.ID)
	if err != nil || len(items) != 3 {
		t.Fatalf("ItemsOfConversation = %d items, %v", len(items), err)
	}
	for i, want := range []string{"server", "browser", "app"} {
		if items[i].EncryptedBy != want {
			t.Errorf("item %d EncryptedBy = %q, want %q", i, items[i].EncryptedBy, want)
		}
	}
	bad := n.items(pista.KindMessage)
	bad[0].EncryptedBy = "somewhere"
	if err := s.Tips.AddItems(ctx, tip.Conversation.ID, bad); err == nil {
		t.Error("an unknown EncryptedBy was stored")
	}
}
