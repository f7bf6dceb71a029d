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
	"strings"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob"
	"github.com/pista-tips/pista/blob/s3"
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
	// Database is the PostgreSQL database of the rows, if not the one
	// the data folder's mark names.
	Database string
	// Objects is the S3 bucket of the objects (pista serve --objects),
	// its keys from ObjectsCredentials (a file) or the environment; ""
	// for the data folder's.
	Objects, ObjectsCredentials string
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
	rows, objects, where, err := openSources(ctx, o)
	if err != nil {
		return nil, err
	}
	defer rows.close()

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
	live, err := rows.liveKeys(ctx)
	if err != nil {
		return nil, err
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
	var snap snapshotter
	for try := 0; ; try++ {
		if snap, err = rows.begin(ctx); err != nil {
			return nil, err
		}
		err = nil
		missing := ""
		for _, k := range snap.objectKeys() {
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
		live, err := rows.liveKeys(ctx)
		if err != nil {
			return nil, err
		}
		if _, named := slices.BinarySearch(live, missing); named {
			return nil, fmt.Errorf("a row names the object %s, which is not in %s: if the objects are in an S3 bucket, give its URL with --objects", missing, where)
		}
		if try == snapshotRetries {
			return nil, fmt.Errorf("objects were deleted while each of %d snapshots was copied; try again when fewer conversations are being deleted", try+1)
		}
	}
	defer snap.end()
	for _, k := range snap.objectKeys() {
		if !w.copied[k] {
			res.Skipped++
		}
	}
	res.Counts = snap.rowCounts()
	res.Copied, res.Bytes = int64(len(w.copied)), w.bytes
	res.Counts.Bytes = w.bytes

	if err := snap.writeRows(ctx, w); err != nil {
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
func (w *writer) object(ctx context.Context, objects objectSource, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rc, size, err := objects.open(ctx, key)
	if err != nil {
		if errors.Is(err, pista.ErrNotFound) {
			return fmt.Errorf("object %s: %w", key, err)
		}
		return err
	}
	defer rc.Close()
	if w.buf == nil {
		w.buf = make([]byte, 256<<10)
	}
	if err := w.entry(objectName(key), size, func(to io.Writer) error {
		_, err := io.CopyBuffer(to, io.LimitReader(struct{ io.Reader }{rc}, size), w.buf)
		return err
	}); err != nil {
		return err
	}
	w.copied[key] = true
	w.bytes += size
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

// rowSource is where the rows are: SQLite's pista.db in the data folder,
// or the PostgreSQL database its mark names.
type rowSource interface {
	// liveKeys lists, sorted, the objects the rows name now.
	liveKeys(ctx context.Context) ([]string, error)
	// begin takes a consistent snapshot of the rows.
	begin(ctx context.Context) (snapshotter, error)
	close()
}

// snapshotter is a snapshot of the rows: the objects they name, their
// counts, and the rows themselves, written into the backup.
type snapshotter interface {
	objectKeys() []string // sorted
	rowCounts() Counts
	writeRows(ctx context.Context, w *writer) error
	end()
}

// objectSource is where the objects are: the data folder or a bucket.
type objectSource interface {
	open(ctx context.Context, key string) (io.ReadCloser, int64, error)
}

type localObjects struct{ *blob.Local }

func (l localObjects) open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	rc, err := l.Open(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	st, ok := rc.(interface{ Stat() (fs.FileInfo, error) })
	if !ok {
		rc.Close()
		return nil, 0, errors.New("the objects are not in the data folder")
	}
	fi, err := st.Stat()
	if err != nil {
		rc.Close()
		return nil, 0, err
	}
	return rc, fi.Size(), nil
}

type bucketObjects struct{ *s3.Store }

func (b bucketObjects) open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	return b.OpenSized(ctx, key)
}

// openBucket opens the S3 bucket rawURL names, with the keys of
// credentialsFile or the environment.
func openBucket(ctx context.Context, rawURL, credentialsFile string) (*s3.Store, error) {
	cfg, err := s3.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--objects: %w", err)
	}
	if cfg.Creds, err = s3.Credentials(credentialsFile, os.Getenv); err != nil {
		return nil, err
	}
	return s3.Open(ctx, cfg)
}

// openSources opens the rows and the objects of the data folder o.Data,
// and says where the objects are.
func openSources(ctx context.Context, o Options) (rowSource, objectSource, string, error) {
	mark, err := os.ReadFile(filepath.Join(o.Data, serverPostgresMark))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, "", err
	}
	url, _, _ := strings.Cut(string(mark), "\n")
	if o.Database != "" {
		url = o.Database
	}
	var rows rowSource
	if url == "" {
		dbPath := filepath.Join(o.Data, databaseFile)
		if fi, err := os.Stat(dbPath); err != nil || !fi.Mode().IsRegular() {
			return nil, nil, "", fmt.Errorf("%s is not a pista data folder: it has no %s (nor %s, for rows in PostgreSQL)", o.Data, databaseFile, serverPostgresMark)
		}
		db, err := openDatabase(dbPath, true)
		if err != nil {
			return nil, nil, "", err
		}
		rows = sqliteSource{db}
	} else {
		if rows, err = openPostgres(ctx, url); err != nil {
			return nil, nil, "", err
		}
	}
	if o.Objects != "" {
		store, err := openBucket(ctx, o.Objects, o.ObjectsCredentials)
		if err != nil {
			rows.close()
			return nil, nil, "", err
		}
		return rows, bucketObjects{store}, store.String(), nil
	}
	local, err := blob.OpenLocal(o.Data)
	if err != nil {
		rows.close()
		return nil, nil, "", err
	}
	return rows, localObjects{local}, filepath.Join(o.Data, "objects"), nil
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
