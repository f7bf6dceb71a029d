package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob/s3"
)

// copyObjects copies every object a row names to the bucket, under its
// key, then reads back each one it sent: the same size and SHA-256, or
// an error. One object at a time, each streamed (s3.Store.PutKey holds
// one part in memory).
func copyObjects(ctx context.Context, src *sql.DB, dir string, bucket *s3.Store, sum *Summary, progress func(Progress)) error {
	named, err := objectKeys(ctx, src)
	if err != nil {
		return err
	}
	local, err := localObjects(dir)
	if err != nil {
		return err
	}
	var todo []string
	for _, k := range named {
		if local[k] {
			todo = append(todo, k)
		} else {
			sum.Missing = append(sum.Missing, k)
		}
	}
	sum.Orphans = len(local) - len(todo)

	type sent struct {
		key  string
		sum  [sha256.Size]byte
		size int64
	}
	var check []sent
	for i, k := range todo {
		h, n, present, err := copyObject(ctx, bucket, objectPath(dir, k), k)
		if err != nil {
			return fmt.Errorf("copying object %s: %w", k, err)
		}
		if present {
			sum.Present++
		} else {
			sum.Objects++
			check = append(check, sent{k, h, n})
		}
		sum.Bytes += n
		progress(Progress{Phase: PhaseObjects, Done: i + 1, Total: len(todo), Bytes: sum.Bytes})
	}
	var bytes int64
	for i, c := range check {
		h, n, err := hashObject(ctx, bucket, c.key)
		if err != nil {
			return fmt.Errorf("reading object %s back from the bucket: %w", c.key, err)
		}
		if n != c.size || h != c.sum {
			return fmt.Errorf("object %s reads back from the bucket as %d bytes with SHA-256 %x, not as the file's %d bytes with %x", c.key, n, h, c.size, c.sum)
		}
		bytes += n
		progress(Progress{Phase: PhaseVerify, Done: i + 1, Total: len(check), Bytes: bytes})
	}
	return nil
}

// copyObject sends the file at path to the bucket under key, unless the
// bucket has it already (a re-run), and returns its SHA-256 and size.
func copyObject(ctx context.Context, bucket *s3.Store, path, key string) (h [sha256.Size]byte, n int64, present bool, err error) {
	rh, rn, err := hashObject(ctx, bucket, key)
	switch {
	case err == nil:
		lh, ln, err := hashFile(path)
		if err != nil {
			return h, 0, false, err
		}
		if lh == rh && ln == rn {
			return lh, ln, true, nil
		}
	case !errors.Is(err, pista.ErrNotFound):
		return h, 0, false, err
	}
	f, err := openNoAtime(path)
	if err != nil {
		return h, 0, false, err
	}
	defer f.Close()
	hw := sha256.New()
	n, err = bucket.PutKey(ctx, key, io.TeeReader(f, hw))
	if err != nil {
		return h, 0, false, err
	}
	copy(h[:], hw.Sum(nil))
	return h, n, false, nil
}

func hashObject(ctx context.Context, bucket *s3.Store, key string) (h [sha256.Size]byte, n int64, err error) {
	r, err := bucket.Open(ctx, key)
	if err != nil {
		return h, 0, err
	}
	defer r.Close()
	hw := sha256.New()
	if n, err = io.Copy(hw, r); err != nil {
		return h, 0, fmt.Errorf("s3: reading object: %w", err)
	}
	copy(h[:], hw.Sum(nil))
	return h, n, nil
}

func hashFile(path string) (h [sha256.Size]byte, n int64, err error) {
	f, err := openNoAtime(path)
	if err != nil {
		return h, 0, err
	}
	defer f.Close()
	hw := sha256.New()
	if n, err = io.Copy(hw, f); err != nil {
		return h, 0, err
	}
	copy(h[:], hw.Sum(nil))
	return h, n, nil
}

// objectKeys lists, sorted, the keys the rows name: what the stores'
// ObjectKeys answers (items' objects, and files' metadata).
func objectKeys(ctx context.Context, src *sql.DB) ([]string, error) {
	rows, err := src.QueryContext(ctx, `SELECT object FROM items UNION SELECT meta FROM items WHERE meta <> ''`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing objects: %w", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, rows.Err()
}

// localObjects lists the folder's objects (blob.Local's layout:
// objects/ab/abcd…), reading only the folders' entries.
func localObjects(dir string) (map[string]bool, error) {
	keys := map[string]bool{}
	subs, err := os.ReadDir(filepath.Join(dir, "objects"))
	if errors.Is(err, fs.ErrNotExist) {
		return keys, nil
	} else if err != nil {
		return nil, err
	}
	for _, s := range subs {
		if !s.IsDir() {
			continue
		}
		es, err := os.ReadDir(filepath.Join(dir, "objects", s.Name()))
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if k := e.Name(); e.Type().IsRegular() && validKey(k) && k[:2] == s.Name() {
				keys[k] = true
			}
		}
	}
	return keys, nil
}

func objectPath(dir, key string) string { return filepath.Join(dir, "objects", key[:2], key) }

// validKey is blob.Local's and s3's: 32 lowercase hex digits.
func validKey(key string) bool {
	if len(key) != 32 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// openNoAtime opens name for reading without moving its access time,
// when the process owns the file (O_NOATIME's rule).
func openNoAtime(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOATIME, 0)
	if errors.Is(err, fs.ErrPermission) {
		return os.Open(name)
	}
	return f, err
}
