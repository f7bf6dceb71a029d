package pistatest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// ReadOnlyDisk mounts an empty read-only tmpfs over dir (which must exist)
// until t ends: every write under dir then fails with EROFS, a real file
// error of the server's side. Like SmallDisk, it needs root.
func ReadOnlyDisk(t testing.TB, dir string) {
	t.Helper()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m,mode=0700", "tmpfs", dir).CombinedOutput()
	if err != nil {
		Need(t, "tmpfs", fmt.Errorf("mount -t tmpfs -o ro: %v: %s", err, strings.TrimSpace(string(out))), "It needs root (CI runs as root)")
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// FillDisk writes a file in dir until its disk is full (ENOSPC), leaving
// not one free block, and returns the file's name (remove it to free the
// disk).
func FillDisk(t testing.TB, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for len(block) > 0 {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			block = block[:len(block)/2]
		}
	}
	return name
}
