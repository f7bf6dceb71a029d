package scrub

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Budget bounds what scrubbing one file may cost, whatever the file
// declares. A file that would pass it is not scrubbed: Scrub returns a
// *TooComplexError, and the caller stores the file as sent, flagged as
// "not scrubbed: too complex to clean safely". The scrubbers of images and
// videos stream the file through small buffers and never decode pixels,
// so only the documents, which are decompressed and parsed in memory,
// spend it.
type Budget struct {
	// Memory bounds the bytes a scrubber holds for one file. A ZIP-based
	// document's XML part, decompressed and parsed, may be an eighth of
	// it (parsing and rewriting it holds about three times as much, and
	// the garbage collector lets as much again pile up), and all its
	// parts together twice it; an embedded picture half of it. A
	// PDF may be a quarter of it (pdfcpu holds the whole document, then
	// writes and reads back a copy), and its object and cross-reference
	// streams, which pdfcpu keeps decompressed, half of it in all (an
	// eighth each).
	Memory int64
	// Inflate bounds the bytes decompressed from one file in all,
	// including what is only streamed through to be measured: the CPU a
	// zip or deflate bomb can cost.
	Inflate int64
	// Time bounds the wall-clock time of one file's scrubbing; it is
	// checked between the steps of a scrubber (parts of a ZIP, streams of
	// a PDF, pdfcpu's reading and writing), not within them.
	Time time.Duration
}

// DefaultBudget is what the server and pista open spend on one file. Two
// files are scrubbed at once by the server (intake's scrubSlots), so
// scrubbing holds at most about 2 × 32 MiB on top of the server's own
// memory; a hostile file is refused long before it reaches that, when it
// declares or inflates past a bound.
var DefaultBudget = Budget{Memory: 32 << 20, Inflate: 128 << 20, Time: 10 * time.Second}

// ErrTooComplex is what a *TooComplexError matches with errors.Is.
var ErrTooComplex = errors.New("scrub: too complex to clean safely")

// TooComplexNote is the note of the report of a file over the budget, in
// the words the issue and the inbox use.
const TooComplexNote = "not scrubbed: too complex to clean safely"

// TooComplexError says a file would cost more than the budget to scrub;
// it is left as it is.
type TooComplexError struct {
	Format string
	Why    string // what passed the budget, for the log: never the file's content
}

func (e *TooComplexError) Error() string {
	return fmt.Sprintf("scrub: %s file too complex to clean safely: %s", e.Format, e.Why)
}

func (e *TooComplexError) Is(target error) bool { return target == ErrTooComplex }

// meter spends one file's budget.
type meter struct {
	b        Budget
	ctx      context.Context
	deadline time.Time
	format   string
	inflated int64 // bytes decompressed, all counted
	held     int64 // bytes decompressed and kept (PDF object streams)
}

func newMeter(ctx context.Context, b Budget) *meter {
	if ctx == nil {
		ctx = context.Background()
	}
	m := &meter{b: b, ctx: ctx}
	if b.Time > 0 {
		m.deadline = time.Now().Add(b.Time)
	}
	return m
}

// defaultMeter is the meter of a scrubber called through the Scrubber
// interface.
func defaultMeter() *meter { return newMeter(context.Background(), DefaultBudget) }

func (m *meter) tooComplex(why string, a ...any) error {
	return &TooComplexError{Format: m.format, Why: fmt.Sprintf(why, a...)}
}

// check fails once the time is spent or the caller gave up.
func (m *meter) check() error {
	if err := m.ctx.Err(); err != nil {
		return fmt.Errorf("scrub: %w", err)
	}
	if !m.deadline.IsZero() && time.Now().After(m.deadline) {
		return m.tooComplex("took more than %v", m.b.Time)
	}
	return nil
}

// inflate counts n more bytes decompressed.
func (m *meter) inflate(n int64) error {
	m.inflated += n
	if m.inflated > m.b.Inflate {
		return m.tooComplex("decompresses to more than %d bytes", m.b.Inflate)
	}
	return m.check()
}

// part is the most a decompressed part (an XML part, a PDF's object
// stream) may hold.
func (m *meter) part() int64 { return m.b.Memory / 8 }
