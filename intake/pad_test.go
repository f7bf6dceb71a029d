package intake

import (
	"bytes"
	"io"
	"testing"
)

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

func TestPadReader(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1000)
	pr := &padReader{r: bytes.NewReader(data)}
	got, err := io.ReadAll(pr)
	if err != nil || int64(len(got)) != Padme(1000) || pr.n != 1000 {
		t.Fatalf("read %d bytes (n=%d), %v; want %d", len(got), pr.n, err, Padme(1000))
	}
	if !bytes.Equal(got[:1000], data) || bytes.Count(got[1000:], []byte{0}) != len(got)-1000 {
		t.Fatal("padding is not the data then zeros")
	}
}
