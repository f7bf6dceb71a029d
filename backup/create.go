package backup

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob"
)

// Files is the data folder's files, beside the database and the objects,
// that a backup carries: the onion services' keys (cmd/pista's tor.go),
// whose loss would change the tip line's onion address. Those missing
// are skipped. Tor's own state (tor/) and uploads in progress are not
// carried: they are rebuilt, or were never acknowledged.
var Files = []string{
	"onion-source.key",
	"onion-newsroom.key",
	"onion-newsroom.auth_private",
	"onion-newsroom.clients",
}

// Options are what Create is told.
type Options struct {
	Data       string          // the data folder (its server may be running)
	Out        string          // the backup file to write; its catalog goes beside it
	Recipients []age.Recipient // the admin keys the backup is encrypted to
	// Since, if set, makes the backup incremental: objects the catalog
	// lists are not copied again.
	Since   *Catalog
	Version string // pista's version, recorded in the header
	// Progress, if set, is told how far the copy of objects has got.
	Progress func(copied, bytes int64)
}

// Result says what Create wrote.
type Result struct {
	Header  Header
	Counts  Counts // the snapshot's rows and the objects they name
	Copied  int64  // objects copied into this backup
	Bytes   int64  // their size
	Skipped int64  // objects named by the rows that an earlier backup of the chain carries
	Size    int64  // the backup file's size
	Catalog string // the catalog's path
}

// ErrPostgres is Create's answer for a data folder whose rows are in
// PostgreSQL.
var ErrPostgres = errors.New("the rows of this data folder are in PostgreSQL (" + serverPostgresMark + "): back them up with pg_dump, and the objects with the bucket's versioning or a copy of objects/")

// serverPostgresMark is server.PostgresMark (not imported: package
// server imports nearly everything).
const serverPostgresMark = "ROWS-IN-POSTGRESQL"

// databaseFile is server.DBFile.
const databaseFile = "pista.db"

// snapshotRetries bounds how often Create takes a new snapshot when an
// object its rows name was deleted before it was copied.
const snapshotRetries = 10

// Create writes a backup of a data folder to o.Out, while its server
// serves. See the package documentation for what it holds and how it
// stays consistent.
func Create(ctx context.Context, o Options) (_ *Result, err error) {
	if len(o.Recipients) == 0 {
		return nil, errors.New("no recipient to encrypt the backup to")
	}
	if _, err := os.Stat(filepath.Join(o.Data, serverPostgresMark)); err == nil {
		return nil, ErrPostgres
	}
	dbPath := filepath.Join(o.Data, databaseFile)
	if fi, err := os.Stat(dbPath); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a pista data folder: it has no %s", o.Data, databaseFile)
	}
	db, err := openDatabase(dbPath, true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	objects, err := blob.OpenLocal(o.Data)
	if err != nil {
		return nil, err
	}

	res := &Result{Header: Header{
		Format: Format, Pista: o.Version, Created: pista.Now(), ID: newID(),
	}}
	if o.Since != nil {
		res.Header.Chain = append(append([]string(nil), o.Since.Chain...), res.Header.ID)
	} else {
		res.Header.Chain = []string{res.Header.ID}
	}

	dir, base := filepath.Split(o.Out)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	aw, err := age.Encrypt(bw, o.Recipients...)
	if err != nil {
		return nil, fmt.Errorf("--recipient: %w", err)
	}
	w := &writer{tw: tar.NewWriter(aw), created: res.Header.Created, copied: map[string]bool{}}
	if err := w.header(&res.Header); err != nil {
		return nil, err
	}

	// The objects first: those the rows name now, then, in the snapshot,
	// those its rows name that were not there yet. An object is deleted
	// only after the rows that name it (blob's write order), so one that
	// is gone before the snapshot began is named by none of its rows.
	had := func(k string) bool { return w.copied[k] || (o.Since != nil && o.Since.Keys[k]) }
	live, err := objectKeys(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dbPath, err)
	}
	for _, k := range live {
		if had(k) {
			continue
		}
		if err := w.object(ctx, objects, k); err != nil && !errors.Is(err, pista.ErrNotFound) {
			return nil, err
		}
		if o.Progress != nil {
			o.Progress(int64(len(w.copied)), w.bytes)
		}
	}
	var snap *snapshot
	for try := 0; ; try++ {
		if snap, err = beginSnapshot(ctx, db); err != nil {
			return nil, err
		}
		err = nil
		missing := ""
		for _, k := range snap.keys {
			if had(k) {
				continue
			}
			if err = w.object(ctx, objects, k); err != nil {
				missing = k
				break
			}
		}
		if err == nil {
			break
		}
		snap.end()
		if !errors.Is(err, pista.ErrNotFound) {
			return nil, err
		}
		// Deleted (with its rows) since the snapshot began: a newer
		// snapshot does not name it. Unless the rows still do.
		live, err := objectKeys(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dbPath, err)
		}
		if _, named := slices.BinarySearch(live, missing); named {
			return nil, fmt.Errorf("a row names the object %s, which is not in %s: if the objects are in an S3 bucket (--objects), back the bucket up with its versioning; pista backup reads only the data folder's",
				missing, filepath.Join(o.Data, "objects"))
		}
		if try == snapshotRetries {
			return nil, fmt.Errorf("objects were deleted while each of %d snapshots was copied; try again when fewer conversations are being deleted", try+1)
		}
	}
	defer snap.end()
	for _, k := range snap.keys {
		if !w.copied[k] {
			res.Skipped++
		}
	}
	res.Counts = snap.counts
	res.Copied, res.Bytes = int64(len(w.copied)), w.bytes
	res.Counts.Bytes = w.bytes

	if err := w.entry(databaseName, snap.size(), func(to io.Writer) error { return snap.writeTo(ctx, to) }); err != nil {
		return nil, err
	}
	snap.end()
	for _, name := range Files {
		b, err := os.ReadFile(filepath.Join(o.Data, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		if len(b) > maxFile {
			return nil, fmt.Errorf("%s is over %d bytes", name, maxFile)
		}
		if err := w.entry(filesDir+name, int64(len(b)), func(to io.Writer) error {
			_, err := to.Write(b)
			return err
		}); err != nil {
			return nil, err
		}
	}
	if err := w.manifest(res.Header.ID, res.Counts); err != nil {
		return nil, err
	}
	if err := errors.Join(w.tw.Close(), aw.Close(), bw.Flush()); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if res.Size, err = f.Seek(0, io.SeekCurrent); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}

	// The catalog, then both renames: the backup first, so that a
	// catalog never names a backup that is not there.
	cat := &Catalog{Chain: res.Header.Chain, Keys: w.copied}
	var keys []string
	for k := range w.copied {
		keys = append(keys, k)
	}
	if o.Since != nil {
		for k := range o.Since.Keys {
			if !w.copied[k] {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	res.Catalog = CatalogFile(o.Out)
	cf, err := os.CreateTemp(dir, filepath.Base(res.Catalog)+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(cf.Name())
	if err := errors.Join(cat.write(cf, keys), cf.Sync(), cf.Close()); err != nil {
		return nil, err
	}
	if err := os.Rename(f.Name(), o.Out); err != nil {
		return nil, err
	}
	if err := os.Rename(cf.Name(), res.Catalog); err != nil {
		return nil, err
	}
	return res, syncDir(dir)
}

// writer writes a backup's tar stream, noting each entry for the
// manifest.
type writer struct {
	tw      *tar.Writer
	created time.Time
	entries []Entry
	copied  map[string]bool // objects written
	bytes   int64           // their size
	buf     []byte
}

func (w *writer) header(h *Header) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	// The header is not in the manifest: it is checked on its own.
	if err := w.tw.WriteHeader(w.tarHeader(headerName, int64(len(b)))); err != nil {
		return err
	}
	_, err = w.tw.Write(b)
	return err
}

func (w *writer) tarHeader(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: w.created, Format: tar.FormatPAX}
}

// entry writes one entry of size bytes, produced by write, and notes its
// SHA-256.
func (w *writer) entry(name string, size int64, write func(io.Writer) error) error {
	if err := w.tw.WriteHeader(w.tarHeader(name, size)); err != nil {
		return err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w.tw, h)}
	if err := write(cw); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if cw.n != size {
		return fmt.Errorf("%s: %d bytes where %d were due", name, cw.n, size)
	}
	e := Entry{Name: name, Size: size}
	h.Sum(e.SHA256[:0])
	w.entries = append(w.entries, e)
	return nil
}

// object copies one object; pista.ErrNotFound if it is not there.
func (w *writer) object(ctx context.Context, objects *blob.Local, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rc, err := objects.Open(ctx, key)
	if err != nil {
		if errors.Is(err, pista.ErrNotFound) {
			return fmt.Errorf("object %s: %w", key, err)
		}
		return err
	}
	defer rc.Close()
	st, ok := rc.(interface{ Stat() (fs.FileInfo, error) })
	if !ok {
		return errors.New("the objects are not in the data folder")
	}
	fi, err := st.Stat()
	if err != nil {
		return err
	}
	if w.buf == nil {
		w.buf = make([]byte, 256<<10)
	}
	if err := w.entry(objectName(key), fi.Size(), func(to io.Writer) error {
		_, err := io.CopyBuffer(to, io.LimitReader(struct{ io.Reader }{rc}, fi.Size()), w.buf)
		return err
	}); err != nil {
		return err
	}
	w.copied[key] = true
	w.bytes += fi.Size()
	return nil
}

func (w *writer) manifest(id string, c Counts) error {
	var b bytesWriter
	writeManifestHead(&b, id)
	for _, e := range w.entries {
		writeManifestEntry(&b, e)
	}
	writeManifestEnd(&b, c)
	if err := w.tw.WriteHeader(w.tarHeader(manifestName, int64(len(b)))); err != nil {
		return err
	}
	_, err := w.tw.Write(b)
	return err
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// openDatabase opens a SQLite file as it is, without migrating it (the
// server that runs on it may be of another version): read-only for a
// backup, beside the running server (busy_timeout: the server's
// checkpoints may hold it for a moment).
func openDatabase(path string, readOnly bool) (*sql.DB, error) {
	q := url.Values{"_pragma": {"busy_timeout(10000)"}}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
