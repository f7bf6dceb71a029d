// Package blob keeps pista's encrypted objects.
//
// Every object is a standard age file, encrypted before its first byte
// reaches the store: no plaintext is ever written here.
//
// # Write order
//
// A tip is stored object first, row second (DESIGN.md). Put writes to a
// temporary file under tmp/, fsyncs it, renames it to its final name and
// fsyncs the directory; only then does the caller insert the rows, in one
// transaction. A crash before the rename leaves only a temporary file,
// which the server removes at its next start (RemoveTemp, called only by
// the process that holds the data folder's lock); a crash after it
// leaves an object no row refers to, which the server's start-up sweep
// deletes. A crash can never leave a row without its object.
//
// Object files and the store's folders get the same coarse times the
// database records (pista.TimeGranularity), so the file system does not
// keep what the rows don't (see times.go for what it can and cannot cover).
//
// A new objects/xx/ folder is fsynced into objects/ before its first
// object is renamed into it, and the object's folder after the rename: a
// power cut after the row's commit finds both.
package blob

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pista-tips/pista"
)

// Local is a BlobStore in a folder of the local file system:
// objects/ab/abcdef… for objects and tmp/ for writes in progress.
type Local struct {
	dir string
	// MinFree is the floor of free disk space, in bytes, that writes keep:
	// a write that would cross it fails with ErrFull and leaves nothing
	// behind, so that the database and the system keep room to work.
	MinFree int64
}

var _ pista.BlobStore = (*Local)(nil)

// OpenLocal opens (creating) a store in dir. It removes nothing: another
// process (a running server) may be writing to it. The process that holds
// the data folder (the server, see server.New) calls RemoveTemp.
func OpenLocal(dir string) (*Local, error) {
	for _, d := range []string{dir, filepath.Join(dir, "objects"), filepath.Join(dir, "tmp")} {
		if err := mkdir(d); err != nil {
			return nil, err
		}
	}
	return &Local{dir: dir}, nil
}

// RemoveTemp deletes every temporary file: what a crash left behind. Only
// the process holding the data folder may call it, before it writes.
func (l *Local) RemoveTemp() error {
	entries, err := os.ReadDir(filepath.Join(l.dir, "tmp"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(l.dir, "tmp", e.Name())); err != nil {
			return err
		}
	}
	return Coarsen(l.TempDir())
}

// TempDir is the store's folder of writes in progress, emptied at every
// start: the place for other temporary files too (always encrypted).
func (l *Local) TempDir() string { return filepath.Join(l.dir, "tmp") }

// validKey reports whether key is one that Put makes: 32 lowercase hex
// digits. Anything else never reaches the file system.
func validKey(key string) bool {
	if len(key) != 32 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (l *Local) path(key string) string {
	return filepath.Join(l.dir, "objects", key[:2], key)
}

// writeBuffer is the size of Put's writes (see pista bench).
const writeBuffer = 256 << 10

// Put copies r to a new object. On any error, nothing is left behind.
func (l *Local) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	var raw [16]byte
	rand.Read(raw[:])
	key := hex.EncodeToString(raw[:])
	f, err := os.CreateTemp(filepath.Join(l.dir, "tmp"), "put-*")
	if err != nil {
		return "", 0, fmt.Errorf("blob: %w", full(err))
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
			Coarsen(l.TempDir())
		}
	}()
	if err := l.Room(0); err != nil {
		return "", 0, err
	}
	// Write in blocks of writeBuffer bytes: io.Copy straight into the
	// file would write each 64 KiB + 16 byte age chunk that comes through
	// intake's pipe as three writes (32 KiB, 32 KiB, 16 bytes), all
	// misaligned, which costs more than the encryption. The file is
	// wrapped so that the buffer reads into itself, not os.File.ReadFrom.
	bw := bufio.NewWriterSize(struct{ io.Writer }{f}, writeBuffer)
	n, err := io.Copy(bw, ctxReader{ctx, &roomReader{l: l, r: r}})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return "", 0, fmt.Errorf("blob: writing object: %w", full(err))
	}
	if err := f.Sync(); err != nil {
		return "", 0, fmt.Errorf("blob: %w", full(err))
	}
	if err := f.Close(); err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	t := pista.Now()
	if err := os.Chtimes(tmp, t, t); err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	dir := filepath.Dir(l.path(key))
	// A new objects/xx/ is synced into objects/ before anything goes in
	// it: otherwise a power cut could take the folder, and the object
	// with it, while the row stays.
	if err := mkdir(dir); err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	if err := os.Rename(tmp, l.path(key)); err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	ok = true
	// The rename is durable once the folder it went into is synced (the
	// folder it left, tmp/, only loses a temporary name).
	if err := syncDir(dir); err != nil {
		os.Remove(l.path(key))
		return "", 0, fmt.Errorf("blob: %w", full(err))
	}
	Coarsen(dir)
	Coarsen(l.TempDir())
	return key, n, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open opens an object for reading.
func (l *Local) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if !validKey(key) {
		return nil, pista.ErrNotFound
	}
	f, err := openNoAtime(l.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, pista.ErrNotFound
	}
	return f, err
}

// Delete removes an object; deleting a missing one is not an error.
func (l *Local) Delete(ctx context.Context, key string) error {
	if !validKey(key) {
		return nil
	}
	err := os.Remove(l.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		Coarsen(filepath.Dir(l.path(key)))
	}
	return err
}

// Keys lists every object.
func (l *Local) Keys(ctx context.Context) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(filepath.Join(l.dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && validKey(d.Name()) && strings.HasPrefix(d.Name(), filepath.Base(filepath.Dir(p))) {
			keys = append(keys, d.Name())
		}
		return ctx.Err()
	})
	// Listing moved the folders' access times.
	CoarsenData(l.dir)
	return keys, err
}

// ctxReader stops a copy when its context ends (a client that goes away
// in the middle of an upload).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
