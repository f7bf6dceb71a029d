package storetest

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pista-tips/pista"
)

// testOpaqueIDs: a journalist of one desk must not learn from what they
// see how much other desks receive. Tips to another desk arrive between
// theirs, a random number each time; the item IDs, the inbox cursors
// (LastItem) and the audit entries' IDs they see must then carry neither
// order nor gaps that follow that number. With IDs numbered across all
// desks, each gap is exactly the number of tips between, and the
// correlation is 1.
func testOpaqueIDs(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	const rounds = 60
	rng := rand.New(rand.NewPCG(1, 2))
	between := make([]int, rounds)
	var items, audits []int64
	for i := range rounds {
		between[i] = rng.IntN(20)
		for range between[i] {
			n.tip(t, n.maghreb)
			if err := s.Team.AddAudit(ctx, pista.AuditEntry{ActorID: n.carol.ID, ActorName: "carol",
				Action: pista.AuditRead, DeskID: n.maghreb.ID, ConversationID: "m"}); err != nil {
				t.Fatal(err)
			}
		}
		n.tip(t, n.americas)
		if err := s.Team.AddAudit(ctx, pista.AuditEntry{ActorID: n.alice.ID, ActorName: "alice",
			Action: pista.AuditRead, DeskID: n.americas.ID, ConversationID: "a"}); err != nil {
			t.Fatal(err)
		}
	}

	// What alice sees, oldest first: her items (as `pista pull` reads them,
	// cursor after cursor), her inbox's cursors, her desk's audit IDs.
	var after int64
	for {
		page, err := s.Tips.ItemsFor(ctx, n.alice.ID, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		items = append(items, itemIDs(page)...)
		after = page[len(page)-1].ID
	}
	var cursors []int64
	for before := int64(0); ; {
		page, err := s.Tips.ConversationsFor(ctx, n.alice.ID, pista.Page{Before: before, Limit: 9})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			cursors = append(cursors, c.LastItem)
		}
		before = page[len(page)-1].LastItem
	}
	slices.Reverse(cursors)
	for before := int64(0); ; {
		page, err := s.Team.Audit(ctx, pista.AuditQuery{DeskIDs: []int64{n.americas.ID}, Before: before, Limit: 11})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			audits = append(audits, e.ID)
		}
		before = page[len(page)-1].ID
	}
	slices.Reverse(audits)

	for _, seen := range []struct {
		what string
		ids  []int64
	}{{"item IDs", items}, {"inbox cursors", cursors}, {"audit IDs", audits}} {
		if len(seen.ids) != rounds {
			t.Errorf("%s: %d seen through the cursors, want %d", seen.what, len(seen.ids), rounds)
			continue
		}
		for _, id := range seen.ids {
			// Shown to the inbox's script: exact as a JavaScript number.
			if id <= 0 || id >= 1<<53 {
				t.Errorf("%s: %d is not in [1, 2^53)", seen.what, id)
			}
		}
		if slices.IsSorted(seen.ids) || slices.IsSortedFunc(seen.ids, func(a, b int64) int { return cmp.Compare(b, a) }) {
			t.Errorf("%s follow the order of arrival: %v", seen.what, seen.ids)
		}
		gaps := make([]float64, rounds-1)
		counts := make([]float64, rounds-1)
		for i := 1; i < rounds; i++ {
			gaps[i-1] = float64(max(seen.ids[i]-seen.ids[i-1], seen.ids[i-1]-seen.ids[i]))
			counts[i-1] = float64(between[i])
		}
		// 59 pairs: for unrelated numbers the rank correlation has a
		// standard deviation of 0.13; 0.6 is over four of them.
		if rho := spearman(gaps, counts); rho > 0.6 || rho < -0.6 {
			t.Errorf("%s: their gaps follow the other desk's tips between (rank correlation %.2f)", seen.what, rho)
		}
	}
}

// spearman is the rank correlation of x and y (no ties in x expected;
// ties in y get their order's ranks, which is enough here).
func spearman(x, y []float64) float64 {
	rank := func(v []float64) []float64 {
		idx := make([]int, len(v))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case v[a] < v[b]:
				return -1
			case v[a] > v[b]:
				return 1
			}
			return 0
		})
		r := make([]float64, len(v))
		for i, j := range idx {
			r[j] = float64(i)
		}
		return r
	}
	rx, ry := rank(x), rank(y)
	n := float64(len(x))
	var d2 float64
	for i := range rx {
		d := rx[i] - ry[i]
		d2 += d * d
	}
	return 1 - 6*d2/(n*(n*n-1))
}
