package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/pista-tips/pista"
)

// ObjectsInUse answers, of the keys it is given, those an item refers
// to, as object or as meta, or a search index segment, and nothing else,
// however many keys.
func testObjectsInUse(t *testing.T, s Stores) {
	ctx := context.Background()
	if used, err := s.Tips.ObjectsInUse(ctx, []string{"00000000000000000000000000000000"}); err != nil || len(used) != 0 {
		t.Fatalf("ObjectsInUse of an empty store = %v, %v", used, err)
	}
	n := newNewsroom(t, s)
	a := n.tip(t, n.americas, pista.KindMessage, pista.KindFile)
	b := n.tip(t, n.maghreb, pista.KindContact)
	var want []string
	for _, it := range slices.Concat(a.Items, b.Items) {
		want = append(want, it.Object)
		if it.Meta != "" {
			want = append(want, it.Meta)
		}
	}
	if len(want) != 4 {
		t.Fatalf("the tips have %d keys, want 4", len(want))
	}
	// More keys than one batch of a query, the used ones among them.
	var ask []string
	for i := range 25000 {
		ask = append(ask, fmt.Sprintf("%032x", i))
	}
	ask = append(ask, want[1:]...)
	used, err := s.Tips.ObjectsInUse(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	if len(used) != len(want)-1 {
		t.Errorf("ObjectsInUse = %v, want %v", used, want[1:])
	}
	for _, k := range want[1:] {
		if !used[k] {
			t.Errorf("ObjectsInUse lacks %q", k)
		}
	}
	// A search index segment's object is in use too: the sweep must not
	// take it for an orphan.
	seg := pista.IndexSegment{DeskID: n.americas.ID, Object: "ffffffffffffffffffffffffffffff01", Size: 10, AuthorID: n.alice.ID}
	if _, err := s.Tips.AddIndexSegment(ctx, n.alice.ID, &seg, nil); err != nil {
		t.Fatal(err)
	}
	if used, err := s.Tips.ObjectsInUse(ctx, []string{seg.Object, ask[0]}); err != nil || len(used) != 1 || !used[seg.Object] {
		t.Errorf("ObjectsInUse of a segment's object = %v, %v", used, err)
	}
	if used, err := s.Tips.ObjectsInUse(ctx, nil); err != nil || len(used) != 0 {
		t.Errorf("ObjectsInUse(nil) = %v, %v", used, err)
	}
}

// DoomedObjects lists the objects of every item deleted (a reply, a
// conversation and its items) or given another object (a sort), and of
// every index segment replaced, from the transaction that did it;
// nothing of a change that failed, nothing still named; ForgetDoomed
// drops them.
func testDoomedObjects(t *testing.T, s Stores) {
	ctx := context.Background()
	doomed := func() []string {
		t.Helper()
		keys, err := s.Tips.DoomedObjects(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		return keys
	}
	if got := doomed(); len(got) != 0 {
		t.Fatalf("DoomedObjects of an empty store = %v", got)
	}
	n := newNewsroom(t, s)
	gone := n.tip(t, n.americas, pista.KindMessage, pista.KindFile)
	kept := n.tip(t, n.americas, pista.KindMessage)
	if _, err := s.Tips.DeleteConversation(ctx, n.bob.ID, gone.Conversation.ID); err != nil {
		t.Fatal(err)
	}
	want := []string{gone.Items[0].Object, gone.Items[1].Object, gone.Items[1].Meta}
	if gone.Items[1].Meta == "" {
		t.Fatal("the file has no meta object")
	}
	// A refused deletion records nothing.
	if _, err := s.Tips.DeleteConversation(ctx, n.carol.ID, kept.Conversation.ID); err == nil {
		t.Fatal("carol deleted a conversation of a desk she is not in")
	}
	slices.Sort(want)
	if got := doomed(); !slices.Equal(got, want) {
		t.Errorf("DoomedObjects after deleting a conversation = %v, want its items' objects and meta %v", got, want)
	}

	// A sort's swap dooms the old object, not the new one.
	if err := setKey(ctx, s, n.alice.ID, kept.Conversation.ID, "age1pq1kept", []byte("key of kept")); err != nil {
		t.Fatal(err)
	}
	it := kept.Items[0]
	if done, err := s.Tips.Sort(ctx, n.alice.ID, []pista.Sorted{{Item: it.ID, OldObject: it.Object, NewObject: "new-" + it.Object, NewSize: 1}}); err != nil || len(done) != 1 {
		t.Fatalf("Sort = %v, %v", done, err)
	}
	want = append(want, it.Object)
	slices.Sort(want)
	if got := doomed(); !slices.Equal(got, want) {
		t.Errorf("DoomedObjects after a sort = %v, want %v", got, want)
	}

	// A replaced index segment.
	seg := pista.IndexSegment{DeskID: n.americas.ID, Object: "ffffffffffffffffffffffffffffff02", Size: 10, AuthorID: n.alice.ID}
	if _, err := s.Tips.AddIndexSegment(ctx, n.alice.ID, &seg, nil); err != nil {
		t.Fatal(err)
	}
	next := pista.IndexSegment{DeskID: n.americas.ID, Object: "ffffffffffffffffffffffffffffff03", Size: 10, AuthorID: n.alice.ID}
	if _, err := s.Tips.AddIndexSegment(ctx, n.alice.ID, &next, []string{seg.ID}); err != nil {
		t.Fatal(err)
	}
	want = append(want, seg.Object)
	slices.Sort(want)
	if got := doomed(); !slices.Equal(got, want) {
		t.Errorf("DoomedObjects after a segment was replaced = %v, want %v", got, want)
	}

	if err := s.Tips.ForgetDoomed(ctx, want[:2]); err != nil {
		t.Fatal(err)
	}
	if got := doomed(); !slices.Equal(got, want[2:]) {
		t.Errorf("DoomedObjects after forgetting two = %v, want %v", got, want[2:])
	}
	if got, err := s.Tips.DoomedObjects(ctx, 1); err != nil || len(got) != 1 {
		t.Errorf("DoomedObjects(limit 1) = %v, %v", got, err)
	}
}
