package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/pista-tips/pista"
)

// Forward secrecy (pista.Forwarder, forward.go).

// signKey is a desk key generation's signing key in these tests: any 32
// bytes (the store checks no signature).
func signKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// intakeKeys are intake keys of days, told apart by their desk key
// generation and day.
func intakeKeys(deskKeyID int64, days ...int64) []pista.IntakeKey {
	var ks []pista.IntakeKey
	for _, d := range days {
		ks = append(ks, pista.IntakeKey{Day: d, Recipient: fmt.Sprintf("age1pq1intake-%d-%d", deskKeyID, d),
			Signature: fmt.Appendf(nil, "sig-%d-%d", deskKeyID, d), Sealed: fmt.Appendf(nil, "sealed-%d-%d", deskKeyID, d)})
	}
	return ks
}

// intake adds intake keys of days for desk's current generation, as
// member, and answers their IDs by day.
func (n *newsroom) intake(t *testing.T, desk pista.Desk, member pista.Journalist, days ...int64) map[int64]int64 {
	t.Helper()
	ctx := context.Background()
	d, err := n.s.Desks.DeskByID(ctx, desk.ID)
	if err != nil {
		t.Fatal(err)
	}
	sign, err := n.s.Tips.SignKey(ctx, d.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	if sign == nil {
		sign = signKey(byte(d.KeyID))
	}
	if _, err := n.s.Tips.AddIntakeKeys(ctx, member.ID, d.KeyID, sign, intakeKeys(d.KeyID, days...)); err != nil {
		t.Fatalf("AddIntakeKeys: %v", err)
	}
	ids := map[int64]int64{}
	for _, day := range days {
		k, _, err := n.s.Tips.IntakeFor(ctx, desk.ID, day)
		if err != nil {
			t.Fatalf("IntakeFor(%s, %d): %v", desk.Slug, day, err)
		}
		ids[day] = k.ID
	}
	return ids
}

// liveDays lists the days of the live intake keys IntakeKeysFor lists to
// the journalist, as "desk/day".
func liveDays(t *testing.T, s Stores, who pista.Journalist) []string {
	t.Helper()
	ks, err := s.Tips.IntakeKeysFor(context.Background(), who.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range ks {
		out = append(out, fmt.Sprintf("%d/%d", k.DeskID, k.Day))
	}
	return out
}

// testIntakeKeys: members add the intake keys of their desk's current key
// generation, each day once; the first signing key is the generation's.
func testIntakeKeys(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	gen := n.americas.KeyID
	if k, err := s.Tips.SignKey(ctx, gen); err != nil || k != nil {
		t.Fatalf("SignKey before any intake key = %x, %v; want none", k, err)
	}
	if got, err := s.Tips.AddIntakeKeys(ctx, n.alice.ID, gen, signKey(1), intakeKeys(gen, 100, 101)); err != nil || got != 2 {
		t.Fatalf("AddIntakeKeys = %d, %v; want 2 added", got, err)
	}
	if k, err := s.Tips.SignKey(ctx, gen); err != nil || !bytes.Equal(k, signKey(1)) {
		t.Errorf("SignKey = %x, %v; want the first post's", k, err)
	}
	// Days that have a key are skipped, whoever posts them.
	if got, err := s.Tips.AddIntakeKeys(ctx, n.bob.ID, gen, signKey(1), intakeKeys(gen, 101, 102, 102)); err != nil || got != 1 {
		t.Errorf("AddIntakeKeys(101, 102, 102) = %d, %v; want only 102 added", got, err)
	}
	k, sign, err := s.Tips.IntakeFor(ctx, n.americas.ID, 101)
	if err != nil {
		t.Fatal(err)
	}
	want := intakeKeys(gen, 101)[0]
	if k.ID == 0 || k.DeskID != n.americas.ID || k.DeskKeyID != gen || k.Day != 101 || k.Recipient != want.Recipient ||
		!bytes.Equal(k.Signature, want.Signature) || !bytes.Equal(sign, signKey(1)) || k.Created.IsZero() {
		t.Errorf("IntakeFor(101) = %+v, %x; want the first post's key of day 101", k, sign)
	}
	if k.Sealed != nil {
		t.Errorf("IntakeFor answers the sealed secret, which the server has no use for")
	}
	if byID, err := s.Tips.IntakeKeyByID(ctx, k.ID); err != nil || byID.Day != 101 || byID.DeskID != n.americas.ID || byID.Recipient != want.Recipient {
		t.Errorf("IntakeKeyByID = %+v, %v", byID, err)
	}
	_, err = s.Tips.IntakeKeyByID(ctx, 1<<40)
	isNotFound(t, "IntakeKeyByID(unknown)", err)
	_, _, err = s.Tips.IntakeFor(ctx, n.americas.ID, 103)
	isNotFound(t, "IntakeFor(a day without a key)", err)
	_, _, err = s.Tips.IntakeFor(ctx, n.maghreb.ID, 101)
	isNotFound(t, "IntakeFor(another desk's day)", err)

	// Another signing key for the generation: refused, nothing added.
	if _, err := s.Tips.AddIntakeKeys(ctx, n.alice.ID, gen, signKey(2), intakeKeys(gen, 103)); !errors.Is(err, pista.ErrSignKey) {
		t.Errorf("AddIntakeKeys with another signing key: %v, want ErrSignKey", err)
	}
	if k, _ := s.Tips.SignKey(ctx, gen); !bytes.Equal(k, signKey(1)) {
		t.Errorf("a refused signing key replaced the generation's: %x", k)
	}
	// Not a member: as if the generation did not exist.
	_, err = s.Tips.AddIntakeKeys(ctx, n.carol.ID, gen, signKey(1), intakeKeys(gen, 103))
	isNotFound(t, "AddIntakeKeys(not a member)", err)
	_, err = s.Tips.AddIntakeKeys(ctx, n.alice.ID, 1<<40, signKey(1), intakeKeys(gen, 103))
	isNotFound(t, "AddIntakeKeys(unknown generation)", err)
	if _, _, err := s.Tips.IntakeFor(ctx, n.americas.ID, 103); !errors.Is(err, pista.ErrNotFound) {
		t.Errorf("a refused post added day 103: %v", err)
	}
	if _, err := s.Tips.AddIntakeKeys(ctx, n.alice.ID, gen, signKey(1), intakeKeys(gen, make([]int64, pista.MaxIntakeKeys+1)...)); err == nil {
		t.Errorf("AddIntakeKeys took %d keys", pista.MaxIntakeKeys+1)
	}
	if got := liveDays(t, s, n.alice); !slices.Equal(got, []string{
		fmt.Sprintf("%d/100", n.americas.ID), fmt.Sprintf("%d/101", n.americas.ID), fmt.Sprintf("%d/102", n.americas.ID)}) {
		t.Errorf("IntakeKeysFor(alice) = %v", got)
	}
	ks, _ := s.Tips.IntakeKeysFor(ctx, n.bob.ID)
	for _, k := range ks {
		w := intakeKeys(gen, k.Day)[0]
		if !bytes.Equal(k.Sealed, w.Sealed) || k.Recipient != w.Recipient || !bytes.Equal(k.Signature, w.Signature) || k.DeskKeyID != gen {
			t.Errorf("IntakeKeysFor(bob): %+v, want %+v", k, w)
		}
	}
	if got := liveDays(t, s, n.carol); len(got) != 0 {
		t.Errorf("carol (maghreb) is listed americas' keys: %v", got)
	}

	// A new generation: the old one takes no more keys, IntakeFor answers
	// only the new one's, and members still list both (items wait under
	// the old ones).
	key := pista.DeskKey{Recipient: "age1pq1rotated"}
	wraps := []pista.KeyWrap{{JournalistID: n.alice.ID, Wrapped: []byte("a")}, {JournalistID: n.bob.ID, Wrapped: []byte("b")}}
	if err := s.Team.RotateDeskKey(ctx, n.americas.ID, 0, &key, wraps); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tips.AddIntakeKeys(ctx, n.alice.ID, gen, signKey(1), intakeKeys(gen, 103)); !errors.Is(err, pista.ErrNotCurrent) {
		t.Errorf("AddIntakeKeys(old generation): %v, want ErrNotCurrent", err)
	}
	_, _, err = s.Tips.IntakeFor(ctx, n.americas.ID, 101)
	isNotFound(t, "IntakeFor(a day of the old generation only)", err)
	if k, err := s.Tips.SignKey(ctx, key.ID); err != nil || k != nil {
		t.Errorf("SignKey(new generation) = %x, %v; want none yet", k, err)
	}
	if got, err := s.Tips.AddIntakeKeys(ctx, n.bob.ID, key.ID, signKey(3), intakeKeys(key.ID, 101)); err != nil || got != 1 {
		t.Fatalf("AddIntakeKeys(new generation, its own signing key) = %d, %v", got, err)
	}
	k, sign, err = s.Tips.IntakeFor(ctx, n.americas.ID, 101)
	if err != nil || k.DeskKeyID != key.ID || k.Recipient != intakeKeys(key.ID, 101)[0].Recipient || !bytes.Equal(sign, signKey(3)) {
		t.Errorf("IntakeFor(101) after the rotation = %+v, %x, %v; want the new generation's", k, sign, err)
	}
	if got := liveDays(t, s, n.alice); len(got) != 4 {
		t.Errorf("IntakeKeysFor(alice) after the rotation = %v; want both generations' 4 keys", got)
	}
}

// testIntakeItems: items and previews sealed to an intake key need a live
// one of their conversation's desk; what items say of their sealing comes
// back as it was stored, "" stored as desk and fs.
func testIntakeItems(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	am := n.intake(t, n.americas, n.alice, 10, 11)
	mg := n.intake(t, n.maghreb, n.carol, 10)

	items := n.items(pista.KindMessage, pista.KindFile, pista.KindContact)
	items[0].Sealing, items[0].IntakeKey = pista.SealingIntake, am[10]
	items[1].Sealing, items[1].IntakeKey = pista.SealingIntake, am[10]
	items[2].Received = pista.ReceivedNoForward
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: "sealed", DeskID: n.americas.ID, Preview: []byte("preview"), PreviewIntake: am[11]},
		Source:       pista.Source{Lookup: []byte("lookup-sealed"), Recipient: "age1pq1source"},
		Items:        items,
	}
	if err := s.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	reply := n.add(t, "sealed", pista.Item{Kind: pista.KindReply, Object: "reply", Size: 1, AuthorID: n.bob.ID})
	got, err := s.Tips.ItemsOfConversation(ctx, "sealed")
	if err != nil || len(got) != 4 {
		t.Fatalf("items: %+v, %v", got, err)
	}
	want := []struct {
		sealing  string
		intake   int64
		received string
	}{
		{pista.SealingIntake, am[10], pista.ReceivedForward},
		{pista.SealingIntake, am[10], pista.ReceivedForward},
		{pista.SealingDesk, 0, pista.ReceivedNoForward},
		{pista.SealingDesk, 0, pista.ReceivedForward},
	}
	for i, w := range want {
		if g := got[i]; g.Sealing != w.sealing || g.IntakeKey != w.intake || g.Received != w.received {
			t.Errorf("item %d: sealing %q, intake key %d, received %q; want %q, %d, %q", i, g.Sealing, g.IntakeKey, g.Received, w.sealing, w.intake, w.received)
		}
	}
	if !slices.EqualFunc(got, append(slices.Clone(tip.Items), reply...), func(a, b pista.Item) bool {
		return a.ID == b.ID && a.Sealing == b.Sealing && a.Received == b.Received && a.IntakeKey == b.IntakeKey
	}) {
		t.Errorf("CreateTip and AddItems set %+v %+v; the store holds %+v", tip.Items, reply, got)
	}
	for _, read := range []func() (pista.Item, error){
		func() (pista.Item, error) { return s.Tips.ItemFor(ctx, n.bob.ID, got[0].ID) },
		func() (pista.Item, error) {
			its, err := s.Tips.ItemsFor(ctx, n.bob.ID, 0, 100)
			if len(its) == 0 {
				return pista.Item{}, err
			}
			return its[0], err
		},
		func() (pista.Item, error) {
			its, err := s.Tips.DeskItemsFor(ctx, n.bob.ID, n.americas.ID, 0, 100)
			if len(its) == 0 {
				return pista.Item{}, err
			}
			return its[0], err
		},
	} {
		if it, err := read(); err != nil || it.Sealing != pista.SealingIntake || it.IntakeKey != am[10] || it.Received != pista.ReceivedForward {
			t.Errorf("an item read for a journalist: %+v, %v", it, err)
		}
	}
	c, err := s.Tips.ConversationFor(ctx, n.alice.ID, "sealed")
	if err != nil || c.PreviewIntake != am[11] || c.KeyRecipient != "" || c.Key != nil {
		t.Errorf("ConversationFor: preview intake %d, key %q %x, %v; want %d, no key", c.PreviewIntake, c.KeyRecipient, c.Key, err, am[11])
	}
	if row := inboxRow(t, s, n.bob, "sealed"); row.PreviewIntake != am[11] {
		t.Errorf("inbox row: preview intake %d, want %d", row.PreviewIntake, am[11])
	}

	// Another desk's key, or one that does not exist: the refusal of a
	// moved conversation (send it again), and nothing stored.
	other := pista.Item{Kind: pista.KindMessage, Object: "x1", Size: 1, Sealing: pista.SealingIntake, IntakeKey: mg[10]}
	if err := s.Tips.AddItems(ctx, "sealed", []pista.Item{other}); !errors.Is(err, pista.ErrMoved) {
		t.Errorf("an item sealed to another desk's intake key: %v, want ErrMoved", err)
	}
	other.IntakeKey = 1 << 40
	if err := s.Tips.AddItemsFor(ctx, "sealed", n.americas.ID, []pista.Item{other}); !errors.Is(err, pista.ErrMoved) {
		t.Errorf("an item sealed to an unknown intake key: %v, want ErrMoved", err)
	}
	bad := &pista.NewTip{
		Conversation: pista.Conversation{ID: "bad-preview", DeskID: n.americas.ID, Preview: []byte("p"), PreviewIntake: mg[10]},
		Source:       pista.Source{Lookup: []byte("lookup-bad"), Recipient: "age1pq1source"},
		Items:        n.items(pista.KindMessage),
	}
	if err := s.Tips.CreateTip(ctx, bad); !errors.Is(err, pista.ErrMoved) {
		t.Errorf("a preview sealed to another desk's intake key: %v, want ErrMoved", err)
	}
	bad.Conversation.PreviewIntake, bad.Items[0].Sealing, bad.Items[0].IntakeKey = 0, pista.SealingIntake, mg[10]
	if err := s.Tips.CreateTip(ctx, bad); !errors.Is(err, pista.ErrMoved) {
		t.Errorf("a first item sealed to another desk's intake key: %v, want ErrMoved", err)
	}
	if _, err := s.Tips.ConversationFor(ctx, n.alice.ID, "bad-preview"); !errors.Is(err, pista.ErrNotFound) {
		t.Errorf("a refused tip was stored: %v", err)
	}
	for _, it := range []pista.Item{
		{Kind: pista.KindMessage, Object: "x2", Size: 1, Sealing: pista.SealingIntake},                  // no key
		{Kind: pista.KindMessage, Object: "x3", Size: 1, Sealing: pista.SealingDesk, IntakeKey: am[10]}, // a key, not intake
		{Kind: pista.KindMessage, Object: "x4", Size: 1, Sealing: "none"},                               // unknown
		{Kind: pista.KindMessage, Object: "x5", Size: 1, Received: "yesterday"},                         // unknown
	} {
		if err := s.Tips.AddItems(ctx, "sealed", []pista.Item{it}); err == nil {
			t.Errorf("AddItems took an item sealed %q to %d, received %q", it.Sealing, it.IntakeKey, it.Received)
		}
	}
	if after, _ := s.Tips.ItemsOfConversation(ctx, "sealed"); len(after) != 4 {
		t.Errorf("refused items were stored: %d items", len(after))
	}
}

// testDestroyIntakeKeys: the secrets of past days go, but for those under
// which an item or a preview still waits; destroyed keys are never listed
// again, and their day is never made again.
func testDestroyIntakeKeys(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	am := n.intake(t, n.americas, n.alice, 10, 11, 12, 13)
	mg := n.intake(t, n.maghreb, n.carol, 10)

	items := n.items(pista.KindMessage)
	items[0].Sealing, items[0].IntakeKey = pista.SealingIntake, am[10]
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: "waiting", DeskID: n.americas.ID, Preview: []byte("preview"), PreviewIntake: am[11]},
		Source:       pista.Source{Lookup: []byte("lookup-waiting"), Recipient: "age1pq1source"},
		Items:        items,
	}
	if err := s.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Tips.DestroyIntakeKeys(ctx, 10); err != nil || got != 0 {
		t.Errorf("DestroyIntakeKeys(10) = %d, %v; want none (no day before 10)", got, err)
	}
	// Destroyed: americas' 12 and maghreb's 10. Kept: 10 (an item), 11
	// (a preview), 13 (not past).
	if got, err := s.Tips.DestroyIntakeKeys(ctx, 13); err != nil || got != 2 {
		t.Fatalf("DestroyIntakeKeys(13) = %d, %v; want 2", got, err)
	}
	a := n.americas.ID
	if got, want := liveDays(t, s, n.alice), []string{fmt.Sprintf("%d/10", a), fmt.Sprintf("%d/11", a), fmt.Sprintf("%d/13", a)}; !slices.Equal(got, want) {
		t.Errorf("live keys after DestroyIntakeKeys(13): %v, want %v", got, want)
	}
	if got := liveDays(t, s, n.carol); len(got) != 0 {
		t.Errorf("maghreb's live keys: %v, want none", got)
	}
	for _, id := range []int64{am[12], mg[10]} {
		_, err := s.Tips.IntakeKeyByID(ctx, id)
		isNotFound(t, "IntakeKeyByID(destroyed)", err)
	}
	_, _, err := s.Tips.IntakeFor(ctx, n.americas.ID, 12)
	isNotFound(t, "IntakeFor(a destroyed day)", err)
	if k, err := s.Tips.IntakeKeyByID(ctx, am[10]); err != nil || k.Day != 10 {
		t.Errorf("IntakeKeyByID(a key an item waits under) = %+v, %v", k, err)
	}
	// Nothing is sealed to a destroyed key any more.
	late := pista.Item{Kind: pista.KindMessage, Object: "late", Size: 1, Sealing: pista.SealingIntake, IntakeKey: am[12]}
	if err := s.Tips.AddItems(ctx, "waiting", []pista.Item{late}); !errors.Is(err, pista.ErrMoved) {
		t.Errorf("an item sealed to a destroyed key: %v, want ErrMoved", err)
	}
	// A destroyed day nothing refers to is made again under a new ID (an
	// instance whose clock ran ahead destroyed it early): the old ID
	// stays refused.
	d, _ := s.Desks.DeskByID(ctx, n.americas.ID)
	sign, _ := s.Tips.SignKey(ctx, d.KeyID)
	if got, err := s.Tips.AddIntakeKeys(ctx, n.bob.ID, d.KeyID, sign, intakeKeys(d.KeyID, 12)); err != nil || got != 1 {
		t.Errorf("AddIntakeKeys(a destroyed day) = %d, %v; want it made again", got, err)
	}
	if k, _, err := s.Tips.IntakeFor(ctx, n.americas.ID, 12); err != nil || k.ID == am[12] {
		t.Errorf("the day made again: %+v, %v; want a new ID", k, err)
	}
	_, err = s.Tips.IntakeKeyByID(ctx, am[12])
	isNotFound(t, "IntakeKeyByID(the destroyed ID of a day made again)", err)

	// Once sorted, nothing waits: they go too.
	if err := setKey(ctx, s, n.alice.ID, "waiting", "age1pq1conv", []byte("sealed conv key")); err != nil {
		t.Fatal(err)
	}
	sorted, err := s.Tips.Sort(ctx, n.alice.ID, []pista.Sorted{{Item: tip.Items[0].ID, OldObject: tip.Items[0].Object, NewObject: "rewrapped", NewSize: 9}})
	if err != nil || len(sorted) != 1 {
		t.Fatalf("Sort = %+v, %v", sorted, err)
	}
	if got, _ := s.Tips.DestroyIntakeKeys(ctx, 13); got != 2 {
		t.Errorf("DestroyIntakeKeys after the item was sorted: %d destroyed, want 2 (10, and 12 made again; the preview waits under 11)", got)
	}
	if err := sortPreview(ctx, s, n.bob.ID, "waiting", am[11], []byte("preview under the conversation key")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Tips.DestroyIntakeKeys(ctx, 13); got != 1 {
		t.Errorf("DestroyIntakeKeys after the preview was sorted: %d destroyed, want 1", got)
	}
	if got, want := liveDays(t, s, n.bob), []string{fmt.Sprintf("%d/13", a)}; !slices.Equal(got, want) {
		t.Errorf("live keys at the end: %v, want %v", got, want)
	}
}

// testUnsorted: what sorters rewrap is every item of the journalist's
// desks but legacy ones and those already under the conversation's key.
func testUnsorted(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	am := n.intake(t, n.americas, n.alice, 10)

	items := n.items(pista.KindMessage, pista.KindFile, pista.KindContact, pista.KindMessage)
	items[0].Sealing, items[0].IntakeKey = pista.SealingIntake, am[10]
	items[1].Received = pista.ReceivedNoForward
	items[2].Received = pista.ReceivedLegacy
	items[3].Sealing = pista.SealingConversation
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: "mixed", DeskID: n.americas.ID},
		Source:       pista.Source{Lookup: []byte("lookup-mixed"), Recipient: "age1pq1source"},
		Items:        items,
	}
	if err := s.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	other := n.tip(t, n.maghreb) // carol's
	reply := n.add(t, "mixed", pista.Item{Kind: pista.KindReply, Object: "r", Size: 1, AuthorID: n.bob.ID})
	note := n.add(t, "mixed", pista.Item{Kind: pista.KindNote, Object: "note", Size: 1, AuthorID: n.bob.ID, Received: pista.ReceivedLegacy})

	want := []int64{items[0].ID, items[1].ID, reply[0].ID}
	got, err := s.Tips.Unsorted(ctx, n.alice.ID, 0, 100)
	if err != nil || !slices.Equal(itemIDs(got), want) {
		t.Fatalf("Unsorted(alice) = %v, %v; want %v (not the legacy ones %d %d, nor the sorted %d)", itemIDs(got), err, want,
			items[2].ID, note[0].ID, items[3].ID)
	}
	if got[0].Sealing != pista.SealingIntake || got[0].IntakeKey != am[10] || got[0].Object != items[0].Object || got[1].Meta != items[1].Meta {
		t.Errorf("Unsorted's first items: %+v", got[:2])
	}
	first, err := s.Tips.Unsorted(ctx, n.bob.ID, 0, 2)
	if err != nil || !slices.Equal(itemIDs(first), want[:2]) {
		t.Errorf("Unsorted(limit 2) = %v, %v; want %v", itemIDs(first), err, want[:2])
	}
	rest, err := s.Tips.Unsorted(ctx, n.bob.ID, first[1].ID, 2)
	if err != nil || !slices.Equal(itemIDs(rest), want[2:]) {
		t.Errorf("Unsorted(after the second) = %v, %v; want %v", itemIDs(rest), err, want[2:])
	}
	if none, err := s.Tips.Unsorted(ctx, n.bob.ID, rest[0].ID, 2); err != nil || len(none) != 0 {
		t.Errorf("Unsorted(after the last) = %v, %v", itemIDs(none), err)
	}
	if got, err := s.Tips.Unsorted(ctx, n.carol.ID, 0, 100); err != nil || !slices.Equal(itemIDs(got), itemIDs(other.Items)) {
		t.Errorf("Unsorted(carol) = %v, %v; want only maghreb's %v", itemIDs(got), err, itemIDs(other.Items))
	}
	if got, err := s.Tips.Unsorted(ctx, 1<<40, 0, 100); err != nil || len(got) != 0 {
		t.Errorf("Unsorted(unknown journalist) = %v, %v", itemIDs(got), err)
	}
}

// testSort: a conversation gets one key, the first; Sort swaps only what
// is still as the sorter saw it, in a conversation with a key.
func testSort(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	am := n.intake(t, n.americas, n.alice, 10)
	items := n.items(pista.KindMessage, pista.KindFile, pista.KindMessage, pista.KindContact)
	items[0].Sealing, items[0].IntakeKey = pista.SealingIntake, am[10]
	items[1].Sealing, items[1].IntakeKey = pista.SealingIntake, am[10]
	items[2].Received = pista.ReceivedNoForward
	items[3].Received = pista.ReceivedLegacy
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: "to-sort", DeskID: n.americas.ID},
		Source:       pista.Source{Lookup: []byte("lookup-sort"), Recipient: "age1pq1source"},
		Items:        items,
	}
	if err := s.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	other := n.tip(t, n.maghreb)
	if err := setKey(ctx, s, n.carol.ID, other.Conversation.ID, "age1pq1maghreb", []byte("k")); err != nil {
		t.Fatal(err)
	}
	sorted := func(it pista.Item) pista.Sorted {
		s := pista.Sorted{Item: it.ID, OldObject: it.Object, NewObject: "new-" + it.Object, NewSize: it.Size + 1}
		if it.Meta != "" {
			s.OldMeta, s.NewMeta, s.NewMetaSize = it.Meta, "new-"+it.Meta, it.MetaSize+1
		}
		return s
	}

	// No key yet: nothing is swapped.
	if got, err := s.Tips.Sort(ctx, n.alice.ID, []pista.Sorted{sorted(items[0])}); err != nil || len(got) != 0 {
		t.Errorf("Sort before the conversation has a key = %+v, %v; want it skipped", got, err)
	}

	isNotFound(t, "SetConversationKey(not a member)", setKey(ctx, s, n.carol.ID, "to-sort", "age1pq1carol", []byte("c")))
	isNotFound(t, "SetConversationKey(unknown)", setKey(ctx, s, n.alice.ID, "nowhere", "age1pq1x", []byte("x")))
	if err := setKey(ctx, s, n.alice.ID, "to-sort", "age1pq1first", []byte("first sealed")); err != nil {
		t.Fatal(err)
	}
	if err := setKey(ctx, s, n.bob.ID, "to-sort", "age1pq1second", []byte("second sealed")); !errors.Is(err, pista.ErrExists) {
		t.Errorf("a second SetConversationKey: %v, want ErrExists", err)
	}
	c, err := s.Tips.ConversationFor(ctx, n.bob.ID, "to-sort")
	if err != nil || c.KeyRecipient != "age1pq1first" || !bytes.Equal(c.Key, []byte("first sealed")) {
		t.Errorf("ConversationFor: key %q %q, %v; want the first", c.KeyRecipient, c.Key, err)
	}
	if row := inboxRow(t, s, n.alice, "to-sort"); row.KeyRecipient != "age1pq1first" || !bytes.Equal(row.Key, []byte("first sealed")) {
		t.Errorf("inbox row: key %q %q; want the first", row.KeyRecipient, row.Key)
	}

	stale := sorted(items[2])
	stale.OldObject = "not-its-object"
	staleMeta := sorted(items[1])
	staleMeta.OldMeta = "not-its-meta"
	batch := []pista.Sorted{
		sorted(items[0]),
		staleMeta,
		stale,
		sorted(items[3]),       // legacy: never sorted
		sorted(other.Items[0]), // another desk's
		{Item: 12345, OldObject: "x", NewObject: "y"}, // no such item
	}
	if got, err := s.Tips.Sort(ctx, n.carol.ID, batch); err != nil || len(got) != 1 || got[0].Item != other.Items[0].ID {
		t.Errorf("Sort(carol) = %+v, %v; want only maghreb's item", got, err)
	}
	got, err := s.Tips.Sort(ctx, n.alice.ID, batch)
	if err != nil || len(got) != 1 || got[0] != batch[0] {
		t.Fatalf("Sort = %+v, %v; want only the first item swapped", got, err)
	}
	after, _ := s.Tips.ItemsOfConversation(ctx, "to-sort")
	if it := after[0]; it.Object != "new-"+items[0].Object || it.Size != items[0].Size+1 || it.Sealing != pista.SealingConversation ||
		it.IntakeKey != 0 || it.Received != pista.ReceivedForward {
		t.Errorf("the sorted item: %+v", it)
	}
	for i := 1; i < 4; i++ {
		if it := after[i]; it.Object != items[i].Object || it.Meta != items[i].Meta || it.Sealing != items[i].Sealing || it.IntakeKey != items[i].IntakeKey {
			t.Errorf("skipped item %d changed: %+v", i, it)
		}
	}
	// Again, as the sorter saw them now: the file (meta too) and the
	// message received without forward secrecy.
	got, err = s.Tips.Sort(ctx, n.bob.ID, []pista.Sorted{sorted(items[0]), sorted(items[1]), sorted(items[2])})
	if err != nil || len(got) != 2 || got[0].Item != items[1].ID || got[1].Item != items[2].ID {
		t.Errorf("Sort(the rest) = %+v, %v; want the file and the message, not the sorted one again", got, err)
	}
	after, _ = s.Tips.ItemsOfConversation(ctx, "to-sort")
	if it := after[1]; it.Object != "new-"+items[1].Object || it.Meta != "new-"+items[1].Meta || it.MetaSize != items[1].MetaSize+1 || it.Sealing != pista.SealingConversation {
		t.Errorf("the sorted file: %+v", it)
	}
	if it := after[2]; it.Sealing != pista.SealingConversation || it.Received != pista.ReceivedNoForward {
		t.Errorf("a sorted item received without forward secrecy: %+v; want it to say so still", it)
	}
	if left, _ := s.Tips.Unsorted(ctx, n.alice.ID, 0, 100); len(left) != 0 {
		t.Errorf("Unsorted after sorting: %v", itemIDs(left))
	}
	if _, err := s.Tips.Sort(ctx, n.alice.ID, make([]pista.Sorted, pista.MaxSortBatch+1)); err == nil {
		t.Errorf("Sort took %d items", pista.MaxSortBatch+1)
	}
}

// setKey sets one conversation key, for the desk the conversation is in
// (any desk if it is none of the journalist's), answering its error.
func setKey(ctx context.Context, s Stores, journalistID int64, id, recipient string, sealed []byte) error {
	deskID := int64(1)
	if cs, err := s.Tips.SortConversations(ctx, journalistID, []string{id}); err == nil && len(cs) == 1 {
		deskID = cs[0].DeskID
	}
	errs, err := s.Tips.SetConversationKeys(ctx, journalistID, []pista.ConversationKey{{Conversation: id, DeskID: deskID, Recipient: recipient, Sealed: sealed, Signature: convSig(id)}})
	if err != nil {
		return err
	}
	if len(errs) != 1 {
		return fmt.Errorf("SetConversationKeys answered %d errors for 1 key", len(errs))
	}
	return errs[0]
}

// convSig is a conversation key's signature in these tests: any 64
// bytes will do for a store.
func convSig(id string) []byte { return bytes.Repeat([]byte(id[:1]), 64) }

// sortPreview sorts one preview, answering its error.
func sortPreview(ctx context.Context, s Stores, journalistID int64, id string, from int64, preview []byte) error {
	errs, err := s.Tips.SortPreviews(ctx, journalistID, []pista.PreviewSort{{Conversation: id, From: from, Preview: preview}})
	if err != nil {
		return err
	}
	if len(errs) != 1 {
		return fmt.Errorf("SortPreviews answered %d errors for 1 preview", len(errs))
	}
	return errs[0]
}

// testSortBatches: one SetConversationKeys, SortConversations and
// SortPreviews answer for each of their entries, in order; a malformed
// entry or too many refuse the whole call, which then changes nothing.
func testSortBatches(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	am := n.intake(t, n.americas, n.alice, 10)
	for _, id := range []string{"b-1", "b-2", "b-3"} {
		tip := &pista.NewTip{
			Conversation: pista.Conversation{ID: id, DeskID: n.americas.ID, Preview: []byte("under intake " + id), PreviewIntake: am[10]},
			Source:       pista.Source{Lookup: []byte("lookup-" + id), Recipient: "age1pq1source"},
			Items:        n.items(pista.KindMessage),
		}
		if err := s.Tips.CreateTip(ctx, tip); err != nil {
			t.Fatal(err)
		}
	}
	other := n.tip(t, n.maghreb)
	if err := setKey(ctx, s, n.alice.ID, "b-3", "age1pq1three", []byte("key of b-3")); err != nil {
		t.Fatal(err)
	}

	// Items: the journalist's, with what ItemFor answers; not another
	// desk's, nor an unknown ID.
	mine := n.tip(t, n.americas, pista.KindMessage, pista.KindFile)
	items, err := s.Tips.SortItems(ctx, n.alice.ID, []int64{mine.Items[1].ID, other.Items[0].ID, 12345, mine.Items[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	gotItems := map[int64]pista.Item{}
	for _, it := range items {
		gotItems[it.ID] = it
	}
	if len(items) != 2 || len(gotItems) != 2 {
		t.Errorf("SortItems(alice) = %v, want her two items", itemIDs(items))
	}
	for _, want := range mine.Items {
		one, err := s.Tips.ItemFor(ctx, n.alice.ID, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := gotItems[want.ID]; !ok || !reflect.DeepEqual(got, one) {
			t.Errorf("SortItems: item %d = %+v, want what ItemFor answers, %+v", want.ID, got, one)
		}
	}
	if items, err := s.Tips.SortItems(ctx, n.carol.ID, []int64{mine.Items[0].ID}); err != nil || len(items) != 0 {
		t.Errorf("SortItems(carol, americas' item) = %v, %v; want nothing", itemIDs(items), err)
	}
	if _, err := s.Tips.SortItems(ctx, n.alice.ID, make([]int64, pista.MaxSortBatch+1)); err == nil {
		t.Errorf("SortItems took %d items", pista.MaxSortBatch+1)
	}

	// A malformed key refuses the whole batch.
	if _, err := s.Tips.SetConversationKeys(ctx, n.alice.ID, []pista.ConversationKey{
		{Conversation: "b-1", DeskID: n.americas.ID, Recipient: "age1pq1one", Sealed: []byte("key of b-1"), Signature: convSig("s")},
		{Conversation: "b-2", DeskID: n.americas.ID, Recipient: "age1pq1two"},
	}); err == nil {
		t.Error("SetConversationKeys took a key without its secret")
	}
	if _, err := s.Tips.SetConversationKeys(ctx, n.alice.ID, []pista.ConversationKey{
		{Conversation: "b-1", DeskID: n.americas.ID, Recipient: "age1pq1one", Sealed: []byte("key of b-1"), Signature: []byte("short")},
	}); err == nil {
		t.Error("SetConversationKeys took a key whose signature is not 64 bytes")
	}
	if _, err := s.Tips.SetConversationKeys(ctx, n.alice.ID, make([]pista.ConversationKey, pista.MaxSortBatch+1)); err == nil {
		t.Errorf("SetConversationKeys took %d keys", pista.MaxSortBatch+1)
	}
	got, err := s.Tips.SortConversations(ctx, n.alice.ID, []string{"b-1", "b-3", other.Conversation.ID, "nowhere"})
	if err != nil {
		t.Fatal(err)
	}
	keyOf := map[string]string{}
	for _, c := range got {
		if c.DeskID != n.americas.ID || c.DeskSlug != n.americas.Slug || c.SourceRecipient != "age1pq1source" {
			t.Errorf("SortConversations: %s in desk %d %q, source %q; want americas and its source's key", c.ID, c.DeskID, c.DeskSlug, c.SourceRecipient)
		}
		if want := map[string]string{"b-3": "key of b-3"}[c.ID]; string(c.Key) != want {
			t.Errorf("SortConversations: %s's key %q, want %q", c.ID, c.Key, want)
		}
		if want := map[string][]byte{"b-3": convSig("b-3")}[c.ID]; !bytes.Equal(c.KeySignature, want) {
			t.Errorf("SortConversations: %s's key signature %q, want %q", c.ID, c.KeySignature, want)
		}
		keyOf[c.ID] = c.KeyRecipient
	}
	if want := map[string]string{"b-1": "", "b-3": "age1pq1three"}; !maps.Equal(keyOf, want) {
		t.Errorf("SortConversations(alice) = %v, want %v (the refused batch set nothing; another desk's and unknown left out)", keyOf, want)
	}
	if _, err := s.Tips.SortConversations(ctx, n.alice.ID, make([]string, pista.MaxSortBatch+1)); err == nil {
		t.Errorf("SortConversations took %d conversations", pista.MaxSortBatch+1)
	}

	errs, err := s.Tips.SetConversationKeys(ctx, n.alice.ID, []pista.ConversationKey{
		{Conversation: "b-1", DeskID: n.americas.ID, Recipient: "age1pq1one", Sealed: []byte("key of b-1"), Signature: convSig("s")},
		{Conversation: "b-3", DeskID: n.americas.ID, Recipient: "age1pq1again", Sealed: []byte("again"), Signature: convSig("s")},
		{Conversation: other.Conversation.ID, DeskID: n.maghreb.ID, Recipient: "age1pq1maghreb", Sealed: []byte("not hers"), Signature: convSig("s")},
		{Conversation: "b-2", DeskID: n.americas.ID, Recipient: "age1pq1two", Sealed: []byte("key of b-2"), Signature: convSig("s")},
		{Conversation: "b-1", DeskID: n.americas.ID, Recipient: "age1pq1twice", Sealed: []byte("twice"), Signature: convSig("s")},
	})
	if err != nil || len(errs) != 5 {
		t.Fatalf("SetConversationKeys = %v, %v", errs, err)
	}
	for i, want := range []error{nil, pista.ErrExists, pista.ErrNotFound, nil, pista.ErrExists} {
		if (want == nil) != (errs[i] == nil) || (want != nil && !errors.Is(errs[i], want)) {
			t.Errorf("SetConversationKeys: key %d answered %v, want %v", i+1, errs[i], want)
		}
	}
	for id, want := range map[string]string{"b-1": "age1pq1one", "b-2": "age1pq1two", "b-3": "age1pq1three"} {
		if c, err := s.Tips.ConversationFor(ctx, n.bob.ID, id); err != nil || c.KeyRecipient != want {
			t.Errorf("%s's key: %q, %v; want %q", id, c.KeyRecipient, err, want)
		}
	}
	if c, _ := s.Tips.ConversationFor(ctx, n.carol.ID, other.Conversation.ID); c.KeyRecipient != "" {
		t.Errorf("another desk's conversation got a key: %q", c.KeyRecipient)
	}
	// A key checked for another desk than the conversation's now (it
	// moved after the check) is not set.
	fresh := n.tip(t, n.americas)
	key := pista.ConversationKey{Conversation: fresh.Conversation.ID, DeskID: n.maghreb.ID, Recipient: "age1pq1fresh", Sealed: []byte("k"), Signature: convSig("f")}
	if errs, err := s.Tips.SetConversationKeys(ctx, n.alice.ID, []pista.ConversationKey{key}); err != nil || !errors.Is(errs[0], pista.ErrMoved) {
		t.Errorf("SetConversationKeys for the desk it left = %v, %v; want ErrMoved", errs, err)
	}
	if c, _ := s.Tips.ConversationFor(ctx, n.alice.ID, fresh.Conversation.ID); c.KeyRecipient != "" {
		t.Errorf("a key checked for another desk was set: %q", c.KeyRecipient)
	}
	key.DeskID = 0
	if _, err := s.Tips.SetConversationKeys(ctx, n.alice.ID, []pista.ConversationKey{key}); err == nil {
		t.Error("SetConversationKeys took a key for no desk")
	}

	// Previews: one refused whole, then one answer each.
	if _, err := s.Tips.SortPreviews(ctx, n.alice.ID, []pista.PreviewSort{
		{Conversation: "b-1", From: am[10], Preview: []byte("sorted b-1")},
		{Conversation: "b-2", From: am[10]},
	}); err == nil {
		t.Error("SortPreviews took an empty preview")
	}
	errs, err = s.Tips.SortPreviews(ctx, n.bob.ID, []pista.PreviewSort{
		{Conversation: "b-2", From: am[10], Preview: []byte("sorted b-2")},
		{Conversation: "b-1", From: am[10] + 1, Preview: []byte("wrong intake key")},
		{Conversation: other.Conversation.ID, From: am[10], Preview: []byte("not his")},
		{Conversation: "b-1", From: am[10], Preview: []byte("sorted b-1")},
		{Conversation: "b-1", From: am[10], Preview: []byte("twice")},
	})
	if err != nil || len(errs) != 5 {
		t.Fatalf("SortPreviews = %v, %v", errs, err)
	}
	for i, ok := range []bool{true, false, false, true, false} {
		if ok != (errs[i] == nil) || (!ok && !errors.Is(errs[i], pista.ErrNotFound)) {
			t.Errorf("SortPreviews: preview %d answered %v, want taken %v", i+1, errs[i], ok)
		}
	}
	for id, want := range map[string]string{"b-1": "sorted b-1", "b-2": "sorted b-2", "b-3": "under intake b-3"} {
		if c, err := s.Tips.ConversationFor(ctx, n.alice.ID, id); err != nil || string(c.Preview) != want {
			t.Errorf("%s's preview: %q, %v; want %q", id, c.Preview, err, want)
		}
	}
	if _, err := s.Tips.SortPreviews(ctx, n.alice.ID, make([]pista.PreviewSort, pista.MaxSortBatch+1)); err == nil {
		t.Errorf("SortPreviews took %d previews", pista.MaxSortBatch+1)
	}
}

// testSortPreview: a preview under an intake key is listed until a sorter
// replaces it, once, under the conversation's key.
func testSortPreview(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	am := n.intake(t, n.americas, n.alice, 10, 11)
	var ids []string
	for i, id := range []string{"p-b", "p-a", "p-c"} {
		tip := &pista.NewTip{
			Conversation: pista.Conversation{ID: id, DeskID: n.americas.ID, Preview: []byte("under intake " + id), PreviewIntake: am[10+int64(i%2)]},
			Source:       pista.Source{Lookup: []byte("lookup-" + id), Recipient: "age1pq1source"},
			Items:        n.items(pista.KindMessage),
		}
		if err := s.Tips.CreateTip(ctx, tip); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	n.tip(t, n.americas) // a preview under the desk key (none at all)
	slices.Sort(ids)
	list := func(who pista.Journalist, after string, limit int) []string {
		t.Helper()
		cs, err := s.Tips.UnsortedPreviews(ctx, who.ID, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.PreviewIntake == 0 || !bytes.Equal(c.Preview, []byte("under intake "+c.ID)) || c.DeskID != n.americas.ID {
				t.Errorf("UnsortedPreviews: %+v", c)
			}
		}
		return convIDs(cs)
	}
	if got := list(n.alice, "", 10); !slices.Equal(got, ids) {
		t.Errorf("UnsortedPreviews = %v, want %v", got, ids)
	}
	if got := list(n.bob, "", 2); !slices.Equal(got, ids[:2]) {
		t.Errorf("UnsortedPreviews(limit 2) = %v, want %v", got, ids[:2])
	}
	if got := list(n.bob, ids[1], 2); !slices.Equal(got, ids[2:]) {
		t.Errorf("UnsortedPreviews(after %s) = %v, want %v", ids[1], got, ids[2:])
	}
	if got := list(n.carol, "", 10); len(got) != 0 {
		t.Errorf("UnsortedPreviews(carol) = %v", got)
	}

	c, _ := s.Tips.ConversationFor(ctx, n.alice.ID, "p-a")
	isNotFound(t, "SortPreview(no conversation key yet)", sortPreview(ctx, s, n.alice.ID, "p-a", c.PreviewIntake, []byte("new")))
	if err := setKey(ctx, s, n.alice.ID, "p-a", "age1pq1k", []byte("k")); err != nil {
		t.Fatal(err)
	}
	isNotFound(t, "SortPreview(another intake key)", sortPreview(ctx, s, n.alice.ID, "p-a", c.PreviewIntake+1, []byte("new")))
	isNotFound(t, "SortPreview(not a member)", sortPreview(ctx, s, n.carol.ID, "p-a", c.PreviewIntake, []byte("new")))
	if err := sortPreview(ctx, s, n.bob.ID, "p-a", c.PreviewIntake, []byte("under the conversation key")); err != nil {
		t.Fatal(err)
	}
	isNotFound(t, "SortPreview(again)", sortPreview(ctx, s, n.alice.ID, "p-a", c.PreviewIntake, []byte("again")))
	c, err := s.Tips.ConversationFor(ctx, n.alice.ID, "p-a")
	if err != nil || c.PreviewIntake != 0 || !bytes.Equal(c.Preview, []byte("under the conversation key")) {
		t.Errorf("after SortPreview: preview %q under %d, %v", c.Preview, c.PreviewIntake, err)
	}
	if got := list(n.alice, "", 10); !slices.Equal(got, []string{"p-b", "p-c"}) {
		t.Errorf("UnsortedPreviews after sorting p-a = %v", got)
	}
	// A sorter that made p-b's key and was cut short: the next finds it.
	if err := setKey(ctx, s, n.bob.ID, "p-b", "age1pq1b", []byte("key of p-b")); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Tips.UnsortedPreviews(ctx, n.alice.ID, "", 1)
	if err != nil || len(cs) != 1 || cs[0].ID != "p-b" || cs[0].KeyRecipient != "age1pq1b" || !bytes.Equal(cs[0].Key, []byte("key of p-b")) {
		t.Errorf("UnsortedPreviews: %+v, %v; want p-b with its key", cs, err)
	}
}

// testConversationKeyDeleted: a deleted conversation's key goes with it,
// whoever deletes it; a transfer drops the key (the new desk's sorters
// make another) and leaves the copies under the new desk's key.
func testConversationKeyDeleted(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	if err := s.Team.SetRole(ctx, n.americas.ID, n.alice.ID, pista.RoleCoordinator); err != nil {
		t.Fatal(err)
	}
	am := n.intake(t, n.americas, n.alice, 10)
	keyed := func(id string) {
		t.Helper()
		items := n.items(pista.KindMessage)
		items[0].Sealing, items[0].IntakeKey = pista.SealingIntake, am[10]
		tip := &pista.NewTip{
			Conversation: pista.Conversation{ID: id, DeskID: n.americas.ID, Preview: []byte("p"), PreviewIntake: am[10]},
			Source:       pista.Source{Lookup: []byte("lookup-" + id), Recipient: "age1pq1source"},
			Items:        items,
		}
		if err := s.Tips.CreateTip(ctx, tip); err != nil {
			t.Fatal(err)
		}
		if err := setKey(ctx, s, n.alice.ID, id, "age1pq1"+id, []byte("key of "+id)); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(id string) {
		t.Helper()
		_, err := s.Tips.ConversationFor(ctx, n.alice.ID, id)
		isNotFound(t, "ConversationFor(deleted)", err)
		isNotFound(t, "SetConversationKey(deleted)", setKey(ctx, s, n.alice.ID, id, "age1pq1again", []byte("again")))
		if ps, _ := s.Tips.UnsortedPreviews(ctx, n.alice.ID, "", 100); slices.Contains(convIDs(ps), id) {
			t.Errorf("UnsortedPreviews lists deleted %s", id)
		}
	}
	keyed("one")
	if _, err := s.Tips.DeleteConversation(ctx, n.bob.ID, "one"); err != nil {
		t.Fatal(err)
	}
	gone("one")
	keyed("bulk")
	if _, err := s.Tips.DeleteConversations(ctx, n.alice.ID, []string{"bulk"}); err != nil {
		t.Fatal(err)
	}
	gone("bulk")
	// Nothing waits under the intake key any more.
	if got, _ := s.Tips.DestroyIntakeKeys(ctx, 11); got != 1 {
		t.Errorf("DestroyIntakeKeys after the deletions: %d, want 1", got)
	}

	// A transfer: the copies are under the new desk's key, keeping how
	// each arrived; the conversation has no key and no preview under an
	// intake key.
	am = n.intake(t, n.americas, n.alice, 20)
	europe := n.desk(t, "europe", n.alice, n.carol)
	items := n.items(pista.KindMessage, pista.KindFile, pista.KindContact)
	items[0].Sealing, items[0].IntakeKey = pista.SealingIntake, am[20]
	items[1].Received = pista.ReceivedNoForward
	items[2].Received = pista.ReceivedLegacy
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: "moved", DeskID: n.americas.ID, Preview: []byte("p"), PreviewIntake: am[20]},
		Source:       pista.Source{Lookup: []byte("lookup-moved"), Recipient: "age1pq1source"},
		Items:        items,
	}
	if err := s.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	if err := setKey(ctx, s, n.alice.ID, "moved", "age1pq1moved", []byte("key of moved")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Tips.Sort(ctx, n.alice.ID, []pista.Sorted{{Item: items[1].ID, OldObject: items[1].Object, OldMeta: items[1].Meta,
		NewObject: "sorted-file", NewMeta: "sorted-meta"}}); err != nil || len(got) != 1 {
		t.Fatalf("Sort = %+v, %v", got, err)
	}
	old, _ := s.Tips.ItemsOfConversation(ctx, "moved")
	copies := make([]pista.ItemCopy, len(old))
	for i, it := range old {
		copies[i] = pista.ItemCopy{Of: it.ID, Object: "copy-" + it.Object, Size: it.Size, EncryptedBy: "browser"}
		if it.Meta != "" {
			copies[i].Meta = "copy-" + it.Meta
		}
	}
	if _, err := s.Tips.TransferConversation(ctx, n.alice.ID, "moved", n.americas.ID, europe.ID, copies); err != nil {
		t.Fatal(err)
	}
	c, err := s.Tips.ConversationFor(ctx, n.carol.ID, "moved")
	if err != nil || c.KeyRecipient != "" || c.Key != nil || c.PreviewIntake != 0 {
		t.Errorf("the moved conversation: key %q %q, preview intake %d, %v; want none", c.KeyRecipient, c.Key, c.PreviewIntake, err)
	}
	moved, _ := s.Tips.ItemsOfConversation(ctx, "moved")
	for i, it := range moved {
		if it.Sealing != pista.SealingDesk || it.IntakeKey != 0 || it.Received != old[i].Received {
			t.Errorf("copy %d: sealing %q, intake key %d, received %q; want desk, 0, %q", i, it.Sealing, it.IntakeKey, it.Received, old[i].Received)
		}
	}
	// The new desk's sorters sort the copies (but the legacy one).
	if got, err := s.Tips.Unsorted(ctx, n.carol.ID, 0, 100); err != nil || !slices.Equal(itemIDs(got), itemIDs(moved[:2])) {
		t.Errorf("Unsorted(carol) after the transfer = %v, %v; want %v", itemIDs(got), err, itemIDs(moved[:2]))
	}
	// Nothing waits under americas' key of day 20 any more.
	if got, _ := s.Tips.DestroyIntakeKeys(ctx, 21); got != 1 {
		t.Errorf("DestroyIntakeKeys after the transfer: %d, want 1", got)
	}
}

// testExpireIntakeKeys: past MaxHold, an intake key goes whatever waits
// under it (an item no sorter could open): its preview is dropped, its
// items are no longer listed for sorting, and keys of later days stay.
func testExpireIntakeKeys(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	am := n.intake(t, n.americas, n.alice, 10, 30)

	items := n.items(pista.KindMessage)
	items[0].Sealing, items[0].IntakeKey = pista.SealingIntake, am[10]
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: "stuck", DeskID: n.americas.ID, Preview: []byte("preview"), PreviewIntake: am[10]},
		Source:       pista.Source{Lookup: []byte("lookup-stuck"), Recipient: "age1pq1source"},
		Items:        items,
	}
	if err := s.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Tips.DestroyIntakeKeys(ctx, 25); got != 0 {
		t.Fatalf("DestroyIntakeKeys destroyed %d keys something waits under", got)
	}
	if u, _ := s.Tips.Unsorted(ctx, n.alice.ID, 0, 10); len(u) != 1 {
		t.Fatalf("before the expiry, %d unsorted items, want 1", len(u))
	}
	if got, err := s.Tips.ExpireIntakeKeys(ctx, 10); err != nil || got != 0 {
		t.Errorf("ExpireIntakeKeys(10) = %d, %v; want none (no day before 10)", got, err)
	}
	if got, err := s.Tips.ExpireIntakeKeys(ctx, 25); err != nil || got != 1 {
		t.Fatalf("ExpireIntakeKeys(25) = %d, %v; want 1", got, err)
	}
	_, err := s.Tips.IntakeKeyByID(ctx, am[10])
	isNotFound(t, "IntakeKeyByID(expired)", err)
	if got, want := liveDays(t, s, n.alice), []string{fmt.Sprintf("%d/30", n.americas.ID)}; !slices.Equal(got, want) {
		t.Errorf("live keys after the expiry: %v, want %v", got, want)
	}
	if u, err := s.Tips.Unsorted(ctx, n.alice.ID, 0, 10); err != nil || len(u) != 0 {
		t.Errorf("after the expiry, Unsorted = %d items, %v; want none (nobody can open them)", len(u), err)
	}
	if p, err := s.Tips.UnsortedPreviews(ctx, n.alice.ID, "", 10); err != nil || len(p) != 0 {
		t.Errorf("after the expiry, UnsortedPreviews = %d, %v; want none", len(p), err)
	}
	c, err := s.Tips.ConversationFor(ctx, n.alice.ID, "stuck")
	if err != nil {
		t.Fatal(err)
	}
	if c.Preview != nil || c.PreviewIntake != 0 {
		t.Errorf("the expired key's preview is kept: %d bytes under key %d", len(c.Preview), c.PreviewIntake)
	}
}
