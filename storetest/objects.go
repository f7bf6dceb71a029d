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
