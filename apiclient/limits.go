package apiclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// The client distrusts the server as the server distrusts its clients: a
// server broken into, or an impostor, may lie about sizes and page counts
// to fill the disk or the memory of a journalist's or a source's computer.
// Every answer is bounded: JSON by a size (GetJSONMax), a download by the
// size the server declared beforehand (Exact), and all answers together by
// a Budget the user sets.

// ErrTooLarge is returned for a JSON answer longer than its bound.
var ErrTooLarge = errors.New("the server's answer is larger than this program accepts")

// ErrWrongSize is returned for a download shorter or longer than the size
// the server declared for it.
var ErrWrongSize = errors.New("the server sent a file of another size than it declared")

// Budget bounds the bytes a client accepts from a server, all answers
// together. It is safe for concurrent use.
type Budget struct {
	Max int64

	mu   sync.Mutex
	used int64
}

// BudgetError is returned once a Budget is spent.
type BudgetError struct{ Max int64 }

func (e *BudgetError) Error() string {
	return fmt.Sprintf("the server sent more than the %s allowed", FormatSize(e.Max))
}

// Used reports the bytes taken so far.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Reserve takes n bytes from the budget before they arrive, or returns a
// *BudgetError and takes nothing if fewer than n are left: a download that
// would cross the budget is refused before it starts.
func (b *Budget) Reserve(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n < 0 || n > b.Max-b.used {
		return &BudgetError{Max: b.Max}
	}
	b.used += n
	return nil
}

// Release gives back bytes reserved but not received.
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used = max(0, b.used-n)
}

// budgetBody counts an answer's bytes against a budget.
type budgetBody struct {
	io.ReadCloser
	b *Budget
	// reserved bytes, taken before they arrive (Reserved).
	reserved int64
}

func (r *budgetBody) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	take := int64(n)
	if r.reserved > 0 {
		from := min(take, r.reserved)
		r.reserved -= from
		take -= from
	}
	if take > 0 {
		if berr := r.b.Reserve(take); berr != nil {
			return 0, berr
		}
	}
	return n, err
}

// Close gives back what was reserved and did not come.
func (r *budgetBody) Close() error {
	if r.reserved > 0 {
		r.b.Release(r.reserved)
		r.reserved = 0
	}
	return r.ReadCloser.Close()
}

// Reserved marks n bytes of resp's body as already taken from the
// client's budget (with Budget.Reserve), so that they are not counted
// twice. It does nothing for a client without a budget.
func Reserved(resp *http.Response, n int64) {
	if bb, ok := resp.Body.(*budgetBody); ok {
		bb.reserved += n
	}
}

// limited reads at most n bytes of r, then fails with err.
type limited struct {
	r   io.Reader
	n   int64
	err error
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// One byte more tells a body that ends here from a longer one.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, l.err
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// decodeJSON decodes one JSON value of at most max bytes from resp.
func decodeJSON(resp *http.Response, max int64, v any) error {
	if resp.ContentLength > max {
		return ErrTooLarge
	}
	b, err := io.ReadAll(&limited{r: resp.Body, n: max, err: ErrTooLarge})
	if err != nil {
		return err
	}
	return DecodeJSON(b, v)
}

// DecodeJSON decodes b, which must hold one JSON value and nothing else.
func DecodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the server's answer is not what this program expects: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("the server's answer is not what this program expects: more after its end")
	}
	return nil
}

// Exact reads the body of resp, which must be exactly size bytes, the
// size the server declared before: a longer body fails with ErrWrongSize
// as soon as it passes size, a shorter one at its end.
func Exact(resp *http.Response, size int64) io.Reader {
	if resp.ContentLength >= 0 && resp.ContentLength != size {
		return errReader{ErrWrongSize}
	}
	return &exact{l: limited{r: resp.Body, n: size, err: ErrWrongSize}}
}

type exact struct{ l limited }

func (e *exact) Read(p []byte) (int, error) {
	n, err := e.l.Read(p)
	if err == io.EOF && e.l.n > 0 {
		err = ErrWrongSize
	} else if errors.Is(err, io.ErrUnexpectedEOF) {
		// net/http's word for a body cut before its Content-Length.
		err = ErrWrongSize
	}
	return n, err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// FormatSize writes a size in bytes as people read it: 4 GiB, 1.5 MiB.
func FormatSize(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		switch {
		case n < u.size:
			continue
		case n%u.size == 0:
			return fmt.Sprintf("%d %s", n/u.size, u.unit)
		default:
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
