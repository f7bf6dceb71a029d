package upload

// # Uploads shared by several instances
//
// When several instances serve one tip line (PostgreSQL and a bucket), a
// source's upload begun on one instance must resume and be claimed on
// any other. OpenShared keeps each upload as:
//
//   - pieces: objects of the blob store (the bucket), each what one PATCH
//     brought, at most pieceSize bytes: ciphertext, as in the folder;
//   - a record in pista.Shared (kind "upload", key the ID): its length,
//     when it was made, and its pieces' keys and lengths in order. The
//     offset is the sum of the pieces'. A piece is written first and the
//     record second, so a crash between the two leaves a piece no record
//     names: an object no row refers to, which the bucket's orphan sweep
//     deletes (it waits two days, and uploads live one);
//   - a lease in pista.Shared (kind "upload-lock") while a request works
//     on it, renewed every few seconds by its holder; an instance killed
//     mid-request stops renewing, and another takes the upload over at
//     most leaseTime later. A request that wants the upload while another
//     instance holds it asks for it (kind "upload-want"), and the holder
//     stops reading its request, as tusd does within one process.
//
// The count of pending uploads (MaxPending) is the records', counted
// before each creation: instances creating at the same moment may pass
// it by one each.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/pista-tips/pista"
)

// Kinds of the entries of uploads in pista.Shared.
const (
	recordKind = "upload"
	lockKind   = "upload-lock"
	wantKind   = "upload-want"
)

// pieceSize bounds one piece: the page's script sends 4 MiB a PATCH, one
// piece each; a longer PATCH makes several.
const pieceSize = 4 << 20

// Leases: held leaseTime from the last renewal, renewed every renewEvery,
// and the holder looks for a request to let go every wantEvery.
var (
	leaseTime  = 15 * time.Second
	renewEvery = 5 * time.Second
	wantEvery  = time.Second
	retryLock  = 100 * time.Millisecond
)

// maxListed bounds the records one sweep reads.
const maxListed = 100_000

// record is an upload as Shared keeps it.
type record struct {
	Size    int64
	Created time.Time
	Pieces  []piece
}

type piece struct {
	Key string
	Len int64
}

func (r *record) offset() int64 {
	var n int64
	for _, p := range r.Pieces {
		n += p.Len
	}
	return n
}

// sharedUploads is the state of a Store opened with OpenShared.
type sharedUploads struct {
	state pista.Shared
	blobs pista.BlobStore

	// writing holds the uploads this process is writing to (in
	// WriteChunk): a lease asks tusd to stop a request only then (see
	// hold).
	mu      sync.Mutex
	writing map[string]bool
}

func (sh *sharedUploads) setWriting(id string, on bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if on {
		if sh.writing == nil {
			sh.writing = map[string]bool{}
		}
		sh.writing[id] = true
	} else {
		delete(sh.writing, id)
	}
}

func (sh *sharedUploads) isWriting(id string) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.writing[id]
}

// OpenShared returns uploads kept in shared (records and leases) and
// blobs (their bytes), for instances that share both: see the comment at
// the top of this file.
func OpenShared(shared pista.Shared, blobs pista.BlobStore, cfg Config) (*Store, error) {
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
	sh := &sharedUploads{state: shared, blobs: blobs}
	return &Store{cfg: cfg, shared: sh, locker: sharedLocker{sh}}, nil
}

func recordKey(id string) []byte {
	b, _ := hex.DecodeString(id)
	return b
}

// load returns the record of upload id, if it is there and not expired.
func (s *Store) load(ctx context.Context, id string) (*record, error) {
	if !validID(id) {
		return nil, handler.ErrNotFound
	}
	b, ok, err := s.shared.state.Get(ctx, recordKind, recordKey(id))
	if err != nil {
		return nil, err
	}
	var r record
	if !ok || json.Unmarshal(b, &r) != nil || !time.Now().Before(r.Created.Add(s.cfg.Expiry)) {
		return nil, handler.ErrNotFound
	}
	return &r, nil
}

// save writes the record; it stays an hour past the upload's expiry, for
// the sweep to find and delete its pieces.
func (s *Store) save(ctx context.Context, id string, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.shared.state.Put(ctx, recordKind, recordKey(id), b, r.Created.Add(s.cfg.Expiry+time.Hour))
}

// newShared makes a new, empty upload.
func (s *Store) newShared(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	n, err := s.shared.state.Count(ctx, recordKind)
	if err != nil {
		return nil, s.storeError("counting uploads", err)
	}
	if n >= s.cfg.MaxPending {
		return nil, errBusy
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	r := &record{Size: info.Size, Created: time.Now()}
	if err := s.save(ctx, id, r); err != nil {
		return nil, s.storeError("creating an upload", err)
	}
	return &sharedUpload{s: s, id: id, r: r}, nil
}

func (s *Store) getShared(ctx context.Context, id string) (handler.Upload, error) {
	r, err := s.load(ctx, id)
	if errors.Is(err, handler.ErrNotFound) {
		return nil, handler.ErrNotFound
	} else if err != nil {
		return nil, s.storeError("opening an upload", err)
	}
	return &sharedUpload{s: s, id: id, r: r}, nil
}

// removeShared deletes an upload's pieces, then its record.
func (s *Store) removeShared(ctx context.Context, id string) error {
	r, err := s.load(ctx, id)
	if errors.Is(err, handler.ErrNotFound) {
		// Expired (or gone): its record may still name pieces.
		b, ok, gerr := s.shared.state.Get(ctx, recordKind, recordKey(id))
		if gerr != nil {
			return gerr
		}
		if !ok || json.Unmarshal(b, &r) != nil {
			return s.shared.state.Delete(ctx, recordKind, recordKey(id))
		}
	} else if err != nil {
		return err
	}
	var errs []error
	for _, p := range r.Pieces {
		if err := s.shared.blobs.Delete(ctx, p.Key); err != nil && !errors.Is(err, pista.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// The record stays, naming what is left, for the next sweep.
		return errors.Join(errs...)
	}
	return s.shared.state.Delete(ctx, recordKind, recordKey(id))
}

// sharedUpload is one upload of OpenShared's store; tusd holds its lease
// while it is used.
type sharedUpload struct {
	s  *Store
	id string
	r  *record
}

func (u *sharedUpload) GetInfo(ctx context.Context) (handler.FileInfo, error) {
	return handler.FileInfo{ID: u.id, Size: u.r.Size, Offset: u.r.offset(), MetaData: handler.MetaData{}}, nil
}

// WriteChunk stores src as pieces, recording each as soon as it is
// stored: what arrived before a broken connection is kept (tusd hands
// the store an EOF then, and the error to the client).
func (u *sharedUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	if offset != u.r.offset() {
		return 0, handler.ErrMismatchOffset
	}
	u.s.shared.setWriting(u.id, true)
	defer u.s.shared.setWriting(u.id, false)
	var written int64
	for written < u.r.Size-offset {
		lr := &io.LimitedReader{R: src, N: min(pieceSize, u.r.Size-offset-written)}
		key, n, err := u.s.shared.blobs.Put(ctx, lr)
		if err != nil {
			return written, u.s.storeError("writing an upload", err)
		}
		if n == 0 {
			u.s.shared.blobs.Delete(context.WithoutCancel(ctx), key)
			break
		}
		u.r.Pieces = append(u.r.Pieces, piece{Key: key, Len: n})
		if err := u.s.save(context.WithoutCancel(ctx), u.id, u.r); err != nil {
			u.r.Pieces = u.r.Pieces[:len(u.r.Pieces)-1]
			u.s.shared.blobs.Delete(context.WithoutCancel(ctx), key)
			return written, u.s.storeError("recording an upload", err)
		}
		written += n
		if lr.N > 0 {
			break // the body ended before the piece was full
		}
	}
	return written, nil
}

func (u *sharedUpload) GetReader(ctx context.Context) (io.ReadCloser, error) {
	return &piecesReader{ctx: ctx, blobs: u.s.shared.blobs, pieces: u.r.Pieces}, nil
}

func (u *sharedUpload) FinishUpload(ctx context.Context) error { return nil }

// piecesReader reads an upload's pieces one after another, each limited
// to its recorded length.
type piecesReader struct {
	ctx    context.Context
	blobs  pista.BlobStore
	pieces []piece
	cur    io.ReadCloser
	left   int64
}

func (pr *piecesReader) Read(p []byte) (int, error) {
	for pr.cur == nil || pr.left == 0 {
		if pr.cur != nil {
			pr.cur.Close()
			pr.cur = nil
		}
		if len(pr.pieces) == 0 {
			return 0, io.EOF
		}
		rc, err := pr.blobs.Open(pr.ctx, pr.pieces[0].Key)
		if err != nil {
			return 0, fmt.Errorf("upload: reading a piece: %w", err)
		}
		pr.cur, pr.left, pr.pieces = rc, pr.pieces[0].Len, pr.pieces[1:]
	}
	n, err := pr.cur.Read(p[:min(int64(len(p)), pr.left)])
	pr.left -= int64(n)
	if err == io.EOF {
		if pr.left > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return n, err
}

func (pr *piecesReader) Close() error {
	if pr.cur != nil {
		return pr.cur.Close()
	}
	return nil
}

// sweepShared removes the uploads expired or empty too long.
func (s *Store) sweepShared(ctx context.Context, now time.Time) (int, error) {
	keys, err := s.shared.state.Keys(ctx, recordKind, maxListed)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, k := range keys {
		id := hex.EncodeToString(k)
		if !validID(id) {
			continue
		}
		b, ok, err := s.shared.state.Get(ctx, recordKind, k)
		var r record
		if err != nil || !ok || json.Unmarshal(b, &r) != nil {
			continue
		}
		expired := !now.Before(r.Created.Add(s.cfg.Expiry))
		empty := len(r.Pieces) == 0 && now.Sub(r.Created) >= s.cfg.EmptyExpiry
		if !expired && !empty {
			continue
		}
		gone, err := s.expire(ctx, id)
		if err != nil {
			errs = append(errs, err)
		}
		if gone {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// sharedLocker hands out leases in Shared: tusd's Locker.
type sharedLocker struct{ sh *sharedUploads }

func (l sharedLocker) NewLock(id string) (handler.Lock, error) {
	if !validID(id) {
		return nil, handler.ErrNotFound
	}
	token := make([]byte, 16)
	rand.Read(token)
	return &lease{sh: l.sh, id: id, key: recordKey(id), token: token}, nil
}

// lease is one request's hold on an upload.
type lease struct {
	sh    *sharedUploads
	id    string
	key   []byte
	token []byte
	stop  chan struct{}
	done  sync.WaitGroup
}

func (l *lease) Lock(ctx context.Context, requestUnlock func()) error {
	st := l.sh.state
	asked := false
	for {
		ok, err := st.Add(ctx, lockKind, l.key, l.token, time.Now().Add(leaseTime))
		if err != nil {
			if ctx.Err() != nil {
				return handler.ErrLockTimeout
			}
			return err
		}
		if ok {
			break
		}
		if !asked {
			// Ask whoever holds it to let go (a request of a connection
			// that broke, still waiting for bytes).
			st.Put(ctx, wantKind, l.key, nil, time.Now().Add(leaseTime))
			asked = true
		}
		select {
		case <-ctx.Done():
			return handler.ErrLockTimeout
		case <-time.After(retryLock):
		}
	}
	// A request to let go made to an earlier holder is not for this one.
	st.Delete(ctx, wantKind, l.key)
	l.stop = make(chan struct{})
	l.done.Add(1)
	go l.hold(requestUnlock)
	return nil
}

// hold renews the lease and listens for requests to let go until Unlock.
// It passes a request on to tusd only while the upload is being written
// to: tusd's handler sets up the request's body just before WriteChunk,
// and reads it from another goroutine when asked to stop, with nothing
// ordering the two (the race detector sees it); going through the
// writing set, locked by WriteChunk, orders them. A request that holds
// the lease without writing (a HEAD, a PATCH being checked) lets go by
// itself within moments.
func (l *lease) hold(requestUnlock func()) {
	defer l.done.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	want := time.NewTicker(wantEvery)
	defer want.Stop()
	renew := time.NewTicker(renewEvery)
	defer renew.Stop()
	st := l.sh.state
	wanted, asked := false, false
	for {
		select {
		case <-l.stop:
			return
		case <-want.C:
			if !wanted {
				_, ok, err := st.Take(ctx, wantKind, l.key)
				wanted = ok && err == nil
			}
			if wanted && !asked && l.sh.isWriting(l.id) {
				asked = true
				requestUnlock()
			}
		case <-renew.C:
			st.Replace(ctx, lockKind, l.key, l.token, l.token, time.Now().Add(leaseTime))
		}
	}
}

func (l *lease) Unlock() error {
	if l.stop == nil {
		return nil
	}
	close(l.stop)
	l.done.Wait()
	l.stop = nil
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := l.sh.state.DeleteIf(ctx, lockKind, l.key, l.token)
	return err
}
