package sealedid

import "testing"

func TestSealRoundTrip(t *testing.T) {
	s, _ := New(make([]byte, 32))
	seen := map[int64]bool{}
	for _, n := range []int64{1, 2, 3, 1000, 1 << 40, MaxN} {
		p := s.Seal(Item, n)
		if p < Base || p >= 1<<53 || seen[p] {
			t.Errorf("seal(%d) = %d", n, p)
		}
		seen[p] = true
		if got, ok := s.Unseal(Item, p); !ok || got != n {
			t.Errorf("unseal(seal(%d)) = %d, %v", n, got, ok)
		}
		if s.Seal(Audit, n) == p {
			t.Errorf("item and audit %d seal alike", n)
		}
	}
	for _, bad := range []int64{0, -1, 5, Base - 1, 2 * Base} {
		if _, ok := s.Unseal(Item, bad); ok {
			t.Errorf("unseal(%d) accepted", bad)
		}
	}
	if s.Seal(Item, 0) != 0 || s.Seal(Item, MaxN+1) != 0 {
		t.Error("seal out of range")
	}
}

func TestUnsealAll(t *testing.T) {
	s, _ := New(make([]byte, 32))
	got := s.UnsealAll(Item, []int64{s.Seal(Item, 7), 5, s.Seal(Item, 3), 0, 2 * Base})
	if len(got) != 2 || got[0] != 7 || got[1] != 3 {
		t.Errorf("UnsealAll = %v, want [7 3]: the sealed IDs in order, the others left out", got)
	}
}

// BenchmarkSeal is the cost of one sealed ID (a pull page of 1,000 items
// seals 1,000).
func BenchmarkSeal(b *testing.B) {
	s, _ := New(make([]byte, 32))
	var x int64
	for i := range b.N {
		x += s.Seal(Item, int64(i+1))
	}
	_ = x
}
