package pista

import "testing"

func TestPadme(t *testing.T) {
	for _, tt := range []struct{ n, want int64 }{
		{0, 0}, {1, 1}, {2, 2}, {9, 10}, {100, 104}, {1000, 1024}, {1 << 30, 1 << 30}, {1<<30 + 1, 1<<30 + 1<<25},
	} {
		if got := Padme(tt.n); got != tt.want {
			t.Errorf("Padme(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
	for n := int64(2); n < 1<<20; n = n*3/2 + 1 {
		p := Padme(n)
		if p < n || float64(p-n) > 0.12*float64(n)+1 {
			t.Fatalf("Padme(%d) = %d: outside [n, 1.12n]", n, p)
		}
	}
}
