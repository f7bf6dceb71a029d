// Package blobtest is the contract every pista.BlobStore keeps, run
// against the local folder (blob.Local) and S3 (blob/s3, on a real
// MinIO: see MinIO).
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pista-tips/pista"
)

// Run checks the contract on empty stores that open makes, one per
// subtest.
func Run(t *testing.T, open func(t *testing.T) pista.BlobStore) {
	ctx := context.Background()
	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		// Sizes around S3's 5 MiB part and across several parts.
		for _, size := range []int{0, 1, 25, 64 << 10, 64<<10 + 16, 5<<20 - 1, 5 << 20, 5<<20 + 1, 12<<20 + 7} {
			want := make([]byte, size)
			rand.Read(want)
			// A reader that hands out one byte at a time for the small
			// ones, as a slow network does.
			var r io.Reader = bytes.NewReader(want)
			if size < 1<<10 {
				r = iotest.OneByteReader(r)
			}
			key, n, err := s.Put(ctx, r)
			if err != nil || n != int64(size) {
				t.Fatalf("Put(%d bytes) = %q, %d, %v", size, key, n, err)
			}
			got := read(t, s, key)
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bytes in, %d different bytes back", size, len(got))
			}
		}
	})
	t.Run("KeysAreNewAndListed", func(t *testing.T) {
		s := open(t)
		var put []string
		for i := range 5 {
			key, _, err := s.Put(ctx, strings.NewReader(strings.Repeat("x", i)))
			if err != nil {
				t.Fatal(err)
			}
			if !validKey(key) {
				t.Fatalf("key %q: want 32 lowercase hex digits", key)
			}
			if slices.Contains(put, key) {
				t.Fatalf("key %q given twice", key)
			}
			put = append(put, key)
		}
		keys, err := s.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		slices.Sort(put)
		if !slices.Equal(keys, put) {
			t.Fatalf("Keys = %q, want %q", keys, put)
		}
	})
	t.Run("MissingAndInvalidKeys", func(t *testing.T) {
		s := open(t)
		key, _, err := s.Put(ctx, strings.NewReader("age-encryption.org/v1 ..."))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("deleting a missing object: %v", err)
		}
		for _, k := range []string{key, "", "../../etc/passwd", "ABCDEF0123456789ABCDEF0123456789", "0123456789abcdef0123456789abcdef/x"} {
			if _, err := s.Open(ctx, k); !errors.Is(err, pista.ErrNotFound) {
				t.Errorf("Open(%q) = %v, want ErrNotFound", k, err)
			}
			if err := s.Delete(ctx, k); err != nil {
				t.Errorf("Delete(%q) = %v", k, err)
			}
		}
		if keys, err := s.Keys(ctx); err != nil || len(keys) != 0 {
			t.Fatalf("Keys after Delete = %q, %v", keys, err)
		}
	})
	t.Run("FailedPutLeavesNothing", func(t *testing.T) {
		s := open(t)
		for name, size := range map[string]int{"short": 1 << 10, "one part": 5<<20 + 3, "several parts": 11 << 20} {
			broken := io.MultiReader(bytes.NewReader(make([]byte, size)), iotest.ErrReader(errors.New("connection reset")))
			if _, _, err := s.Put(ctx, broken); err == nil {
				t.Fatalf("%s: Put of a broken stream succeeded", name)
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := s.Put(cctx, strings.NewReader("x")); err == nil {
			t.Fatal("Put with a cancelled context succeeded")
		}
		// Cancelled in the middle of a long write.
		cctx, cancel = context.WithCancel(ctx)
		r := &cancelAfter{r: bytes.NewReader(make([]byte, 16<<20)), n: 7 << 20, cancel: cancel}
		if _, _, err := s.Put(cctx, r); err == nil {
			t.Fatal("Put cancelled in the middle succeeded")
		}
		if keys, err := s.Keys(ctx); err != nil || len(keys) != 0 {
			t.Fatalf("failed Puts left %q, %v", keys, err)
		}
	})
}

// cancelAfter cancels its context once n bytes have been read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func read(t *testing.T, s pista.BlobStore, key string) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return b
}

func validKey(key string) bool {
	if len(key) != 32 {
		return false
	}
	for _, c := range []byte(key) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
