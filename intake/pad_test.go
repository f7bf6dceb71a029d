package intake

import (
	"bytes"
	"github.com/pista-tips/pista"
	"io"
	"testing"
)

func TestPadReader(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1000)
	pr := &padReader{r: bytes.NewReader(data)}
	got, err := io.ReadAll(pr)
	if err != nil || int64(len(got)) != pista.Padme(1000) || pr.n != 1000 {
		t.Fatalf("read %d bytes (n=%d), %v; want %d", len(got), pr.n, err, pista.Padme(1000))
	}
	if !bytes.Equal(got[:1000], data) || bytes.Count(got[1000:], []byte{0}) != len(got)-1000 {
		t.Fatal("padding is not the data then zeros")
	}
}
