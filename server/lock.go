package server

import (
	"errors"
	"fmt"
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
