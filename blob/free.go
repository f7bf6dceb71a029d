package blob

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pista-tips/pista"
)

// ErrFull is returned when writing would take the disk below the store's
// floor of free space, or the disk is full; errors.Is tells both apart
// from other errors, and their messages say which it was.
var ErrFull = pista.ErrStorageFull

var (
	errFloor    = fmt.Errorf("%w: the disk is at the floor of free space kept for the database and the system", ErrFull)
	errDiskFull = fmt.Errorf("%w: the disk is full", ErrFull)
)

// checkEvery is how often, in bytes, a write checks the free space: often
// enough that a 4 GiB upload cannot run far past the floor, rarely enough
// that the check costs nothing next to the write.
const checkEvery = 8 << 20

// Free returns the bytes available to this process on the store's disk.
func (l *Local) Free() (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(l.dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// Room answers ErrFull unless n more bytes fit above the floor.
func (l *Local) Room(n int64) error {
	if l.MinFree <= 0 {
		return nil
	}
	free, err := l.Free()
	if err != nil {
		return err
	}
	if free-n < l.MinFree {
		return errFloor
	}
	return nil
}

// roomReader checks the free space as a write goes.
type roomReader struct {
	l     *Local
	r     io.Reader
	since int64
}

func (rr *roomReader) Read(p []byte) (int, error) {
	if rr.since >= checkEvery {
		rr.since = 0
		if err := rr.l.Room(0); err != nil {
			return 0, err
		}
	}
	n, err := rr.r.Read(p)
	rr.since += int64(n)
	return n, err
}

// full maps a write error to ErrFull when the disk ran out.
func full(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return errDiskFull
	}
	return err
}
