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
	"sync"
	"syscall"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob/s3"
)

// copyObjects copies every object named (the keys the rows name) from
// the folder to the bucket, under its key, then reads back each one it
// sent: the same size and SHA-256, or an error. Objects go workers at a
// time, each streamed (s3.Store.PutKey holds at most one part in memory):
// a bucket far away answers each request after a round trip, and an
// instance has mostly small objects.
func copyObjects(ctx context.Context, named []string, dir string, bucket *s3.Store, workers int, sum *Summary, progress func(Progress)) error {
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

	type copied struct {
		sum     [sha256.Size]byte
		size    int64
		present bool
	}
	res := make([]copied, len(todo))
	done := 0
	err = inParallel(ctx, len(todo), workers, func(ctx context.Context, i int) error {
		k := todo[i]
		h, n, present, err := copyObject(ctx, bucket, objectPath(dir, k), k)
		if err != nil {
			return fmt.Errorf("copying object %s: %w", k, err)
		}
		res[i] = copied{h, n, present}
		return nil
	}, func(i int) {
		if res[i].present {
			sum.Present++
		} else {
			sum.Objects++
		}
		sum.Bytes += res[i].size
		done++
		progress(Progress{Phase: PhaseObjects, Done: done, Total: len(todo), Bytes: sum.Bytes})
	})
	if err != nil {
		return err
	}

	var check []int // what was sent: the rest was compared already
	for i := range todo {
		if !res[i].present {
			check = append(check, i)
		}
	}
	var bytes int64
	done = 0
	return inParallel(ctx, len(check), workers, func(ctx context.Context, j int) error {
		k, want := todo[check[j]], res[check[j]]
		h, n, err := hashObject(ctx, bucket, k)
		if err != nil {
			return fmt.Errorf("reading object %s back from the bucket: %w", k, err)
		}
		if n != want.size || h != want.sum {
			return fmt.Errorf("object %s reads back from the bucket as %d bytes with SHA-256 %x, not as the file's %d bytes with %x", k, n, h, want.size, want.sum)
		}
		return nil
	}, func(j int) {
		bytes += res[check[j]].size
		done++
		progress(Progress{Phase: PhaseVerify, Done: done, Total: len(check), Bytes: bytes})
	})
}

// inParallel runs do(ctx, i) for each i in [0, n), workers at a time,
// and then(i) after each that succeeds, one at a time. The first error
// stops the others (their context ends) and is returned; so is ctx's
// end.
func inParallel(ctx context.Context, n, workers int, do func(context.Context, int) error, then func(int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	jobs := make(chan int)
	for range max(1, min(workers, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				err := do(ctx, i)
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				} else if err == nil && first == nil {
					then(i)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
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
	// Objects written since keys begin with their hour are in
	// objects/HHHHHH/hh/; older ones in objects/xx/.
	add := func(folder string, fits func(key string) bool) error {
		es, err := os.ReadDir(folder)
		if err != nil {
			return err
		}
		for _, e := range es {
			if k := e.Name(); e.Type().IsRegular() && validKey(k) && fits(k) {
				keys[k] = true
			}
		}
		return nil
	}
	for _, s := range subs {
		name := s.Name()
		if !s.IsDir() {
			continue
		}
		switch len(name) {
		case 2:
			if err := add(filepath.Join(dir, "objects", name), func(k string) bool { return k[:2] == name }); err != nil {
				return nil, err
			}
		case 6:
			hours, err := os.ReadDir(filepath.Join(dir, "objects", name))
			if err != nil {
				return nil, err
			}
			for _, h := range hours {
				hh := h.Name()
				if !h.IsDir() || len(hh) != 2 {
					continue
				}
				if err := add(filepath.Join(dir, "objects", name, hh), func(k string) bool { return k[:6] == name && k[6:8] == hh }); err != nil {
					return nil, err
				}
			}
		}
	}
	return keys, nil
}

// objectPath is where blob.Local keeps key: objects/HHHHHH/hh/KEY, or,
// for an object written before keys began with their hour, objects/xx/KEY.
func objectPath(dir, key string) string {
	p := filepath.Join(dir, "objects", key[:6], key[6:8], key)
	if _, err := os.Lstat(p); err == nil {
		return p
	}
	return filepath.Join(dir, "objects", key[:2], key)
}

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
