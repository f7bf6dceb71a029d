// Package upload takes files in resumable pieces (the tus 1.0 protocol,
// served by tusd) from a source's browser, which has already encrypted
// them, and hands them to the form that claims them.
//
// # Encrypt first, then upload
//
// With JavaScript, the page's script encrypts each file with age to the
// desk's keys, padded as every stored file is (pista.Padme), into a blob
// on the source's device, and only then uploads that ciphertext here in
// chunks. The ciphertext is fixed once made, so a dropped connection
// resumes exactly where the server's copy stops (HEAD for the offset, then
// PATCH from it). When every file is uploaded, the script submits the form
// with, for each file, the upload's ID and the file's sealed name and
// type. The form handler then claims each upload (Store.Claim): it must
// exist, be complete and within the limit, and pass the same age header
// check as a sealed multipart file; its bytes are copied into the blob
// store through the submission's batch, exactly as a sealed file would be,
// and the upload is deleted once the tip's rows are written. Without
// JavaScript nothing of this is used: the form is one multipart POST.
//
// # What the folder holds
//
// On one machine (Open), uploads live in the data folder's uploads/; when
// several instances share a database and a bucket (OpenShared), in the
// bucket and the database, as shared.go says. In the folder: for each, a file of
// ciphertext named by its ID and a small <id>.info (tusd's JSON: ID,
// length, and the file's path). Nothing else: no metadata a client sends is
// kept (Upload-Metadata is dropped on creation), no address, no browser,
// no time but the files' own. An upload's ID is 128 random bits; it is the
// only capability to write to, resume or claim the upload, and nothing
// links it to a source but the form that claims it.
//
// # Bounds
//
//   - An upload's length is declared on creation (no deferred length, no
//     concatenation) and is at most MaxSize: the ciphertext of a file at the
//     form's limit.
//   - On creation, twice the length must fit above the blob store's floor of
//     free disk (the upload, then its copy as an object); while data
//     arrives, the floor is checked again every few megabytes. Either
//     refusal answers 507 and keeps nothing of the refused request.
//   - At most MaxPending uploads exist at once (503 past it), and each
//     costs its maker a proof of work (RequireProof; the page's script
//     solves one per file): holding every place takes work, not a loop of
//     empty POSTs.
//   - An upload that has received no byte for EmptyExpiry (15 min) since
//     the sweep first saw it empty is removed: a browser sends the first
//     bytes at once, so places held empty go back to sources quickly.
//   - Uploads older than Expiry (24 h), finished or not, claimed or not,
//     are removed at start and by the sweep, every five minutes.
//
// tusd logs every request with its path and more: it is given a logger
// that discards everything, and errors of the store are answered with a
// generic message (never a path of the server's disk) and logged here
// without anything of the request.
package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	expslog "golang.org/x/exp/slog"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/pow"
)

// BasePath is where the uploads are served.
const BasePath = "/uploads/"

// Dir is the uploads' folder in the data folder.
const Dir = "uploads"

// DefaultExpiry is how long an upload is kept, finished or not: a day is
// time enough to resume over a slow and broken connection, and to submit.
const DefaultExpiry = 24 * time.Hour

// DefaultMaxPending is how many uploads may exist at once unless
// configured: a hundred sources' worth of ten files, while a submission may
// carry at most httpx.MaxFiles.
const DefaultMaxPending = 1000

// DefaultEmptyExpiry is how long an upload may stay empty.
const DefaultEmptyExpiry = 15 * time.Minute

// sweepEvery is how often the expiry sweep runs.
const sweepEvery = 5 * time.Minute

// checkEvery is how often, in bytes, an upload in progress checks the free
// disk space (as the blob store does for its own writes).
const checkEvery = 8 << 20

// claimLockTimeout bounds how long a claim waits for an upload that a
// request is still writing to.
const claimLockTimeout = 5 * time.Second

// Errors of Claim.
var (
	// ErrNotFound: no upload has that ID (or it expired).
	ErrNotFound = errors.New("upload: no such upload")
	// ErrIncomplete: the upload has not received all its bytes.
	ErrIncomplete = errors.New("upload: the upload is not complete")
	// ErrTooLarge: the upload is longer than MaxSize.
	ErrTooLarge = errors.New("upload: the upload is too large")
)

// Responses to the tus client that tusd does not have.
var (
	errFull     = handler.NewError("ERR_STORAGE_FULL", "the tip line has no room for this upload now", http.StatusInsufficientStorage)
	errBusy     = handler.NewError("ERR_TOO_MANY_UPLOADS", "too many uploads are in progress; try again later", http.StatusServiceUnavailable)
	errInternal = handler.NewError("ERR_INTERNAL", "the upload failed on the server", http.StatusInternalServerError)
	errDeferred = handler.NewError("ERR_LENGTH_REQUIRED", "an upload must declare its length", http.StatusBadRequest)
	errProof    = handler.NewError("ERR_PROOF_OF_WORK_REQUIRED", "a new upload needs a proof of work in the "+pow.Header+" header (GET /pow)", http.StatusPreconditionRequired)
)

// Config is what a Store is told.
type Config struct {
	// MaxSize is the longest upload, in bytes (see CiphertextSize).
	MaxSize int64
	// MaxPending bounds the uploads that exist at once (0: DefaultMaxPending).
	MaxPending int
	// Expiry is how long an upload is kept (0: DefaultExpiry).
	Expiry time.Duration
	// EmptyExpiry is how long an upload may stay empty (0:
	// DefaultEmptyExpiry).
	EmptyExpiry time.Duration
	// Room, if not nil, answers pista.ErrStorageFull unless n more bytes
	// fit above the floor of free disk: the blob store's (pista.Roomer).
	Room pista.Roomer
	Log  *slog.Logger
}

// Store is the uploads of a data folder.
type Store struct {
	cfg    Config
	dir    string
	files  filestore.FileStore
	locker handler.Locker
	// shared, if set, keeps the uploads in a bucket and pista.Shared
	// instead of the folder (OpenShared); files and dir are then unused.
	shared *sharedUploads
	// create serializes the count of pending uploads and the creation of
	// one, so that the cap holds.
	create sync.Mutex
	// prove checks a new upload's proof of work (nil: none is needed).
	prove func(solution string) error
	// empty holds when the sweep first saw each empty upload empty.
	sweeping sync.Mutex
	empty    map[string]time.Time
}

// RequireProof makes every new upload carry a proof of work in the
// pow.Header header, checked by verify. Call it before Register.
func (s *Store) RequireProof(verify func(solution string) error) { s.prove = verify }

// Open opens (creating) the uploads folder dir and removes what has
// expired or what a crash left half made.
func Open(dir string, cfg Config) (*Store, error) {
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = DefaultExpiry
	}
	if cfg.EmptyExpiry <= 0 {
		cfg.EmptyExpiry = DefaultEmptyExpiry
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	fs := filestore.New(dir)
	fs.DirModePerm, fs.FileModePerm = 0o700, 0o600
	s := &Store{cfg: cfg, dir: dir, files: fs, locker: memorylocker.New()}
	// At start no request is in flight: anything half made goes too.
	if _, err := s.sweep(context.Background(), time.Now(), true); err != nil {
		return nil, err
	}
	return s, nil
}

// MaxSize is the longest upload the store takes.
func (s *Store) MaxSize() int64 { return s.cfg.MaxSize }

// CiphertextSize is the size of the age file of a file of n bytes (padded
// already) encrypted to recipients hybrid keys, or a bound of it: the
// largest header a sealed item may have (intake.MaxSealedHeader) and age's
// STREAM overhead (a 16-byte nonce, a 16-byte tag per 64 KiB chunk).
func CiphertextSize(n int64, maxHeader int64) int64 {
	chunks := max((n+64<<10-1)/(64<<10), 1)
	return maxHeader + 16 + n + 16*chunks
}

// validID reports whether id is one the store makes: 32 lowercase hex
// digits (tusd's 128 random bits). Anything else never reaches the disk.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Handler returns the tus handler, to be mounted at BasePath with the
// prefix stripped (see Register).
func (s *Store) Handler() (http.Handler, error) {
	composer := handler.NewStoreComposer()
	composer.UseCore(dataStore{s})
	composer.UseTerminater(dataStore{s})
	composer.UseLocker(s.locker)
	h, err := handler.NewHandler(handler.Config{
		StoreComposer: composer,
		BasePath:      BasePath,
		MaxSize:       s.cfg.MaxSize,
		// The ciphertext is not served back: only the form claims it.
		DisableDownload:      true,
		DisableConcatenation: true,
		// Same origin only; cross-origin protection is in front.
		Cors:                    &handler.CorsConfig{Disable: true},
		Logger:                  expslog.New(discard{}),
		PreUploadCreateCallback: s.beforeCreate,
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Register mounts the tus routes on mux: POST to create an upload, HEAD
// for its offset, PATCH to add to it, DELETE to drop it.
func (s *Store) Register(mux *http.ServeMux) error {
	h, err := s.Handler()
	if err != nil {
		return err
	}
	strip := http.StripPrefix(BasePath, h)
	mux.Handle("POST "+BasePath+"{$}", strip)
	for _, m := range []string{"HEAD", "PATCH", "DELETE"} {
		mux.Handle(m+" "+BasePath+"{id}", strip)
	}
	return nil
}

// beforeCreate checks a new upload against the store's bounds, and drops
// whatever metadata the client sent with it.
func (s *Store) beforeCreate(ev handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	info := ev.Upload
	if info.SizeIsDeferred {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, errDeferred
	}
	if info.IsPartial || info.IsFinal {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, handler.ErrConcatenationUnsupported
	}
	if s.prove != nil {
		sol := ev.HTTPRequest.Header.Get(pow.Header)
		if sol == "" || s.prove(sol) != nil {
			return handler.HTTPResponse{}, handler.FileInfoChanges{}, errProof
		}
	}
	if s.cfg.Room != nil && s.shared == nil {
		// The upload, then its copy as an object until the upload goes.
		if err := s.cfg.Room.Room(2 * info.Size); err != nil {
			return handler.HTTPResponse{}, handler.FileInfoChanges{}, s.storeError("checking free disk", err)
		}
	}
	n, err := s.pending(ev.Context)
	if err != nil {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, s.storeError("counting uploads", err)
	}
	if n >= s.cfg.MaxPending {
		s.cfg.Log.Warn("an upload was refused: too many uploads are pending", "max", s.cfg.MaxPending)
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, errBusy
	}
	return handler.HTTPResponse{}, handler.FileInfoChanges{MetaData: handler.MetaData{}}, nil
}

// pending counts the uploads.
func (s *Store) pending(ctx context.Context) (int, error) {
	if s.shared != nil {
		return s.shared.state.Count(ctx, recordKind)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".info") {
			n++
		}
	}
	return n, nil
}

// storeError is what the tus client is told of an error of the store: the
// floor of free disk, or a generic failure, logged without the request.
func (s *Store) storeError(what string, err error) error {
	var herr handler.Error
	switch {
	case errors.As(err, &herr):
		return err
	case errors.Is(err, pista.ErrStorageFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		// The error says which: the disk is full, or at its floor.
		s.cfg.Log.Warn("an upload was refused: no room on the disk", "err", err)
		return errFull
	}
	s.cfg.Log.Error("upload: "+what, "err", err)
	return errInternal
}

// dataStore is tusd's file store with pista's checks: IDs of the store's
// form only, the floor of free disk while data arrives, and errors that
// say nothing of the server's disk.
type dataStore struct{ s *Store }

func (d dataStore) NewUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	d.s.create.Lock()
	defer d.s.create.Unlock()
	if d.s.shared != nil {
		return d.s.newShared(ctx, info)
	}
	// Counted again under the lock: beforeCreate's count was a first look.
	if n, err := d.s.pending(ctx); err != nil {
		return nil, d.s.storeError("counting uploads", err)
	} else if n >= d.s.cfg.MaxPending {
		return nil, errBusy
	}
	info.ID = "" // the file store makes a random one
	u, err := d.s.files.NewUpload(ctx, info)
	if err != nil {
		return nil, d.s.storeError("creating an upload", err)
	}
	return &fileUpload{Upload: u, s: d.s}, nil
}

func (d dataStore) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	if !validID(id) {
		return nil, handler.ErrNotFound
	}
	if d.s.shared != nil {
		return d.s.getShared(ctx, id)
	}
	u, err := d.s.files.GetUpload(ctx, id)
	if err != nil {
		if errors.Is(err, handler.ErrNotFound) {
			return nil, handler.ErrNotFound
		}
		return nil, d.s.storeError("opening an upload", err)
	}
	return &fileUpload{Upload: u, s: d.s}, nil
}

func (d dataStore) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload {
	if su, ok := u.(*sharedUpload); ok {
		return terminatable{s: d.s, id: su.id}
	}
	return terminatable{t: d.s.files.AsTerminatableUpload(u.(*fileUpload).Upload), s: d.s}
}

type terminatable struct {
	t  handler.TerminatableUpload
	s  *Store
	id string // a shared upload's
}

func (t terminatable) Terminate(ctx context.Context) error {
	if t.t == nil {
		if err := t.s.removeShared(ctx, t.id); err != nil {
			return t.s.storeError("removing an upload", err)
		}
		return nil
	}
	if err := t.t.Terminate(ctx); err != nil {
		return t.s.storeError("removing an upload", err)
	}
	return nil
}

// fileUpload is one upload of the file store, checking the floor of free
// disk as data arrives.
type fileUpload struct {
	handler.Upload
	s *Store
}

func (u *fileUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	rr := &roomReader{room: u.s.cfg.Room, r: src}
	n, err := u.Upload.WriteChunk(ctx, offset, rr)
	if err != nil {
		if rr.err != nil {
			err = rr.err
		}
		return n, u.s.storeError("writing an upload", err)
	}
	return n, nil
}

// roomReader checks the free disk every checkEvery bytes.
type roomReader struct {
	room  pista.Roomer
	r     io.Reader
	since int64
	err   error
}

func (rr *roomReader) Read(p []byte) (int, error) {
	if rr.room != nil && rr.since >= checkEvery {
		rr.since = 0
		if err := rr.room.Room(0); err != nil {
			rr.err = err
			return 0, err
		}
	}
	n, err := rr.r.Read(p)
	rr.since += int64(n)
	return n, err
}

// Claimed is an upload a form has claimed: locked against every other
// request until Release or Delete.
type Claimed struct {
	s    *Store
	id   string
	size int64
	lock handler.Lock
	done bool
}

// Claim locks the upload id for a form: it must exist and be complete,
// and be at most MaxSize bytes long. It answers ErrNotFound,
// ErrIncomplete or ErrTooLarge. The caller must Release or Delete it.
func (s *Store) Claim(ctx context.Context, id string) (*Claimed, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	lock, err := s.locker.NewLock(id)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, claimLockTimeout)
	defer cancel()
	// A request still writing to the upload is asked to stop; the form
	// then finds the upload incomplete.
	if err := lock.Lock(lctx, func() {}); err != nil {
		return nil, fmt.Errorf("upload: locking: %w", err)
	}
	c := &Claimed{s: s, id: id, lock: lock}
	u, err := s.getUpload(ctx, id)
	if err != nil {
		c.Release()
		if errors.Is(err, handler.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("upload: %w", err)
	}
	info, err := u.GetInfo(ctx)
	if err != nil {
		c.Release()
		return nil, fmt.Errorf("upload: %w", err)
	}
	switch {
	case info.Size > s.cfg.MaxSize:
		c.Release()
		return nil, ErrTooLarge
	case info.SizeIsDeferred || info.Offset != info.Size || info.IsPartial || info.IsFinal:
		c.Release()
		return nil, ErrIncomplete
	}
	c.size = info.Size
	return c, nil
}

// ID is the upload's ID.
func (c *Claimed) ID() string { return c.id }

// Size is the upload's length.
func (c *Claimed) Size() int64 { return c.size }

// Open reads the upload's bytes.
func (c *Claimed) Open(ctx context.Context) (io.ReadCloser, error) {
	u, err := c.s.getUpload(ctx, c.id)
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	r, err := u.GetReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(r, c.size), r}, nil
}

// Release unlocks the upload and keeps it: the form that claimed it was
// refused, and the source may submit it again.
func (c *Claimed) Release() {
	if c.done {
		return
	}
	c.done = true
	c.lock.Unlock()
}

// Delete removes the upload, whose bytes are now stored, and unlocks it.
func (c *Claimed) Delete(ctx context.Context) error {
	if c.done {
		return nil
	}
	defer c.Release()
	if c.s.shared != nil {
		return c.s.removeShared(ctx, c.id)
	}
	u, err := c.s.files.GetUpload(ctx, c.id)
	if errors.Is(err, handler.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	return c.s.files.AsTerminatableUpload(u).Terminate(ctx)
}

// getUpload returns upload id of the folder or of the shared store.
func (s *Store) getUpload(ctx context.Context, id string) (handler.Upload, error) {
	if s.shared != nil {
		r, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		return &sharedUpload{s: s, id: id, r: r}, nil
	}
	return s.files.GetUpload(ctx, id)
}

// Run sweeps expired uploads every five minutes until ctx ends.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, err := s.Sweep(ctx, now); err != nil {
				s.cfg.Log.Error("sweeping expired uploads", "err", err)
			} else if n > 0 {
				s.cfg.Log.Info("removed expired uploads", "count", n)
			}
		}
	}
}

// Sweep removes the uploads created before now less the expiry, finished
// or not, and stray files as old. It answers how many uploads went.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	return s.sweep(ctx, now, false)
}

// sweep removes what has expired; at start (all), also every stray file,
// whatever its age: no request can be making one.
func (s *Store) sweep(ctx context.Context, now time.Time, all bool) (int, error) {
	s.sweeping.Lock()
	defer s.sweeping.Unlock()
	if s.shared != nil {
		return s.sweepShared(ctx, now)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, err
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	cutoff := now.Add(-s.cfg.Expiry)
	old := func(name string) bool {
		fi, err := os.Lstat(filepath.Join(s.dir, name))
		return err == nil && fi.ModTime().Before(cutoff)
	}
	n := 0
	var errs []error
	var live []string
	defer func() { s.forgetEmpty(live) }()
	for _, e := range entries {
		name := e.Name()
		id, isInfo := strings.CutSuffix(name, ".info")
		switch {
		case isInfo && validID(id) && names[id] && !e.IsDir():
			// An upload: its .info is written when it is made.
			live = append(live, id)
			if !old(name) && !s.emptyTooLong(id, now) {
				continue
			}
			gone, err := s.expire(ctx, id)
			if err != nil {
				errs = append(errs, err)
			}
			if gone {
				n++
			}
		case validID(name) && names[name+".info"] && !e.IsDir():
			// An upload's data: goes with its .info.
		default:
			// Half made (a crash between the two files) or not ours.
			if all || old(name) {
				if err := os.RemoveAll(filepath.Join(s.dir, name)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return n, errors.Join(errs...)
}

// emptyTooLong reports whether upload id has been seen empty for
// EmptyExpiry, and notes when it is first seen empty. Times are kept in
// memory: the files' own are coarsened to the hour.
func (s *Store) emptyTooLong(id string, now time.Time) bool {
	fi, err := os.Lstat(filepath.Join(s.dir, id))
	if err != nil || fi.Size() > 0 {
		delete(s.empty, id)
		return false
	}
	if s.empty == nil {
		s.empty = map[string]time.Time{}
	}
	first, ok := s.empty[id]
	if !ok {
		s.empty[id] = now
		return false
	}
	return now.Sub(first) >= s.cfg.EmptyExpiry
}

// forgetEmpty drops what the sweep noted of uploads that are gone.
func (s *Store) forgetEmpty(live []string) {
	keep := make(map[string]bool, len(live))
	for _, id := range live {
		keep[id] = true
	}
	for id := range s.empty {
		if !keep[id] {
			delete(s.empty, id)
		}
	}
}

// expire removes one upload, interrupting a request that writes to it,
// and reports whether it went.
func (s *Store) expire(ctx context.Context, id string) (bool, error) {
	lock, err := s.locker.NewLock(id)
	if err != nil {
		return false, err
	}
	lctx, cancel := context.WithTimeout(ctx, claimLockTimeout)
	defer cancel()
	if err := lock.Lock(lctx, func() {}); err != nil {
		// Claimed by a form right now: the next sweep will see.
		return false, nil
	}
	defer lock.Unlock()
	if s.shared != nil {
		if err := s.removeShared(ctx, id); err != nil {
			return false, err
		}
		return true, nil
	}
	for _, p := range []string{filepath.Join(s.dir, id), filepath.Join(s.dir, id+".info")} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
	}
	return true, nil
}

// discard is a log handler that keeps nothing, for tusd: its log lines
// carry request paths and details of requests. (tusd logs through
// golang.org/x/exp/slog, whose types are not log/slog's.)
type discard struct{}

func (discard) Enabled(context.Context, expslog.Level) bool  { return false }
func (discard) Handle(context.Context, expslog.Record) error { return nil }
func (d discard) WithAttrs([]expslog.Attr) expslog.Handler   { return d }
func (d discard) WithGroup(string) expslog.Handler           { return d }
