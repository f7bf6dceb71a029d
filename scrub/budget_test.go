package scrub

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pista-tips/pista/internal/hostile"
)

// hostileCase is a hostile file and what scrub must make of it.
type hostileCase struct {
	name       string
	file       []byte
	tooComplex bool // else scrubbed
}

var (
	hostileOnce  sync.Once
	hostileFiles []hostileCase
)

// hostileCases builds the hostile files once per test binary.
func hostileCases() []hostileCase {
	hostileOnce.Do(func() {
		hostileFiles = []hostileCase{
			{"bomb.pdf", hostile.PDFBomb(300 << 20), true},       // object streams of 64 MiB each
			{"small-bomb.pdf", hostile.PDFBomb(6 << 20), true},   // one object stream past an eighth of the memory budget
			{"bomb.docx", hostile.DOCXBomb(300 << 20), true},     // says it is huge
			{"part.docx", hostile.DOCXBomb(4<<20 - 64), false},   // as large a part as the budget takes: scrubbed
			{"bomb.png", hostile.PNGBomb(100000, 100000), false}, // never decoded: its chunks are filtered
		}
	})
	return hostileFiles
}

// peakHeap runs f and returns the bytes it allocated and the most heap
// in use while it ran, sampled every millisecond (the garbage collector
// runs as usual).
func peakHeap(f func()) (alloc, peak uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var max atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > max.Load() {
				max.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	peak = max.Load()
	if peak > before.HeapInuse {
		peak -= before.HeapInuse
	} else {
		peak = 0
	}
	return after.TotalAlloc - before.TotalAlloc, peak
}

// TestHostileFiles scrubs each hostile file: those over the budget are
// too complex, quickly, and none holds more than the budget's memory.
func TestHostileFiles(t *testing.T) {
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			var rep Report
			var err error
			start := time.Now()
			alloc, peak := peakHeap(func() {
				rep, err = Scrub(bytes.NewReader(c.file), int64(len(c.file)), c.name, "", io.Discard)
			})
			took := time.Since(start)
			t.Logf("%d bytes: %v in %v, %d MiB allocated, heap peak +%d MiB", len(c.file), err, took, alloc>>20, peak>>20)
			if c.tooComplex != errors.Is(err, ErrTooComplex) || c.tooComplex != rep.TooComplex {
				t.Errorf("too complex: %v (%+v), want %v", err, rep, c.tooComplex)
			}
			if !c.tooComplex && (err != nil || !rep.Scrubbed) {
				t.Errorf("not scrubbed: %v (%+v)", err, rep)
			}
			if peak > uint64(DefaultBudget.Memory) {
				t.Errorf("heap peak +%d MiB, more than the %d MiB budget", peak>>20, DefaultBudget.Memory>>20)
			}
		})
	}
}

// The budget's time is kept: a deadline already past stops a document's
// scrubbing at its first step, and so does a cancelled context.
func TestBudgetTime(t *testing.T) {
	b := hostile.DOCXBomb(1 << 20)
	rep, err := ScrubWithin(context.Background(), Budget{Memory: 32 << 20, Inflate: 1 << 30, Time: time.Nanosecond},
		bytes.NewReader(b), int64(len(b)), "x.docx", "", io.Discard)
	if !errors.Is(err, ErrTooComplex) || !rep.TooComplex {
		t.Errorf("past the time: %v %+v", err, rep)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ScrubWithin(ctx, DefaultBudget, bytes.NewReader(b), int64(len(b)), "x.docx", "", io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// An object stream whose name is written with #xx escapes is still seen
// as one.
func TestPDFMeasureEscapedNames(t *testing.T) {
	b := bytes.ReplaceAll(hostile.PDFBomb(6<<20), []byte("/ObjStm"), []byte("/Obj#53tm"))
	rep, err := Scrub(bytes.NewReader(b), int64(len(b)), "x.pdf", "", io.Discard)
	if !errors.Is(err, ErrTooComplex) || !rep.TooComplex {
		t.Errorf("%v %+v", err, rep)
	}
}

// BenchmarkScrubHostile reports, per hostile file, the bytes allocated
// and the heap's peak (on top of what was in use before) of scrubbing it
// once. Run: go test ./scrub -run '^$' -bench ScrubHostile -benchtime 3x
func BenchmarkScrubHostile(b *testing.B) {
	for _, c := range hostileCases() {
		b.Run(c.name, func(b *testing.B) {
			var peakMax, allocSum uint64
			for b.Loop() {
				alloc, peak := peakHeap(func() {
					Scrub(bytes.NewReader(c.file), int64(len(c.file)), c.name, "", io.Discard)
				})
				allocSum += alloc
				peakMax = max(peakMax, peak)
			}
			b.ReportMetric(float64(allocSum)/float64(b.N)/(1<<20), "MiB-alloc/op")
			b.ReportMetric(float64(peakMax)/(1<<20), "MiB-heap-peak")
		})
	}
}

// A ZIP whose directory lists more members than scrub reads is too
// complex before archive/zip holds its directory in memory.
func TestZipDirectoryBudget(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := range docZipMaxMembers + 1 {
		zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("[Content_Types].xml%d", i), Method: zip.Store})
	}
	zw.Close()
	rep, err := Scrub(bytes.NewReader(b.Bytes()), int64(b.Len()), "many.docx", "", io.Discard)
	if !errors.Is(err, ErrTooComplex) || !rep.TooComplex {
		t.Errorf("%v %+v", err, rep)
	}
}
