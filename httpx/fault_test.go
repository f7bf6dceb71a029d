package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/pista-tips/pista"
)

// syscall.Errno satisfies net.Error: a file error of the server must not
// pass for a client's dropped connection.
func TestClientFault(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	for _, tc := range []struct {
		name   string
		err    error
		client bool
	}{
		{"connection reset", fmt.Errorf("multipart: %w", reset), true},
		{"timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, true},
		{"truncated body", io.ErrUnexpectedEOF, true},
		{"cancelled", context.Canceled, true},
		{"body too slow", fmt.Errorf("multipart: %w", ErrTooSlow), true},
		{"EIO writing a temp file", fmt.Errorf("blob: %w", &fs.PathError{Op: "write", Path: "tmp/put-1", Err: syscall.EIO}), false},
		{"EROFS", &fs.PathError{Op: "open", Path: "tmp/put-1", Err: syscall.EROFS}, false},
		{"EACCES", &fs.PathError{Op: "open", Path: "tmp/put-1", Err: syscall.EACCES}, false},
		{"EMFILE", &fs.PathError{Op: "open", Path: "tmp/put-1", Err: syscall.EMFILE}, false},
		{"rename", &os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.EXDEV}, false},
		{"bare errno", syscall.EIO, false},
		{"fsync", os.NewSyscallError("fsync", syscall.EIO), false},
		{"full", fmt.Errorf("blob: %w", pista.ErrStorageFull), false},
		{"full, in multipart's words", fmt.Errorf("multipart: %w", pista.ErrStorageFull), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClientFault(tc.err); got != tc.client {
				t.Errorf("ClientFault(%v) = %v, want %v", tc.err, got, tc.client)
			}
			if got := ServerFault(tc.err); got == tc.client {
				t.Errorf("ServerFault(%v) = %v, want %v", tc.err, got, !tc.client)
			}
		})
	}
	if ServerFault(nil) || ClientFault(errors.New("x")) {
		t.Error("nil is a server fault, or any error a client's")
	}
}
