package sqlite

import (
	"crypto/aes"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	b, _ := aes.NewCipher(make([]byte, 32))
	s := &ids{block: b}
	seen := map[int64]bool{}
	for _, n := range []int64{1, 2, 3, 1000, 1 << 40, sealMaxN} {
		p := s.seal(domainItem, n)
		if p < sealBase || p >= 1<<53 || seen[p] {
			t.Errorf("seal(%d) = %d", n, p)
		}
		seen[p] = true
		if got, ok := s.unseal(domainItem, p); !ok || got != n {
			t.Errorf("unseal(seal(%d)) = %d, %v", n, got, ok)
		}
		if s.seal(domainAudit, n) == p {
			t.Errorf("item and audit %d seal alike", n)
		}
	}
	for _, bad := range []int64{0, -1, 5, sealBase - 1, 2 * sealBase} {
		if _, ok := s.unseal(domainItem, bad); ok {
			t.Errorf("unseal(%d) accepted", bad)
		}
	}
	if s.seal(domainItem, 0) != 0 || s.seal(domainItem, sealMaxN+1) != 0 {
		t.Error("seal out of range")
	}
}

// BenchmarkSeal is the cost of one sealed ID (a pull page of 1,000 items
// seals 1,000).
func BenchmarkSeal(b *testing.B) {
	c, _ := aes.NewCipher(make([]byte, 32))
	s := &ids{block: c}
	var x int64
	for i := range b.N {
		x += s.seal(domainItem, int64(i+1))
	}
	_ = x
}
