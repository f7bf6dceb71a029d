package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista/blob"
	"github.com/pista-tips/pista/blob/s3"
	"github.com/pista-tips/pista/intake"
)

// RestoreOptions are what Restore is told.
type RestoreOptions struct {
	// In is the backup files: a full backup, then, in order, none or
	// more of the incremental backups made after it.
	In         []string
	Identities []age.Identity // the admin key(s) the backups are encrypted to
	Data       string         // the data folder to make; it must not exist, or be empty
	// Database is the PostgreSQL database, empty (no table in its
	// schema), to restore a PostgreSQL tip line's rows into; "" for a
	// backup of an embedded one (SQLite).
	Database string
	// Objects is the S3 bucket to put the objects in (its keys from
	// ObjectsCredentials or the environment); "" for the data folder.
	Objects, ObjectsCredentials string
}

// Restored says what Restore rebuilt.
type Restored struct {
	Header  Header // the last backup's
	Counts  Counts // conversations and items in the rows, the objects they name and their bytes
	Dropped int64  // objects of earlier backups that the last one's rows no longer name
}

// Error is a backup Restore refuses: damaged, cut short, forged, not
// encrypted to the identity, or not the next of a chain. Nothing was
// written.
type Error struct {
	File   string
	Reason string
}

func (e *Error) Error() string { return e.File + ": " + e.Reason }

// Restore rebuilds a data folder from a backup (and its incremental
// backups), refusing a target that holds anything. It writes into a
// temporary folder beside the target, checks everything (each entry's
// SHA-256 and size against the manifest, the database with SQLite's
// quick_check, every object the rows name present and a well-formed age
// file), and only then renames it to the target: on any error, the
// target does not exist afterwards.
func Restore(ctx context.Context, o RestoreOptions) (_ *Restored, err error) {
	if len(o.In) == 0 {
		return nil, errors.New("no backup to restore")
	}
	if len(o.Identities) == 0 {
		return nil, errors.New("no identity to decrypt the backup with")
	}
	target := filepath.Clean(o.Data)
	if entries, err := os.ReadDir(target); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: restore into a new folder", target)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(target), filepath.Base(target)+".tmp-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	for _, d := range []string{"objects", "tmp"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o700); err != nil {
			return nil, err
		}
	}

	r := &restorer{dir: tmp, objects: map[string]int64{}, files: len(o.In), database: o.Database}
	if o.Objects != "" {
		if r.bucket, err = openBucket(ctx, o.Objects, o.ObjectsCredentials); err != nil {
			return nil, err
		}
		// A refused restore deletes what it put in the bucket: only a
		// bucket of its own, or it would delete a live tip line's.
		empty, err := r.bucket.Empty(ctx)
		if err != nil {
			return nil, err
		}
		if !empty {
			return nil, fmt.Errorf("%s already holds objects: restore into a new bucket (or prefix), never into a tip line's", r.bucket)
		}
		defer func() {
			if err != nil {
				r.removeObjects()
			}
		}()
	}
	if o.Database != "" {
		if r.pg, err = startPostgresRestore(ctx, o.Database); err != nil {
			return nil, err
		}
		defer r.pg.close()
		note := o.Database + "\n\nThe rows of this folder's objects are in the PostgreSQL database above (pista serve --database):\n" +
			"admin commands given this folder (--data) use it, with the password in $PGPASSWORD or ~/.pgpass.\n"
		if err := os.WriteFile(filepath.Join(tmp, serverPostgresMark), []byte(note), 0o600); err != nil {
			return nil, err
		}
	}
	var last *Manifest
	for i, file := range o.In {
		h, m, err := r.file(ctx, file, o.Identities, i)
		if err != nil {
			return nil, err
		}
		r.chain = h.Chain
		r.header, last = h, m
	}
	if len(r.chain) != len(o.In) {
		return nil, &Error{o.In[len(o.In)-1], "is not the last backup of the chain given"}
	}
	res, err := r.verify(ctx, last)
	if err != nil {
		return nil, err
	}
	blob.CoarsenData(tmp)
	if err := syncTree(tmp); err != nil {
		return nil, err
	}
	// An empty target folder goes: rename replaces only an empty one.
	if err := os.Rename(tmp, target); err != nil {
		return nil, err
	}
	if r.pg != nil {
		if err := r.pg.commit(ctx); err != nil {
			os.RemoveAll(target)
			tmp = target // removed above; the objects go too
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	return res, syncDir(filepath.Dir(target))
}

// restorer extracts backups into dir.
type restorer struct {
	files    int    // backups in the chain given
	database string // --database
	pg       *pgRestore
	bucket   *s3.Store
	bad      map[string]string // objects put in the bucket that are not age files, and why
	dir      string
	chain    []string         // the IDs of the backups read so far
	header   *Header          // the last one's
	objects  map[string]int64 // key → size, of every object extracted
	buf      []byte
}

// file extracts the i-th backup of the chain.
func (r *restorer) file(ctx context.Context, file string, ids []age.Identity, i int) (*Header, *Manifest, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	bad := func(format string, args ...any) error { return &Error{file, fmt.Sprintf(format, args...)} }
	ar, err := age.Decrypt(bufio.NewReaderSize(f, 1<<20), ids...)
	if err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
			return nil, nil, bad("is not encrypted to this identity (give the admin key the backup was made for)")
		}
		return nil, nil, bad("is not a pista backup, or its start is damaged: %v", err)
	}
	h, m, err := r.stream(ctx, sourceReader{ar}, i)
	var se sourceError
	var ce *contentError
	var pe *fs.PathError
	switch {
	case err == nil:
		return h, m, nil
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		// age authenticates every 64 KiB chunk: a flipped byte or a cut
		// end surfaces here, before the chunk is used.
		return nil, nil, bad("is damaged or cut short (%v)", err)
	case errors.As(err, &ce):
		return nil, nil, bad("%v", ce)
	case errors.As(err, &pe), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, nil, err
	default: // the tar stream's
		return nil, nil, bad("is not a well-formed backup (%v)", err)
	}
}

// sourceReader marks the errors of reading a backup (age's: damaged, cut
// short) apart from those of writing the restore.
type sourceReader struct{ r io.Reader }

type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = sourceError{err}
	}
	return n, err
}

// reason is an error of the backup's content: what it holds is not what
// a backup holds.
func reason(format string, args ...any) error { return &contentError{fmt.Sprintf(format, args...)} }

type contentError struct{ s string }

func (e *contentError) Error() string { return e.s }

// stream extracts one backup's tar stream.
func (r *restorer) stream(ctx context.Context, in io.Reader, i int) (*Header, *Manifest, error) {
	tr := tar.NewReader(in)
	next := func() (*tar.Header, error) {
		th, err := tr.Next()
		if err == io.EOF {
			return nil, reason("the backup ends before its manifest")
		}
		if err != nil {
			return nil, err
		}
		if th.Typeflag != tar.TypeReg || th.Size < 0 {
			return nil, reason("entry %.100q is not a file", th.Name)
		}
		return th, nil
	}
	th, err := next()
	if err != nil {
		return nil, nil, err
	}
	if th.Name != headerName {
		return nil, nil, reason("not a pista backup: it starts with %.100q", th.Name)
	}
	b, err := limitedAll(tr, maxHeader)
	if err != nil {
		return nil, nil, err
	}
	h, err := parseHeader(b)
	if err != nil {
		return nil, nil, reason("%v", err)
	}
	switch {
	case i == 0 && h.Incremental():
		return nil, nil, reason("is an incremental backup: give its full backup first (--in FULL --in INCREMENTAL…)")
	case i > 0 && !h.Incremental():
		return nil, nil, reason("is a full backup: only the first --in may be")
	case i > 0 && (len(h.Chain) != i+1 || !slices.Equal(h.Chain[:i], r.chain)):
		return nil, nil, reason("is not the next backup of the chain given before it (give the full backup, then each incremental one in the order they were made)")
	}

	var entries []Entry
	seenDB := false
	last := i == r.files-1
	var schema *pgSchema // a PostgreSQL tip line's
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		th, err = next()
		if err != nil {
			return nil, nil, err
		}
		if th.Name == manifestName {
			break
		}
		if len(entries) >= maxEntries {
			return nil, nil, reason("too many entries")
		}
		var e Entry
		switch key, isObject := objectKey(th.Name); {
		case isObject:
			if seenDB {
				return nil, nil, reason("an object comes after the database")
			}
			if _, dup := r.objects[key]; dup {
				return nil, nil, reason("object %s comes twice", key)
			}
			if r.bucket != nil {
				e, err = r.put(ctx, key, th, tr)
			} else {
				e, err = r.write(filepath.Join("objects", key[:2], key), th, tr, true)
			}
			r.objects[key] = th.Size
		case th.Name == pgSchemaName:
			if seenDB {
				return nil, nil, reason("the database comes twice")
			}
			seenDB = true
			if r.database == "" {
				return nil, nil, errors.New("this backup holds the rows of a tip line on PostgreSQL: give --database postgres://… of an empty database (or schema) to restore them into")
			}
			if th.Size > maxSchema {
				return nil, nil, reason("postgres/schema.json is over %d bytes", maxSchema)
			}
			h := sha256.New()
			b, err := limitedAll(io.TeeReader(tr, h), maxSchema)
			if err != nil {
				return nil, nil, err
			}
			e = Entry{Name: th.Name, Size: int64(len(b))}
			h.Sum(e.SHA256[:0])
			if schema, err = parsePgSchema(b); err != nil {
				return nil, nil, err
			}
			if last {
				if err := r.pg.begin(ctx, schema); err != nil {
					return nil, nil, err
				}
			}
		case len(th.Name) > len(pgTablesDir) && th.Name[:len(pgTablesDir)] == pgTablesDir:
			if schema == nil {
				return nil, nil, reason("%.100q comes before postgres/schema.json", th.Name)
			}
			h := sha256.New()
			src := &readErr{r: io.TeeReader(io.LimitReader(tr, th.Size), h)}
			if last {
				err = r.pg.table(ctx, th.Name[len(pgTablesDir):], src)
				if src.err != nil {
					err = src.err
				}
			} else {
				_, err = io.Copy(io.Discard, src)
			}
			if err == nil && src.n != th.Size {
				err = io.ErrUnexpectedEOF
			}
			e = Entry{Name: th.Name, Size: src.n}
			h.Sum(e.SHA256[:0])
		case th.Name == databaseName:
			if seenDB {
				return nil, nil, reason("the database comes twice")
			}
			seenDB = true
			if r.database != "" {
				return nil, nil, errors.New("this backup is of an embedded tip line (SQLite): restore it without --database, then move it with pista migrate")
			}
			// Each backup's database replaces the one before: the last
			// one's is the restored one.
			e, err = r.write(databaseName, th, tr, false)
		case len(th.Name) > len(filesDir) && th.Name[:len(filesDir)] == filesDir && slices.Contains(Files, th.Name[len(filesDir):]):
			if !seenDB {
				return nil, nil, reason("%.100q comes before the database", th.Name)
			}
			if th.Size > maxFile {
				return nil, nil, reason("%.100q is over %d bytes", th.Name, maxFile)
			}
			e, err = r.write(th.Name[len(filesDir):], th, tr, false)
		default:
			return nil, nil, reason("unexpected entry %.100q", th.Name)
		}
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if !seenDB {
		return nil, nil, reason("the backup holds no database")
	}

	// The manifest must list exactly what came, in order.
	m := &Manifest{}
	n := 0
	id, counts, err := readManifest(io.LimitReader(tr, th.Size), func(e Entry) error {
		if n >= len(entries) {
			return reason("the manifest lists %q, which the backup does not hold", e.Name)
		}
		if got := entries[n]; got != e {
			if got.Name != e.Name {
				return reason("the manifest lists %q where the backup holds %q", e.Name, got.Name)
			}
			return reason("%s does not match the manifest: %d bytes, SHA-256 %x; the manifest says %d bytes, %x", e.Name, got.Size, got.SHA256, e.Size, e.SHA256)
		}
		n++
		return nil
	})
	if err != nil {
		var ce *contentError
		if errors.As(err, &ce) {
			return nil, nil, err
		}
		return nil, nil, reason("%v", err)
	}
	if n != len(entries) {
		return nil, nil, reason("the manifest lists %d entries; the backup holds %d", n, len(entries))
	}
	if id != h.ID {
		return nil, nil, reason("the manifest is of backup %s, the header of %s", id, h.ID)
	}
	m.ID, m.Counts = id, counts
	if _, err := tr.Next(); err != io.EOF {
		if err == nil {
			return nil, nil, reason("an entry follows the manifest")
		}
		return nil, nil, err
	}
	// Read to the end, so that age checks the stream's last chunk: a
	// backup cut right after the tar's end is refused too.
	if rest, err := io.Copy(io.Discard, io.LimitReader(in, 1<<20)); err != nil {
		return nil, nil, err
	} else if rest >= 1<<20 {
		return nil, nil, reason("data follows the backup's end")
	}
	return h, m, nil
}

// write writes the entry th, read from src, to name in the folder,
// hashing it. An object must be new; other files replace what a backup
// before wrote.
func (r *restorer) write(name string, th *tar.Header, src io.Reader, object bool) (Entry, error) {
	path := filepath.Join(r.dir, name)
	if object {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return Entry{}, err
		}
	}
	part := path + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Entry{}, err
	}
	defer func() {
		f.Close()
		os.Remove(part)
	}()
	if r.buf == nil {
		r.buf = make([]byte, 256<<10)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(struct{ io.Writer }{io.MultiWriter(f, h)}, struct{ io.Reader }{src}, r.buf)
	if err != nil {
		return Entry{}, err
	}
	if n != th.Size {
		return Entry{}, io.ErrUnexpectedEOF
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return Entry{}, err
	}
	if err := os.Rename(part, path); err != nil {
		return Entry{}, err
	}
	e := Entry{Name: th.Name, Size: n}
	h.Sum(e.SHA256[:0])
	return e, nil
}

// verify checks the restored folder, whose database is the last backup's,
// and drops the objects its rows do not name.
func (r *restorer) verify(ctx context.Context, last *Manifest) (*Restored, error) {
	if r.pg != nil {
		return r.verifyPostgres(ctx, last)
	}
	file := "the restored data"
	db, err := openDatabase(filepath.Join(r.dir, databaseFile), false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil || check != "ok" {
		return nil, &Error{file, fmt.Sprintf("the database fails SQLite's quick_check: %s %v", check, err)}
	}
	res := &Restored{Header: *r.header}
	for _, q := range []struct {
		sql string
		to  *int64
	}{
		{`SELECT count(*) FROM conversations`, &res.Counts.Conversations},
		{`SELECT count(*) FROM items`, &res.Counts.Items},
	} {
		if err := db.QueryRowContext(ctx, q.sql).Scan(q.to); err != nil {
			return nil, fmt.Errorf("%s: %w", q.sql, err)
		}
	}
	keys, err := objectKeys(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	return res, r.verifyObjects(ctx, res, keys, last)
}

// verifyObjects checks that the rows' counts are the manifest's and that
// every object they name was restored, a well-formed age file, and drops
// the objects restored that they do not name.
func (r *restorer) verifyObjects(ctx context.Context, res *Restored, keys []string, last *Manifest) error {
	file := "the restored data"
	if res.Counts.Conversations != last.Counts.Conversations || res.Counts.Items != last.Counts.Items || int64(len(keys)) != last.Counts.Objects {
		return &Error{file, fmt.Sprintf("the database holds %d conversations, %d items, %d objects; the manifest says %d, %d, %d",
			res.Counts.Conversations, res.Counts.Items, len(keys), last.Counts.Conversations, last.Counts.Items, last.Counts.Objects)}
	}
	named := make(map[string]bool, len(keys))
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		named[k] = true
		size, ok := r.objects[k]
		if !ok {
			return &Error{file, fmt.Sprintf("a row names object %s, which none of the backups holds (is a backup of the chain missing?)", k)}
		}
		if err := r.checkObject(ctx, k, size); err != nil {
			return &Error{file, fmt.Sprintf("object %s: %v", k, err)}
		}
		res.Counts.Objects++
		res.Counts.Bytes += size
	}
	for k := range r.objects {
		if !named[k] {
			if err := r.removeObject(ctx, k); err != nil {
				return err
			}
			res.Dropped++
		}
	}
	return nil
}

// checkObject checks that an object is a well-formed age file: a header
// that parses (its stanzas, whoever they are for; no key here opens
// them) and a payload of age's STREAM shape.
func checkObject(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return checkAge(f, size)
}

// checkAge checks that the object of size bytes that starts with r is a
// well-formed age file.
func checkAge(r io.Reader, size int64) error {
	var head bytes.Buffer
	hdr, err := age.ExtractHeader(io.TeeReader(io.LimitReader(r, intake.MaxSealedHeader), &head))
	if err != nil {
		return fmt.Errorf("not an age file: %v", err)
	}
	if !bytes.HasPrefix(head.Bytes(), hdr) {
		return errors.New("not an age file: its header is not in age's encoding")
	}
	if _, err := age.DecryptHeader(hdr, noIdentity{}); err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); !ok {
			return fmt.Errorf("not an age file: %v", err)
		}
	}
	// After the header: a 16-byte nonce, then chunks of 64 KiB + 16 of
	// tag, the last one of 16 to 64 KiB + 16 bytes (16: empty, only when
	// it is the only one).
	payload := size - int64(len(hdr)) - 16
	const chunk = 64<<10 + 16
	if last := payload % chunk; payload < 16 || (last != 0 && last < 16) || (last == 16 && payload > 16) {
		return fmt.Errorf("not an age file: a payload of %d bytes", payload)
	}
	return nil
}

// noIdentity opens nothing: DecryptHeader with it parses the stanzas and
// says none was for it.
type noIdentity struct{}

func (noIdentity) Unwrap([]*age.Stanza) ([]byte, error) { return nil, age.ErrIncorrectIdentity }

// syncTree fsyncs every folder of the restored tree (files were synced
// as they were written).
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return syncDir(p)
	})
}

// verifyPostgres finishes loading the rows (foreign keys, sequences) and
// checks them against the manifest, with the objects they name, in the
// transaction Restore then commits.
func (r *restorer) verifyPostgres(ctx context.Context, last *Manifest) (*Restored, error) {
	file := "the restored data"
	if r.pg.schema == nil {
		return nil, &Error{file, "the last backup holds no rows"}
	}
	if err := r.pg.finish(ctx); err != nil {
		var ce *contentError
		if errors.As(err, &ce) {
			return nil, &Error{file, ce.s}
		}
		return nil, err
	}
	res := &Restored{Header: *r.header}
	for _, q := range []struct {
		sql string
		to  *int64
	}{
		{`SELECT count(*) FROM conversations`, &res.Counts.Conversations},
		{`SELECT count(*) FROM items`, &res.Counts.Items},
	} {
		if err := r.pg.tx.QueryRow(ctx, q.sql).Scan(q.to); err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", q.sql, err)
		}
	}
	keys, err := pgObjectKeys(ctx, r.pg.tx)
	if err != nil {
		return nil, err
	}
	return res, r.verifyObjects(ctx, res, keys, last)
}

// put streams an object of the backup into the bucket, hashing it and
// checking, from its first bytes and its size, that it is an age file.
func (r *restorer) put(ctx context.Context, key string, th *tar.Header, src io.Reader) (Entry, error) {
	h := sha256.New()
	head := &headWriter{max: intake.MaxSealedHeader}
	in := &readErr{r: io.TeeReader(io.LimitReader(src, th.Size), io.MultiWriter(h, head))}
	_, err := r.bucket.PutKey(ctx, key, in)
	if in.err != nil {
		err = in.err
	}
	if err != nil {
		return Entry{}, err
	}
	if in.n != th.Size {
		return Entry{}, io.ErrUnexpectedEOF
	}
	if err := checkAge(bytes.NewReader(head.b), th.Size); err != nil {
		if r.bad == nil {
			r.bad = map[string]string{}
		}
		r.bad[key] = err.Error()
	}
	e := Entry{Name: th.Name, Size: in.n}
	h.Sum(e.SHA256[:0])
	return e, nil
}

// checkObject checks a restored object.
func (r *restorer) checkObject(ctx context.Context, key string, size int64) error {
	if r.bucket != nil {
		if why, bad := r.bad[key]; bad {
			return errors.New(why)
		}
		return nil
	}
	return checkObject(filepath.Join(r.dir, "objects", key[:2], key), size)
}

func (r *restorer) removeObject(ctx context.Context, key string) error {
	if r.bucket != nil {
		return r.bucket.Delete(ctx, key)
	}
	return os.Remove(filepath.Join(r.dir, "objects", key[:2], key))
}

// removeObjects deletes the objects a failed restore put in the bucket.
func (r *restorer) removeObjects() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for k := range r.objects {
		r.bucket.Delete(ctx, k)
	}
}

// readErr reads r, counting, and keeps the first error but EOF: what a
// reader handed to a library (pgx's COPY, the S3 client) failed with.
type readErr struct {
	r   io.Reader
	n   int64
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// headWriter keeps the first max bytes written to it.
type headWriter struct {
	b   []byte
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
