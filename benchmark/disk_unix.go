//go:build linux || darwin

package benchmark

import "syscall"

// FreeBytes is the space an unprivileged user may still write in dir's
// file system.
func FreeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
