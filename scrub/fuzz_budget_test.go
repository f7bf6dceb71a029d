package scrub

import (
	"bytes"
	"context"
	"io"
	"runtime/metrics"
	"testing"
	"time"
)

// fuzzBudget is the budget fuzz targets scrub within: small, so that an
// input that escapes it shows at once.
var fuzzBudget = Budget{Memory: 1 << 20, Inflate: 8 << 20, Time: time.Minute}

// fuzzAllocLimit is the most one input may allocate, garbage included:
// parsing XML allocates about 35 bytes per byte parsed, and a document
// may parse twice its memory budget, so 96 times the memory budget, plus
// 64 times the input's size for what is proportional to the file itself
// (pdfcpu's model of it, the copy written, the copy read back).
func fuzzAllocLimit(b Budget, input int) uint64 {
	return 96*uint64(b.Memory) + 64*uint64(input)
}

// fuzzWithin scrubs b with s within fuzzBudget and fails if that
// allocated more than fuzzAllocLimit. It returns what s returned.
func fuzzWithin(t *testing.T, s Scrubber, b []byte, w io.Writer) (Report, error) {
	t.Helper()
	before := allocated()
	var rep Report
	var err error
	if ms, ok := s.(metered); ok {
		m := newMeter(context.Background(), fuzzBudget)
		m.format = s.Format()
		rep, err = ms.scrubWithin(m, bytes.NewReader(b), int64(len(b)), w)
	} else {
		rep, err = s.Scrub(bytes.NewReader(b), int64(len(b)), w)
	}
	if got, limit := allocated()-before, fuzzAllocLimit(fuzzBudget, len(b)); got > limit {
		t.Fatalf("%d bytes in: allocated %d bytes, more than the %d the budget allows (%v)", len(b), got, limit, err)
	}
	return rep, err
}

// allocated is the bytes allocated on the heap so far, from
// runtime/metrics (runtime.ReadMemStats stops the world, which stalls a
// fuzzing worker).
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// The allocation check catches a file that escapes the budget: the
// hostile files stay within it, and a budget as large as a bomb does not.
func TestFuzzAllocLimit(t *testing.T) {
	for _, c := range hostileCases() {
		s := For(c.file, c.name, "")
		t.Run(c.name, func(t *testing.T) { fuzzWithin(t, s, c.file, io.Discard) })
	}
	// The same DOCX within the default budget, 32 times fuzzBudget's,
	// parses its whole 4 MiB part: the check would fail it.
	b := hostileCases()[3].file
	alloc, _ := peakHeap(func() { Scrub(bytes.NewReader(b), int64(len(b)), "part.docx", "", io.Discard) })
	if limit := fuzzAllocLimit(fuzzBudget, len(b)); alloc <= limit {
		t.Errorf("a DOCX parsing 4 MiB allocated %d bytes, within the %d fuzzBudget allows: the check catches nothing", alloc, limit)
	}
}
