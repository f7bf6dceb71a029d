package intake

import (
	"bufio"
	"errors"
	"io"
	"mime/multipart"

	"github.com/pista-tips/pista/httpx"
)

// ErrPartHeader: a form part's header (with what comes before it) is far
// longer than httpx.MaxPartHeaderBytes.
var ErrPartHeader = errors.New("a form part's header is too long")

// maxNextPartRead bounds the bytes a form's multipart reader may take from
// the request body while it reads one part's boundary line and header
// (plus the boundary's length): one refill of the 64 KiB buffer in front
// of it, and the header twice over. mime/multipart keeps a whole part
// header in memory, up to 10 MiB of it, before a handler can check it
// against httpx.MaxPartHeaderBytes: every request could hold 10 MiB.
const maxNextPartRead = 64<<10 + 2*httpx.MaxPartHeaderBytes + 4<<10

// PartReader reads a multipart/form-data body as it streams in, as
// mime/multipart does, with each part's header bounded while it is read.
type PartReader struct {
	mr       *multipart.Reader
	guard    *partHeaderGuard
	boundary string
	part     *multipart.Part
}

// NewPartReader reads body, whose parts are separated by boundary,
// through a 64 KiB buffer (mime/multipart alone reads 4 KiB at a time).
func NewPartReader(body io.Reader, boundary string) *PartReader {
	g := &partHeaderGuard{r: body, left: -1}
	return &PartReader{mr: multipart.NewReader(bufio.NewReaderSize(g, 64<<10), boundary), guard: g, boundary: boundary}
}

// NextPart skips what is left of the current part and returns the next
// one, io.EOF after the last, or an error wrapping ErrPartHeader if its
// header goes on far past httpx.MaxPartHeaderBytes (the caller checks the
// header it gets against that limit).
func (p *PartReader) NextPart() (*multipart.Part, error) {
	if p.part != nil {
		// What NextPart would skip, read before the header is bounded.
		if _, err := io.Copy(io.Discard, p.part); err != nil {
			return nil, err
		}
	}
	p.guard.left = maxNextPartRead + int64(len(p.boundary))
	part, err := p.mr.NextPart()
	p.guard.left = -1
	p.part = part
	return part, err
}

// partHeaderGuard is the request body as a form's multipart reader reads
// it: while left >= 0 (during NextPart) it gives at most left more bytes,
// then ErrPartHeader.
type partHeaderGuard struct {
	r    io.Reader
	left int64 // -1: no bound
}

func (g *partHeaderGuard) Read(p []byte) (int, error) {
	if g.left < 0 {
		return g.r.Read(p)
	}
	if g.left == 0 {
		return 0, ErrPartHeader
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, err := g.r.Read(p)
	g.left -= int64(n)
	return n, err
}
