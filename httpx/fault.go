package httpx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
)

// ClientFault reports whether err, met while reading a request's body, is
// the client's doing: a dropped or timed-out connection, a malformed body.
// Such errors must never be logged: a network error names both ends of the
// connection, the source's address included, and a parse error quotes the
// request.
func ClientFault(err error) bool {
	var ne net.Error
	var pe textproto.ProtocolError
	var mbe *http.MaxBytesError
	return errors.As(err, &ne) || errors.As(err, &pe) || errors.As(err, &mbe) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, http.ErrBodyReadAfterClose) ||
		strings.Contains(err.Error(), "multipart")
}
