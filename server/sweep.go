package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
)

// # Orphans
//
// A crash between an object's write and its row's commit leaves an
// object no row refers to. Nothing at start walks every object or every
// row: a store may hold millions, and start-up must not grow with them.
// Both stores' keys start with their hour (blob.Local, s3.Store), so a
// sweep lists only the hours that can hold an orphan (RecentKeyer), and
// checks only the keys it listed against the rows (ObjectsInUse); the
// check runs in the background, while the server serves.
//
// In the data folder (blob.Local) the server holds the folder's lock:
// when New lists the folder, before it serves anything, no write is in
// flight, and every object already there that no row names is an orphan,
// whatever its age. New lists the hours from heldBack before the newest
// object's hour (the last run's last writes, however long ago it
// stopped) to now; the background checks them at once and deletes the
// orphans (Server.Swept says when). Older hours were swept by the hourly
// sweeps of the runs that wrote them (below), or by their starts. Objects from before keys had an hour
// are swept once, in the background too (blob.Local.LegacyKeys).
//
// A bucket is different: other instances may be writing to it, their
// rows not yet committed. So in a bucket only hours older than
// OrphanGrace are swept:
//
//   - an object younger than OrphanGrace is left alone: its submission
//     may still be arriving (a form's later files, a slow connection),
//     and its row comes when the whole submission has;
//   - the first sweep, a minute after start, looks at the SweepBack
//     hours before that (what a crash, this instance's or another's,
//     left while no instance swept); each later sweep, every hour, at the
//     hour that has just become old enough.
//
// The data folder gets the hourly sweeps too, from the hour of start
// (what a request that failed and could not clean up left while the
// server ran). An instance stopped longer than SweepBack while no other
// ran leaves the orphans of its crash in a bucket for good: unreadable
// ciphertext, which costs space only.
//
// Each sweep of a bucket also aborts the multipart uploads begun more
// than OrphanGrace ago: a crash in the middle of a large Put leaves parts
// that S3 keeps, unlisted, until then.

// OrphanGrace is how old an object must be before a sweep of a bucket
// may delete it for want of a row: twice the longest a request body may
// take (httpx.MaxBodyTime, after which it is cut), so no submission still
// arriving can lose its objects.
const OrphanGrace = 2 * httpx.MaxBodyTime

// SweepBack is how many hours before OrphanGrace the first sweep after
// start looks at (before the newest object, in the data folder).
const SweepBack = 7 * 24 * time.Hour

// heldBack is how far before its newest object the start of a server on
// the data folder looks: the hours the last run's hourly sweeps had not
// yet reached when it stopped (they sweep up to OrphanGrace and an hour
// ago, and no object is newer than the newest), and an hour to spare.
const heldBack = OrphanGrace + 2*time.Hour

// firstSweepAfter lets a new instance start serving before it sweeps a
// bucket.
const firstSweepAfter = time.Minute

// sweepBatch is how many listed keys one check against the rows takes:
// the sweep's memory, whatever the hours hold.
const sweepBatch = 50000

// RecentKeyer is an object store that lists the objects written in a
// span of hours without listing every object (s3.Store, blob.Local).
type RecentKeyer interface {
	pista.BlobStore
	KeysBetween(ctx context.Context, from, to time.Time) ([]string, error)
}

// heldStore is an object store only the process holding the data
// folder's lock writes to (blob.Local).
type heldStore interface {
	RecentKeyer
	// NewestHour is the hour of the newest object, zero if none.
	NewestHour() (time.Time, error)
	// LegacyKeys lists the objects whose keys have no hour, until
	// MarkLegacySwept.
	LegacyKeys(ctx context.Context) ([]string, error)
	MarkLegacySwept() error
}

// staleUploads is a store that can abort the writes a crash left
// unfinished (s3.Store).
type staleUploads interface {
	AbortStaleUploads(ctx context.Context, before time.Time) (int, error)
}

// SweepRecentOrphans deletes the objects written from hour from to hour
// to that no row refers to. In a bucket both must be at least
// OrphanGrace ago.
func SweepRecentOrphans(ctx context.Context, tips pista.TipStore, blobs RecentKeyer, from, to time.Time) (int, error) {
	keys, err := blobs.KeysBetween(ctx, from, to)
	if err != nil {
		return 0, err
	}
	return sweepKeys(ctx, tips, blobs, keys)
}

// sweepKeys deletes those of keys no row refers to, a batch at a time.
// The keys are listed first, the rows read second: a row committed in
// between is seen.
func sweepKeys(ctx context.Context, tips pista.TipStore, blobs pista.BlobStore, keys []string) (int, error) {
	n := 0
	var errs []error
	for len(keys) > 0 {
		batch := keys[:min(len(keys), sweepBatch)]
		keys = keys[len(batch):]
		used, err := tips.ObjectsInUse(ctx, batch)
		if err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		for _, k := range batch {
			if !used[k] {
				if err := blobs.Delete(ctx, k); err != nil {
					errs = append(errs, err)
					continue
				}
				n++
			}
		}
	}
	return n, errors.Join(errs...)
}

// doomedBatch bounds the keys one round of SweepDoomed handles: as many
// as one scan of the items checks (ObjectsInUse reads the whole table
// for each batch, whatever its size up to the stores' 10,000).
const doomedBatch = 10000

// SweepDoomed deletes the objects the store recorded when their rows
// were deleted or given other objects (pista.TipStore.DoomedObjects),
// unless a row names them again, and forgets them. The request that
// changed the rows deleted most of them already; those it did not (it
// was killed first) go now. It answers how many it deleted or found
// gone.
func SweepDoomed(ctx context.Context, tips pista.TipStore, blobs pista.BlobStore) (int, error) {
	n := 0
	for {
		keys, err := tips.DoomedObjects(ctx, doomedBatch)
		if err != nil || len(keys) == 0 {
			return n, err
		}
		used, err := tips.ObjectsInUse(ctx, keys)
		if err != nil {
			return n, err
		}
		var done []string
		var errs []error
		for _, k := range keys {
			if !used[k] {
				if err := blobs.Delete(ctx, k); err != nil {
					errs = append(errs, err) // kept: the next sweep tries again
					continue
				}
				n++
			}
			done = append(done, k)
		}
		if err := tips.ForgetDoomed(ctx, done); err != nil {
			return n, err
		}
		if len(errs) > 0 {
			return n, errors.Join(errs...)
		}
	}
}

// sweeper sweeps a store's orphans in the background, as the comment
// above says.
type sweeper struct {
	log  *slog.Logger
	tips pista.TipStore
	// objects is the object store, whatever it is (blobs is set only
	// for pista's own stores).
	objects pista.BlobStore
	blobs   RecentKeyer
	// held: the objects in the data folder when New listed it, before
	// serving (nil for a bucket).
	held  []string
	local heldStore // the data folder's store, if it is the objects'
	from  time.Time // the first hour the hourly sweeps look at (zero: SweepBack before the first)
	first time.Duration
	swept chan struct{} // closed when held (and the legacy objects) are swept
}

// newSweeper prepares the sweep of blobs. On the data folder it lists
// the objects a crash may have left (New calls it before serving), so
// its cost is that of the recent hours' objects.
func newSweeper(log *slog.Logger, tips pista.TipStore, blobs pista.BlobStore) (*sweeper, error) {
	s := &sweeper{log: log, tips: tips, objects: blobs, first: firstSweepAfter, swept: make(chan struct{})}
	recent, ok := blobs.(RecentKeyer)
	if !ok {
		// Not a store of pista's (tests): nothing to sweep.
		close(s.swept)
		return s, nil
	}
	s.blobs = recent
	local, ok := blobs.(heldStore)
	if !ok {
		close(s.swept)
		return s, nil
	}
	now := time.Now()
	newest, err := local.NewestHour()
	if err != nil {
		return nil, err
	}
	if newest.IsZero() || newest.After(now) {
		newest = now
	}
	s.held, err = local.KeysBetween(context.Background(), newest.Add(-heldBack), now.Add(time.Hour))
	if err != nil {
		return nil, err
	}
	if s.held == nil {
		s.held = []string{}
	}
	s.local = local
	s.from = now.Truncate(time.Hour)
	s.first = time.Hour
	return s, nil
}

// run sweeps until ctx ends.
func (s *sweeper) run(ctx context.Context) {
	s.sweepDoomed(ctx)
	if s.blobs == nil {
		return
	}
	if s.local != nil {
		s.sweepHeld(ctx)
	}
	wait := time.NewTimer(s.first)
	defer wait.Stop()
	from := s.from // the first hour not yet swept
	for {
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		to := time.Now().Add(-OrphanGrace).Truncate(time.Hour).Add(-time.Hour) // the last whole hour old enough
		if from.IsZero() {
			from = to.Add(-SweepBack)
		}
		if a, ok := s.blobs.(staleUploads); ok {
			// The parts of uploads a crash cut short, which no listing of
			// objects shows.
			if n, err := a.AbortStaleUploads(ctx, time.Now().Add(-OrphanGrace)); err != nil {
				s.log.Error("aborting unfinished uploads in the bucket", "err", err)
			} else if n > 0 {
				s.log.Info("aborted uploads left by an interrupted write", "count", n)
			}
		}
		s.sweepDoomed(ctx)
		if !to.Before(from) {
			n, err := SweepRecentOrphans(ctx, s.tips, s.blobs, from, to)
			if err != nil {
				s.log.Error("sweeping orphan objects", "err", err)
			} else {
				from = to.Add(time.Hour)
			}
			if n > 0 {
				s.log.Info("removed objects left by an interrupted write", "count", n)
			}
		}
		wait.Reset(time.Hour)
	}
}

// sweepDoomed runs SweepDoomed and logs what it did.
func (s *sweeper) sweepDoomed(ctx context.Context) {
	n, err := SweepDoomed(ctx, s.tips, s.objects)
	if err != nil && ctx.Err() == nil {
		s.log.Error("deleting the objects of deleted rows", "err", err)
	}
	if n > 0 {
		s.log.Info("deleted the objects of deleted or sorted items (most were gone already)", "count", n)
	}
}

// sweepHeld deletes the orphans among the data folder's objects listed
// at start, then, once, among those whose keys have no hour.
func (s *sweeper) sweepHeld(ctx context.Context) {
	defer close(s.swept)
	n, err := sweepKeys(ctx, s.tips, s.local, s.held)
	checked := len(s.held)
	s.held = nil
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("sweeping orphan objects", "err", err)
		}
		return
	}
	legacy, err := s.local.LegacyKeys(ctx)
	if err == nil && len(legacy) > 0 {
		var m int
		m, err = sweepKeys(ctx, s.tips, s.local, legacy)
		n += m
		checked += len(legacy)
		if err == nil {
			err = s.local.MarkLegacySwept()
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("sweeping orphan objects", "err", err)
		}
		return
	}
	s.log.Info("swept the objects written before start: removed objects left by an interrupted write", "checked", checked, "count", n)
}
