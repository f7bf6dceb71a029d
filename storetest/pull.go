package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pista-tips/pista"
)

// testPullSkipsNothing pulls incrementally (ItemsFor after the last item
// got) while writers add items side by side, as `pista pull` does on a
// busy instance: every item must arrive, once. A backend whose item IDs
// can become visible out of order (a transaction that took a lower ID
// committing after one that took a higher) would skip the lower one
// for good.
func testPullSkipsNothing(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	const writers, rounds = 6, 15
	ids := make([]string, writers)
	for w := range writers {
		ids[w] = n.tip(t, n.americas).Conversation.ID
	}
	want := map[int64]bool{}
	var mu sync.Mutex
	var done atomic.Bool
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				items := []pista.Item{
					{Kind: pista.KindMessage, Object: fmt.Sprintf("p%d-%d-a", w, i), Size: 1},
					{Kind: pista.KindFile, Object: fmt.Sprintf("p%d-%d-b", w, i), Size: 1},
				}
				if err := s.Tips.AddItems(ctx, ids[w], items); err != nil {
					t.Errorf("AddItems: %v", err)
					return
				}
				mu.Lock()
				for _, it := range items {
					want[it.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	got := map[int64]int{}
	var after int64
	pull := func() {
		for {
			page, err := s.Tips.ItemsFor(ctx, n.alice.ID, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				return
			}
			for _, it := range page {
				got[it.ID]++
			}
			after = page[len(page)-1].ID
		}
	}
	go func() { wg.Wait(); done.Store(true) }()
	for !done.Load() {
		pull()
	}
	pull()
	for id := range want {
		if got[id] != 1 {
			t.Errorf("item %d pulled %d times, want once", id, got[id])
		}
	}
}
