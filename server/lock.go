package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/pista-tips/pista"
)

// LockFile is the file in the data folder that a running server holds
// locked (flock) for as long as it runs.
const LockFile = "pista.lock"

// ErrInUse is returned by New when another server holds the data folder.
var ErrInUse = errors.New("the data folder is in use by another pista server")

// lockData takes the data folder's lock, without waiting: only the server
// holding it may sweep the folder (temporary files, orphan objects,
// abandoned uploads), so a second server on the same folder refuses to
// start before it changes anything. Admin commands do not take it: they
// work beside a running server and never sweep.
//
// The lock is flock(2) on LockFile: the kernel drops it when the process
// ends, however it ends, so a crash never leaves the folder locked. It
// holds between processes of one machine (and between two opens in one
// process); a data folder on a network file system shared by two machines
// is not supported.
func lockData(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the data folder: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrInUse)
		}
		return nil, fmt.Errorf("locking the data folder: %w", err)
	}
	// The lock file holds nothing; its times say no more than the rows do.
	t := pista.Now()
	os.Chtimes(name, t, t)
	return f, nil
}

// HoldStopped takes the data folder's lock for a command that must run
// while no server does (pista migrate), changing nothing in the folder:
// unlike lockData it makes no lock file and sets no time, and it opens
// the file read-only and without moving its access time (flock needs no
// more). ErrInUse while a server runs; a server started later refuses to
// start until f is closed.
//
// A folder without a lock file has never had a server: f is nil and
// there is nothing to hold, so a server could start meanwhile and make
// one; a caller that must know calls HoldStopped again at its end.
func HoldStopped(dir string) (f *os.File, err error) {
	name := filepath.Join(dir, LockFile)
	f, err = os.OpenFile(name, os.O_RDONLY|unix.O_NOATIME, 0)
	if errors.Is(err, fs.ErrPermission) {
		// O_NOATIME is for the file's owner only.
		f, err = os.Open(name)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("locking the data folder: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrInUse)
		}
		return nil, fmt.Errorf("locking the data folder: %w", err)
	}
	return f, nil
}
