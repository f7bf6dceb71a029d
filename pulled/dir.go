package pulled

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Folders are written and read without following links. A pulled folder
// may come from a hostile server (through Pull) or be handed over on a
// stick, and an output folder may hold links planted by someone else
// (a shared machine, a synced folder): a link named like a file Open
// writes could otherwise send a decrypted message anywhere the journalist
// can write. So:
//
//   - each folder is opened as an os.Root, from which no name leads out,
//     and is first checked with Lstat to be a real folder, not a link;
//   - a file is written under a fresh temporary name created with
//     O_CREATE|O_EXCL, which never opens an existing file or follows a
//     link, then put in place when complete: by Rename for Pull (which
//     replaces a link rather than following it), by Link for Open, which
//     fails if the name is taken, so Open never replaces a file or a link
//     it did not write; a name holding the same bytes is left as it is,
//     and a file Open wrote before and nobody changed since (its digest is
//     in the folder's .pista-open.json) is replaced;
//   - a file is read only if Lstat says it is a regular file, and is
//     checked again once open.

// dir is a real folder, held open.
type dir struct {
	root *os.Root
	path string // for messages
}

// ExistsError is returned when Open would replace a file or a link that
// it did not write.
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s already exists and is not what pista open wrote: it was left as it is", e.Path)
}

// LinkError is returned for a link (or another odd file) where a folder
// or a file of pista's was expected.
type LinkError struct{ Path string }

func (e *LinkError) Error() string {
	return fmt.Sprintf("%s is a link or a special file, not a folder or file pista wrote: refused", e.Path)
}

// openDir opens path as a folder, made if missing when create is set.
// path itself is the user's choice and may be a link; nothing in it is
// followed.
func openDir(path string, create bool) (*dir, error) {
	if create {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, err
		}
	}
	r, err := os.OpenRoot(path)
	if err != nil {
		return nil, err
	}
	return &dir{root: r, path: path}, nil
}

func (d *dir) Close() error { return d.root.Close() }

func (d *dir) join(name string) string { return filepath.Join(d.path, name) }

// sub opens the folder name of d, which must be a real folder, made if
// missing when create is set.
func (d *dir) sub(name string, create bool) (*dir, error) {
	if create {
		if err := d.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	fi, err := d.root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &LinkError{Path: d.join(name)}
	}
	r, err := d.root.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	// The name might have been swapped for a link between the two calls.
	if got, err := r.Stat("."); err != nil || !os.SameFile(fi, got) {
		r.Close()
		return nil, &LinkError{Path: d.join(name)}
	}
	return &dir{root: r, path: d.join(name)}, nil
}

// listSub opens the folder name of d and lists its entries, as sub and
// entries do; a nil folder and no error if there is none.
func (d *dir) listSub(name string) (*dir, []fs.DirEntry, error) {
	sd, err := d.sub(name, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	entries, err := sd.entries()
	if err != nil {
		sd.Close()
		return nil, nil, err
	}
	return sd, entries, nil
}

// entries lists d's entries; their types come from the folder itself,
// without following links.
func (d *dir) entries() ([]fs.DirEntry, error) {
	f, err := d.root.Open(".")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// open opens name of d for reading: it must be a regular file (not a
// link, a folder, a device or a pipe) of at most max bytes (-1: any).
func (d *dir) open(name string, max int64) (*os.File, error) {
	fi, err := d.root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &LinkError{Path: d.join(name)}
	}
	if max >= 0 && fi.Size() > max {
		return nil, fmt.Errorf("%s is larger than a file pista writes there (%d bytes at most)", d.join(name), max)
	}
	f, err := d.root.Open(name)
	if err != nil {
		return nil, err
	}
	if got, err := f.Stat(); err != nil || !os.SameFile(fi, got) {
		f.Close()
		return nil, &LinkError{Path: d.join(name)}
	}
	return f, nil
}

// readFile reads name of d (see open) whole.
func (d *dir) readFile(name string, max int64) ([]byte, error) {
	f, err := d.open(name, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// tempFile is a file being written under a temporary name.
type tempFile struct {
	f           *os.File
	d           *dir
	name, final string
	h           hash.Hash
	n           int64
}

// create starts writing the file name of d, under a fresh temporary name
// next to it ("NAME.part-RANDOM"), which Open ignores.
func (d *dir) create(name string) (*tempFile, error) {
	for range 3 {
		tmp := name + ".part-" + rand.Text()[:16]
		f, err := d.root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		return &tempFile{f: f, d: d, name: tmp, final: name, h: sha256.New()}, nil
	}
	return nil, fmt.Errorf("%s: could not make a temporary file", d.join(name))
}

func (t *tempFile) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	t.h.Write(p[:n])
	t.n += int64(n)
	return n, err
}

// abort removes the temporary file.
func (t *tempFile) abort() {
	t.f.Close()
	t.d.root.Remove(t.name)
}

// sum is the hex SHA-256 of what was written.
func (t *tempFile) sum() string { return hex.EncodeToString(t.h.Sum(nil)) }

// commit puts the complete file in place. With own nil, it takes the
// place of whatever has the name (Pull's own files, or a link, which is
// replaced and not followed). Otherwise it never replaces a file but one
// whose digest own records (a file Open wrote, unchanged since), and a
// name holding other bytes is an *ExistsError.
func (t *tempFile) commit(own map[string]string) error {
	err := t.f.Sync()
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.d.root.Remove(t.name)
		return err
	}
	defer t.d.root.Remove(t.name) // after Link; a no-op after Rename
	if own == nil {
		if fi, err := t.d.root.Lstat(t.final); err == nil && fi.IsDir() {
			return &LinkError{Path: t.d.join(t.final)}
		}
		return t.d.root.Rename(t.name, t.final)
	}
	err = t.d.root.Link(t.name, t.final)
	if err == nil {
		return nil
	} else if errors.Is(err, fs.ErrExist) {
		return t.replaceOwn(own)
	}
	// File systems without hard links (FAT, exFAT: USB sticks) have no
	// symbolic links either; what is left is a race with another writer.
	if _, lerr := t.d.root.Lstat(t.final); lerr == nil {
		return t.replaceOwn(own)
	} else if !errors.Is(lerr, fs.ErrNotExist) {
		return lerr
	}
	return t.d.root.Rename(t.name, t.final)
}

// replaceOwn is commit when the name is taken: a regular file with the
// same bytes is left as it is, one that own says Open wrote is replaced,
// and anything else is an *ExistsError.
func (t *tempFile) replaceOwn(own map[string]string) error {
	f, err := t.d.open(t.final, -1)
	if err != nil {
		return &ExistsError{Path: t.d.join(t.final)}
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	switch have := hex.EncodeToString(h.Sum(nil)); {
	case have == t.sum():
		return nil
	case own[t.final] == have:
		// Rename replaces whatever has the name by then, and follows
		// nothing.
		return t.d.root.Rename(t.name, t.final)
	}
	return &ExistsError{Path: t.d.join(t.final)}
}

// writeFile writes r to name of d through a temporary file, and commits
// it (see commit). It returns the digest of what it wrote.
func (d *dir) writeFile(name string, r io.Reader, own map[string]string) (string, error) {
	t, err := d.create(name)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(t, r); err != nil {
		t.abort()
		return "", err
	}
	return t.sum(), t.commit(own)
}
