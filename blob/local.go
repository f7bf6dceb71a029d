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
// A new object folder is fsynced into the one above it before its first
// object is renamed into it, and the object's folder after the rename: a
// power cut after the row's commit finds both.
//
// # Keys and folders
//
// A key is 32 lowercase hex digits, as an S3 bucket's (package s3): the
// first 8 are the hour of the write (hours since 1970,
// pista.TimeGranularity), the other 24 random (96 bits). An object lives
// in objects/HHHHHH/hh/KEY, where HHHHHH and hh are the key's first 6 and
// next 2 digits: a folder per hour, in a folder per 256 hours (about ten
// days), so that no folder grows with the age of the instance or the
// number of its objects beyond an hour's writes. KeysBetween lists the
// objects written in a span of hours by reading those hours' folders
// only: the orphan sweep (server.SweepRecentOrphans) costs what was
// written in the hours it looks at, not the number of objects. An hour's
// folder is removed when its last object is (Delete), so that the folders
// say no more than the rows' coarse times do.
//
// Folders made before keys had an hour (objects/xx/, the first two digits
// of a random key) are still read and deleted from; nothing new goes
// there (LegacyKeys).
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
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pista-tips/pista"
)

// Local is a BlobStore in a folder of the local file system:
// objects/HHHHHH/hh/KEY for objects (see Keys and folders above) and
// tmp/ for writes in progress.
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

// newKey makes a key for an object written at t: its hour, then 96
// random bits (as package s3's).
func newKey(t time.Time) string {
	var raw [16]byte
	hour := uint32(t.Unix() / 3600)
	raw[0], raw[1], raw[2], raw[3] = byte(hour>>24), byte(hour>>16), byte(hour>>8), byte(hour)
	rand.Read(raw[4:])
	return hex.EncodeToString(raw[:])
}

// path is where an object is: objects/HHHHHH/hh/KEY.
func (l *Local) path(key string) string {
	return filepath.Join(l.dir, "objects", key[:6], key[6:8], key)
}

// legacyPath is where an object written before keys had an hour is:
// objects/xx/KEY.
func (l *Local) legacyPath(key string) string {
	return filepath.Join(l.dir, "objects", key[:2], key)
}

// writeBuffer is the size of Put's writes (see pista bench).
const writeBuffer = 256 << 10

// Put copies r to a new object. On any error, nothing is left behind.
// writers are Put's write buffers, reused: a sorter's thousands of small
// objects would each allocate one (writeBuffer bytes).
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBuffer) }}

func (l *Local) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	key := newKey(pista.Now())
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
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(struct{ io.Writer }{f})
	n, err := io.Copy(bw, ctxReader{ctx, &roomReader{l: l, r: r}})
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	writers.Put(bw)
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
	// A new hour's folder is synced into the one above before anything
	// goes in it: otherwise a power cut could take the folder, and the
	// object with it, while the row stays. Delete removes a folder it
	// empties, maybe between the two: then the folder is made again.
	for try := 0; ; try++ {
		if err := mkdir(dir); err != nil {
			return "", 0, fmt.Errorf("blob: %w", err)
		}
		err := os.Rename(tmp, l.path(key))
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || try == 3 {
			return "", 0, fmt.Errorf("blob: %w", err)
		}
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
		f, err = openNoAtime(l.legacyPath(key))
	}
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
	p := l.path(key)
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		p = l.legacyPath(key)
		err = os.Remove(p)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if p == l.legacyPath(key) {
		Coarsen(dir)
		return nil
	}
	// An hour's folder goes with its last object, and the ten days'
	// folder with its last hour (fails, harmlessly, if not empty).
	if os.Remove(dir) != nil {
		Coarsen(dir)
		return nil
	}
	up := filepath.Dir(dir)
	if os.Remove(up) != nil {
		Coarsen(up)
		return nil
	}
	Coarsen(filepath.Dir(up))
	return nil
}

// Keys lists every object.
func (l *Local) Keys(ctx context.Context) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(filepath.Join(l.dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && validKey(d.Name()) && (p == l.path(d.Name()) || p == l.legacyPath(d.Name())) {
			keys = append(keys, d.Name())
		}
		return ctx.Err()
	})
	// Listing moved the folders' access times.
	CoarsenData(l.dir)
	coarsenObjects(l.dir)
	return keys, err
}

// hexName reports whether name is n lowercase hex digits, and their value.
func hexName(name string, n int) (int64, bool) {
	if len(name) != n {
		return 0, false
	}
	for i := 0; i < n; i++ {
		if c := name[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(name, 16, 64)
	return v, err == nil
}

// hours lists the hour folders of objects/ from hour lo to hour hi, both
// included, in order, as their hours and paths; it reads objects/ and the
// ten days' folders of the span only.
func (l *Local) hours(lo, hi int64) (hours []int64, dirs []string, err error) {
	objects := filepath.Join(l.dir, "objects")
	tops, err := os.ReadDir(objects)
	if err != nil {
		return nil, nil, err
	}
	for _, top := range tops {
		t, ok := hexName(top.Name(), 6)
		if !ok || !top.IsDir() || t < lo>>8 || t > hi>>8 {
			continue
		}
		subs, err := os.ReadDir(filepath.Join(objects, top.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // emptied by a Delete since
		}
		if err != nil {
			return nil, nil, err
		}
		Coarsen(filepath.Join(objects, top.Name()))
		for _, sub := range subs {
			b, ok := hexName(sub.Name(), 2)
			if h := t<<8 | b; ok && sub.IsDir() && h >= lo && h <= hi {
				hours = append(hours, h)
				dirs = append(dirs, filepath.Join(objects, top.Name(), sub.Name()))
			}
		}
	}
	Coarsen(objects)
	return hours, dirs, nil
}

// KeysBetween lists the objects written from hour from to hour to, both
// included, in order: a listing of those hours' folders only (objects
// from before keys had an hour are not among them: LegacyKeys).
func (l *Local) KeysBetween(ctx context.Context, from, to time.Time) ([]string, error) {
	lo, hi := max(from.Unix()/3600, 0), min(to.Unix()/3600, 1<<32-1)
	if lo > hi {
		return nil, nil
	}
	_, dirs, err := l.hours(lo, hi)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		files, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if k := f.Name(); validKey(k) && filepath.Join(dir, k) == l.path(k) {
				keys = append(keys, k)
			}
		}
		// Listing moved the folder's access time.
		Coarsen(dir)
	}
	slices.Sort(keys)
	return keys, nil
}

// NewestHour is the hour of the newest object's folder, zero if there is
// none: the last hour a server of this folder wrote an object in.
func (l *Local) NewestHour() (time.Time, error) {
	hours, _, err := l.hours(0, 1<<32-1)
	if err != nil || len(hours) == 0 {
		return time.Time{}, err
	}
	return time.Unix(slices.Max(hours)*3600, 0).UTC(), nil
}

// legacySwept, in objects/, says that the objects written before keys had
// an hour have been swept once: no new object goes to their folders, so
// once is enough.
const legacySwept = "LEGACY-SWEPT"

// LegacyKeys lists the objects written before keys had an hour (in
// objects/xx/), until MarkLegacySwept: none once they have been swept.
func (l *Local) LegacyKeys(ctx context.Context) ([]string, error) {
	objects := filepath.Join(l.dir, "objects")
	if _, err := os.Stat(filepath.Join(objects, legacySwept)); err == nil {
		return nil, nil
	}
	tops, err := os.ReadDir(objects)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, top := range tops {
		if _, ok := hexName(top.Name(), 2); !ok || !top.IsDir() {
			continue
		}
		dir := filepath.Join(objects, top.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if k := f.Name(); validKey(k) && filepath.Join(dir, k) == l.legacyPath(k) {
				keys = append(keys, k)
			}
		}
		Coarsen(dir)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	Coarsen(objects)
	return keys, nil
}

// MarkLegacySwept records that the objects LegacyKeys lists have been
// swept: it lists none from then on.
func (l *Local) MarkLegacySwept() error {
	objects := filepath.Join(l.dir, "objects")
	if err := os.WriteFile(filepath.Join(objects, legacySwept), nil, 0o600); err != nil {
		return err
	}
	Coarsen(filepath.Join(objects, legacySwept))
	return Coarsen(objects)
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
