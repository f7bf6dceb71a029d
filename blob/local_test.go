package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/pista-tips/pista"
)

func TestLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, n, err := l.Put(ctx, strings.NewReader("age-encryption.org/v1 ..."))
	if err != nil || n != 25 {
		t.Fatalf("Put = %q, %d, %v", key, n, err)
	}
	r, err := l.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "age-encryption.org/v1 ..." {
		t.Fatalf("read back %q", b)
	}
	fi, _ := os.Stat(l.path(key))
	if !fi.ModTime().Equal(fi.ModTime().Truncate(pista.TimeGranularity)) {
		t.Fatalf("object mtime %v is more precise than %v", fi.ModTime(), pista.TimeGranularity)
	}
	keys, err := l.Keys(ctx)
	if err != nil || len(keys) != 1 || keys[0] != key {
		t.Fatalf("Keys = %q, %v", keys, err)
	}
	if err := l.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Open(ctx, key); !errors.Is(err, pista.ErrNotFound) {
		t.Fatalf("Open after Delete: %v", err)
	}
	for _, bad := range []string{"../../etc/passwd", "", "ABCDEF0123456789ABCDEF0123456789"} {
		if _, err := l.Open(ctx, bad); !errors.Is(err, pista.ErrNotFound) {
			t.Fatalf("Open(%q) = %v", bad, err)
		}
	}
}

func TestPutFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, _ := OpenLocal(dir)
	broken := io.MultiReader(bytes.NewReader(make([]byte, 1<<20)), iotest.ErrReader(errors.New("connection reset")))
	if _, _, err := l.Put(ctx, broken); err == nil {
		t.Fatal("Put of a broken stream succeeded")
	}
	assertEmpty(t, dir)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := l.Put(cctx, strings.NewReader("x")); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	assertEmpty(t, dir)
}

func TestRemoveTemp(t *testing.T) {
	dir := t.TempDir()
	l, _ := OpenLocal(dir)
	// A crash in the middle of a Put leaves a temporary file. Opening the
	// store again (an admin command beside a running server) leaves it:
	// it may be a write in flight.
	os.WriteFile(filepath.Join(dir, "tmp", "put-123"), []byte("partial"), 0o600)
	if _, err := OpenLocal(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp", "put-123")); err != nil {
		t.Fatalf("OpenLocal removed a temporary file: %v", err)
	}
	// The process that holds the folder removes it.
	if err := l.RemoveTemp(); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, dir)
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

func TestFloor(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, _ := OpenLocal(dir)
	free, err := l.Free()
	if err != nil || free <= 0 {
		t.Fatalf("Free = %d, %v", free, err)
	}
	l.MinFree = free + 1<<40 // a floor above what the disk has
	if _, _, err := l.Put(ctx, strings.NewReader("x")); !errors.Is(err, ErrFull) {
		t.Fatalf("Put under the floor: %v, want ErrFull", err)
	}
	// A write that crosses the floor on its way fails too, leaving nothing.
	l.MinFree = free - 12<<20
	big := io.LimitReader(zeros{}, 64<<20)
	if _, _, err := l.Put(ctx, big); !errors.Is(err, ErrFull) {
		t.Fatalf("Put across the floor: %v, want ErrFull", err)
	}
	assertEmpty(t, dir)
	l.MinFree = 0
	if _, _, err := l.Put(ctx, strings.NewReader("x")); err != nil {
		t.Fatalf("Put without a floor: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A Put into a new objects/xx/ leaves that folder, objects/ and tmp/ at
// the hour at once (no timer needed), and reading an object leaves its
// access time alone (O_NOATIME).
func TestTimesAfterPutAndOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := l.Put(ctx, strings.NewReader("ciphertext"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(r)
	r.Close()
	g := int64(pista.TimeGranularity)
	for _, p := range []string{filepath.Join(dir, "objects", key[:2], key), filepath.Join(dir, "objects", key[:2]),
		filepath.Join(dir, "objects"), filepath.Join(dir, "tmp")} {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Mtim.Nano()%g != 0 || (p == filepath.Join(dir, "objects", key[:2], key) && st.Atim.Nano()%g != 0) {
			t.Errorf("%s: times %d, %d (mtime, atime) not at the hour", p, st.Mtim.Nano(), st.Atim.Nano())
		}
	}
}
