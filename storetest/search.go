package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/pista-tips/pista"
)

// testIndexSegments checks the desks' search indexes: only members list
// and add segments, a compaction replaces segments atomically (or changes
// nothing), the count is bounded, and the segments' objects are kept by
// the sweep.
func testIndexSegments(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	segIDs := func(gs []pista.IndexSegment) []string {
		return ids(gs, func(g pista.IndexSegment) string { return g.ID })
	}

	if gs, err := s.Tips.IndexSegments(ctx, n.alice.ID, n.americas.ID); err != nil || len(gs) != 0 {
		t.Fatalf("IndexSegments of a new desk = %v, %v", gs, err)
	}
	var added []pista.IndexSegment
	for i, obj := range []string{"ix-1", "ix-2", "ix-3"} {
		g := pista.IndexSegment{DeskID: n.americas.ID, Object: obj, Size: int64(100 * (i + 1)), AuthorID: n.alice.ID}
		replaced, err := s.Tips.AddIndexSegment(ctx, n.alice.ID, &g, nil)
		if err != nil || len(replaced) != 0 {
			t.Fatalf("AddIndexSegment(%s) = %v, %v", obj, replaced, err)
		}
		if g.ID == "" || g.Created.IsZero() || !g.Created.Equal(g.Created.Truncate(pista.TimeGranularity)) {
			t.Errorf("AddIndexSegment set ID %q, Created %v", g.ID, g.Created)
		}
		added = append(added, g)
	}
	if added[0].ID == added[1].ID {
		t.Errorf("two segments share ID %q", added[0].ID)
	}
	// bob, on the desk too, sees them, oldest first, as stored.
	gs, err := s.Tips.IndexSegments(ctx, n.bob.ID, n.americas.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(segIDs(gs), segIDs(added)) {
		t.Fatalf("IndexSegments = %v, want %v", segIDs(gs), segIDs(added))
	}
	if gs[1].Object != "ix-2" || gs[1].Size != 200 || gs[1].AuthorID != n.alice.ID || gs[1].DeskID != n.americas.ID {
		t.Errorf("segment = %+v", gs[1])
	}

	// carol is not on americas: nothing, whichever way she asks.
	_, err = s.Tips.IndexSegments(ctx, n.carol.ID, n.americas.ID)
	isNotFound(t, "IndexSegments of another desk", err)
	other := pista.IndexSegment{DeskID: n.americas.ID, Object: "ix-carol", Size: 1, AuthorID: n.carol.ID}
	_, err = s.Tips.AddIndexSegment(ctx, n.carol.ID, &other, nil)
	isNotFound(t, "AddIndexSegment to another desk", err)
	other = pista.IndexSegment{DeskID: n.maghreb.ID, Object: "ix-carol", Size: 1, AuthorID: n.carol.ID}
	_, err = s.Tips.AddIndexSegment(ctx, n.carol.ID, &other, []string{added[0].ID})
	isNotFound(t, "a compaction of another desk's segments", err)
	if gs, _ := s.Tips.IndexSegments(ctx, n.carol.ID, n.maghreb.ID); len(gs) != 0 {
		t.Errorf("a refused compaction stored %v", gs)
	}
	_, err = s.Tips.DeskItemsFor(ctx, n.carol.ID, n.americas.ID, 0, 10)
	isNotFound(t, "DeskItemsFor another desk", err)

	// A compaction replaces the first two with one segment, atomically.
	c := pista.IndexSegment{DeskID: n.americas.ID, Object: "ix-12", Size: 250, AuthorID: n.bob.ID}
	replaced, err := s.Tips.AddIndexSegment(ctx, n.bob.ID, &c, []string{added[0].ID, added[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(replaced, func(g pista.IndexSegment) string { return g.Object }); !slices.Equal(got, []string{"ix-1", "ix-2"}) {
		t.Errorf("replaced objects %v, want ix-1 ix-2", got)
	}
	gs, _ = s.Tips.IndexSegments(ctx, n.alice.ID, n.americas.ID)
	if !slices.Equal(segIDs(gs), []string{added[2].ID, c.ID}) {
		t.Errorf("after compacting: %v, want %v", segIDs(gs), []string{added[2].ID, c.ID})
	}
	// A second browser compacting the same segments finds them gone, and
	// changes nothing.
	late := pista.IndexSegment{DeskID: n.americas.ID, Object: "ix-late", Size: 250, AuthorID: n.alice.ID}
	_, err = s.Tips.AddIndexSegment(ctx, n.alice.ID, &late, []string{added[2].ID, added[0].ID})
	isNotFound(t, "a compaction of segments already replaced", err)
	gs, _ = s.Tips.IndexSegments(ctx, n.alice.ID, n.americas.ID)
	if !slices.Equal(segIDs(gs), []string{added[2].ID, c.ID}) {
		t.Errorf("a failed compaction changed the index: %v", segIDs(gs))
	}

	// The segments' objects are in use: the sweep keeps them.
	keys, err := s.Tips.ObjectKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !keys["ix-3"] || !keys["ix-12"] || keys["ix-1"] || keys["ix-late"] {
		t.Errorf("ObjectKeys = %v, want ix-3 and ix-12 and not ix-1 or ix-late", keys)
	}

	// At most MaxIndexSegments per desk, even added at once; a compaction
	// makes room.
	var wg sync.WaitGroup
	var mu sync.Mutex
	full := 0
	for range pista.MaxIndexSegments {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := pista.IndexSegment{DeskID: n.americas.ID, Object: "ix-many", Size: 1}
			_, err := s.Tips.AddIndexSegment(ctx, n.alice.ID, &g, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, pista.ErrIndexFull):
				full++
			case err != nil:
				t.Errorf("AddIndexSegment: %v", err)
			}
		}()
	}
	wg.Wait()
	gs, _ = s.Tips.IndexSegments(ctx, n.alice.ID, n.americas.ID)
	if len(gs) != pista.MaxIndexSegments || full != 2 {
		t.Errorf("%d segments, %d refused; want %d, 2", len(gs), full, pista.MaxIndexSegments)
	}
	g := pista.IndexSegment{DeskID: n.americas.ID, Object: "ix-all", Size: 1}
	replaced, err = s.Tips.AddIndexSegment(ctx, n.alice.ID, &g, segIDs(gs))
	if err != nil || len(replaced) != pista.MaxIndexSegments {
		t.Errorf("compacting a full index: %d replaced, %v", len(replaced), err)
	}
	gs, _ = s.Tips.IndexSegments(ctx, n.alice.ID, n.americas.ID)
	if !slices.Equal(segIDs(gs), []string{g.ID}) {
		t.Errorf("after compacting a full index: %v, want %v", segIDs(gs), g.ID)
	}
}

// testDeskItemsFor checks that DeskItemsFor walks one desk's items in the
// order of ItemsFor, from a cursor.
func testDeskItemsFor(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	// Items of another desk come between: they are skipped.
	both := n.journalist(t, "dora")
	am := n.desk(t, "europe", both)
	a1 := n.tip(t, am, pista.KindMessage, pista.KindFile)
	n.tip(t, n.maghreb)
	a2 := n.add(t, a1.Conversation.ID, n.items(pista.KindReply)...)
	a3 := n.tip(t, am, pista.KindContact)
	want := itemIDs(slices.Concat(a1.Items, a2, a3.Items))
	got, err := s.Tips.DeskItemsFor(ctx, both.ID, am.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(itemIDs(got), want) {
		t.Fatalf("DeskItemsFor(0) = %v, want %v", itemIDs(got), want)
	}
	if got[0].ConversationID != a1.Conversation.ID || got[1].Meta == "" {
		t.Errorf("DeskItemsFor items = %+v", got[:2])
	}
	got, _ = s.Tips.DeskItemsFor(ctx, both.ID, am.ID, want[1], 2)
	if !slices.Equal(itemIDs(got), want[2:4]) {
		t.Errorf("DeskItemsFor(after 2nd, 2) = %v, want %v", itemIDs(got), want[2:4])
	}
	got, _ = s.Tips.DeskItemsFor(ctx, both.ID, am.ID, want[3], 10)
	if len(got) != 0 {
		t.Errorf("DeskItemsFor(after last) = %v", itemIDs(got))
	}
	got, _ = s.Tips.DeskItemsFor(ctx, both.ID, am.ID, 12345, 10)
	if len(got) != 0 {
		t.Errorf("DeskItemsFor(not a cursor) = %v", itemIDs(got))
	}
	_, err = s.Tips.DeskItemsFor(ctx, n.alice.ID, am.ID, 0, 10)
	isNotFound(t, "DeskItemsFor a desk one is not on", err)
}
