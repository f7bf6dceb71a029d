package httpx

import "golang.org/x/sys/unix"

// RaiseFileLimit raises the soft limit on open files to the hard one (Go
// does so too at start on Linux, and the same call again is harmless) and
// returns the soft limit now in force, from which MaxConnsFor derives the
// connection bound.
func RaiseFileLimit() (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	return lim.Cur, nil
}
