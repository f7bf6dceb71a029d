package web

import (
	"errors"
	"io"

	"github.com/pista-tips/pista/httpx"
)

// errPartHeader: a part's header (with what comes before it) is far
// longer than httpx.MaxPartHeaderBytes.
var errPartHeader = errors.New("web: a form part's header is too long")

// maxNextPartRead bounds the bytes a form's multipart reader may take from
// the request body while it reads one part's boundary line and header
// (plus the boundary's length): one refill of the 64 KiB buffer in front
// of it, and the header twice over. mime/multipart keeps a whole part
// header in memory, up to 10 MiB of it, before readForm can check it
// against httpx.MaxPartHeaderBytes: every request could hold 10 MiB.
const maxNextPartRead = 64<<10 + 2*httpx.MaxPartHeaderBytes + 4<<10

// partHeaderGuard is the request body as the form's multipart reader
// reads it: while left >= 0 (during NextPart) it gives at most left more
// bytes, then errPartHeader.
type partHeaderGuard struct {
	r    io.Reader
	left int64 // -1: no bound
}

func (g *partHeaderGuard) Read(p []byte) (int, error) {
	if g.left < 0 {
		return g.r.Read(p)
	}
	if g.left == 0 {
		return 0, errPartHeader
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, err := g.r.Read(p)
	g.left -= int64(n)
	return n, err
}
