package pistatest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestRequired(t *testing.T) {
	tests := []struct {
		env  string
		want bool
	}{
		{"", false},
		{"all", true},
		{"tmpfs", true},
		{"tor, tmpfs", true},
		{"TMPFS", true},
		{"tor,minio", false},
		{"tmpfs2", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.env), func(t *testing.T) {
			t.Setenv("PISTA_TEST_REQUIRE", tt.env)
			if got := Required("tmpfs"); got != tt.want {
				t.Errorf("Required(tmpfs) with PISTA_TEST_REQUIRE=%q = %v, want %v", tt.env, got, tt.want)
			}
		})
	}
}

// A small disk fills up for real: writing past its size fails with ENOSPC.
func TestSmallDiskFills(t *testing.T) {
	dir := SmallDisk(t, 1<<20)
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var werr error
	for i := 0; i < 64 && werr == nil; i++ {
		_, werr = f.Write(buf)
	}
	if werr == nil {
		t.Fatal("wrote 4 MiB to a 1 MiB disk")
	}
	if !isNoSpace(werr) {
		t.Fatalf("writing past the disk's size: %v, want ENOSPC", werr)
	}
}

func isNoSpace(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && errno == syscall.ENOSPC
}
