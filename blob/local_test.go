package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

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

// A Put into a new hour's folder leaves that folder, its ten days'
// folder, objects/ and tmp/ at
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
	for _, p := range []string{l.path(key), filepath.Dir(l.path(key)), filepath.Dir(filepath.Dir(l.path(key))),
		filepath.Join(dir, "objects"), filepath.Join(dir, "tmp")} {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Mtim.Nano()%g != 0 || (p == l.path(key) && st.Atim.Nano()%g != 0) {
			t.Errorf("%s: times %d, %d (mtime, atime) not at the hour", p, st.Mtim.Nano(), st.Atim.Nano())
		}
	}
}

// placeObject writes an object file by hand where the store keeps key,
// as an earlier write or an earlier version of the store left it.
func placeObject(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("age-encryption.org/v1 ..."), 0o600); err != nil {
		t.Fatal(err)
	}
}

// KeysBetween lists the hours asked for, by their folders; objects from
// before keys had an hour are read and deleted but listed only by
// LegacyKeys, until they have been swept once.
func TestKeysBetween(t *testing.T) {
	ctx := context.Background()
	l, err := OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var keys []string
	for range 3 {
		k, _, err := l.Put(ctx, strings.NewReader("age-encryption.org/v1 ..."))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%08x", now.Unix()/3600); k[:8] != want {
			t.Errorf("key %s does not start with its hour %s", k, want)
		}
		keys = append(keys, k)
	}
	old, future := "00000001"+"aaaaaaaaaaaaaaaaaaaaaaaa", "ffffffff"+"bbbbbbbbbbbbbbbbbbbbbbbb"
	legacy := "0123456789abcdef0123456789abcdef"
	placeObject(t, l.path(old))
	placeObject(t, l.path(future))
	placeObject(t, l.legacyPath(legacy))
	placeObject(t, filepath.Join(l.dir, "objects", "zz", "not-a-key"))
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"this hour", now, now, 3},
		{"the day before", now.Add(-24 * time.Hour), now.Add(-time.Hour), 0},
		{"a day around", now.Add(-12 * time.Hour), now.Add(12 * time.Hour), 3},
		{"from the start", time.Unix(0, 0), now.Add(-time.Hour), 1},
		{"to the end", now.Add(time.Hour), time.Unix(1<<50, 0), 1},
		{"backwards", now, now.Add(-time.Hour), 0},
	} {
		got, err := l.KeysBetween(ctx, tc.from, tc.to)
		if err != nil || len(got) != tc.want {
			t.Errorf("%s: KeysBetween = %q, %v; want %d keys", tc.name, got, err, tc.want)
		}
	}
	if h, err := l.NewestHour(); err != nil || !h.Equal(time.Unix(0xffffffff*3600, 0)) {
		t.Errorf("NewestHour = %v, %v; want the future object's hour", h, err)
	}
	all, err := l.Keys(ctx)
	if err != nil || len(all) != 6 {
		t.Errorf("Keys = %q, %v; want the 6 objects", all, err)
	}

	got, err := l.LegacyKeys(ctx)
	if err != nil || len(got) != 1 || got[0] != legacy {
		t.Fatalf("LegacyKeys = %q, %v; want [%s]", got, err, legacy)
	}
	if r, err := l.Open(ctx, legacy); err != nil {
		t.Errorf("Open of a legacy object: %v", err)
	} else {
		r.Close()
	}
	if err := l.MarkLegacySwept(); err != nil {
		t.Fatal(err)
	}
	if got, err := l.LegacyKeys(ctx); err != nil || len(got) != 0 {
		t.Errorf("LegacyKeys once swept = %q, %v; want none", got, err)
	}
	if err := l.Delete(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.legacyPath(legacy)); !os.IsNotExist(err) {
		t.Errorf("a legacy object survived its Delete: %v", err)
	}

	// An hour's folder, and its ten days' folder, go with their last
	// object; a later Put makes them again.
	for _, k := range append(keys, old) {
		if err := l.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{keys[0], old} {
		if _, err := os.Stat(filepath.Dir(l.path(k))); !os.IsNotExist(err) {
			t.Errorf("the hour's folder of %s survived its last object: %v", k, err)
		}
		if _, err := os.Stat(filepath.Dir(filepath.Dir(l.path(k)))); !os.IsNotExist(err) {
			t.Errorf("the ten days' folder of %s survived its last object: %v", k, err)
		}
	}
	if _, _, err := l.Put(ctx, strings.NewReader("age-encryption.org/v1 ...")); err != nil {
		t.Errorf("Put after its hour's folder was removed: %v", err)
	}
}
