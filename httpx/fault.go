package httpx

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"syscall"

	"github.com/pista-tips/pista"
)

// ClientFault reports whether err, met while reading a request's body, is
// the client's doing: a dropped or timed-out connection, a malformed body.
// Such errors must never be logged: a network error names both ends of the
// connection, the source's address included, and a parse error quotes the
// request.
//
// The server's own faults are never the client's, whatever wraps them
// (ServerFault): a file error (EIO, EROFS, EACCES, EMFILE, ENOSPC…) must be
// logged and answered as the server's, though syscall.Errno satisfies
// net.Error.
func ClientFault(err error) bool {
	if ServerFault(err) {
		return false
	}
	var ne net.Error
	var pe textproto.ProtocolError
	var mbe *http.MaxBytesError
	return errors.As(err, &ne) || errors.As(err, &pe) || errors.As(err, &mbe) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, http.ErrBodyReadAfterClose) ||
		strings.Contains(err.Error(), "multipart")
}

// ServerFault reports whether err is the server's own: a full store, an
// error of the file system (a path or link error, or a system call's error
// number that did not come from a network connection). Such errors carry
// no source data (the store names its files at random) and are logged.
func ServerFault(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, pista.ErrStorageFull) {
		return true
	}
	var pe *fs.PathError
	var le *os.LinkError
	var se *os.SyscallError
	var op *net.OpError
	if errors.As(err, &pe) || errors.As(err, &le) {
		return true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && !errors.As(err, &op) {
		return true
	}
	// An os.SyscallError outside a net.OpError (fsync, statfs…).
	return errors.As(err, &se) && !errors.As(err, &op)
}
