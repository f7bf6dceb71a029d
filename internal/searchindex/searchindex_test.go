package searchindex

import (
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
)

func TestSplitKeepsPostings(t *testing.T) {
	ix := Synthetic(1000, 1)
	parts := Split(ix, 300)
	if len(parts) != 4 {
		t.Fatalf("%d parts", len(parts))
	}
	count := func(ix Index) (n int) {
		for _, l := range ix.Postings {
			n += len(l)
		}
		return n
	}
	total := 0
	for _, p := range parts {
		total += count(p)
		for _, l := range p.Postings {
			for _, x := range l {
				if int(x) >= len(p.IDs) {
					t.Fatalf("position %d of %d", x, len(p.IDs))
				}
			}
		}
	}
	if total != count(ix) || total != 1000*WordsPerConversation+1 {
		t.Errorf("postings %d in parts, %d in the whole", total, count(ix))
	}
}

// BenchmarkSyntheticIndex reports the encrypted size of a desk's index of
// PISTA_SEARCH_CONVERSATIONS conversations (default 1,000,000).
//
//	go test ./internal/searchindex/ -run '^$' -bench SyntheticIndex -benchtime 1x
func BenchmarkSyntheticIndex(b *testing.B) {
	n := Conversations()
	id, _ := age.GenerateHybridIdentity()
	for b.Loop() {
		segs, err := Segments("bench", n, 1, id.Recipient())
		if err != nil {
			b.Fatal(err)
		}
		var size int
		for _, s := range segs {
			if len(s) > pista.MaxIndexSegmentSize {
				b.Fatalf("a segment of %d bytes", len(s))
			}
			size += len(s)
		}
		b.ReportMetric(float64(size)/(1<<20), "MiB")
		b.ReportMetric(float64(len(segs)), "segments")
		b.ReportMetric(float64(size)/float64(n), "B/conversation")
	}
}
