package pistatest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime/metrics"
	"strings"
	"testing"
)

// Required reports whether $PISTA_TEST_REQUIRE asks for tool: it is "all",
// or a comma-separated list that names tool. A test whose tool is
// required fails where it would otherwise skip (CI sets "all").
func Required(tool string) bool {
	for _, s := range strings.Split(os.Getenv("PISTA_TEST_REQUIRE"), ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "all" || s == tool {
			return true
		}
	}
	return false
}

// Need skips t, saying why and how to run it, when what tool names is
// missing (err != nil); it fails t instead when $PISTA_TEST_REQUIRE
// requires tool.
func Need(t testing.TB, tool string, err error, hint string) {
	t.Helper()
	if err == nil {
		return
	}
	if Required(tool) {
		t.Fatalf("%s is required (PISTA_TEST_REQUIRE=%q) but cannot be used: %v. %s", tool, os.Getenv("PISTA_TEST_REQUIRE"), err, hint)
	}
	t.Skipf("skipping: %s cannot be used here: %v. %s; set PISTA_TEST_REQUIRE=%s to make this a failure", tool, err, hint, tool)
}

// SmallDisk mounts a tmpfs of size bytes on a new temporary folder and
// returns the folder; it is unmounted when t ends. Mounting needs root (or
// CAP_SYS_ADMIN): without it the test is skipped, or failed when
// $PISTA_TEST_REQUIRE names "tmpfs" (or is "all").
//
// Tests use it to fill a disk for real: ENOSPC from the kernel, not a
// mock.
func SmallDisk(t testing.TB, size int64) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pista-small-disk-")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		os.Remove(dir)
		Need(t, "tmpfs", fmt.Errorf("mount -t tmpfs: %v: %s", err, strings.TrimSpace(string(out))), "It needs root (CI runs as root)")
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			return
		}
		os.Remove(dir)
	})
	return dir
}

// Allocated is the bytes the process has allocated on the heap so far,
// for tests that bound what one request costs.
func Allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
