package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
)

// # Orphans in a bucket
//
// A crash between an object's write and its row's commit leaves an
// object no row refers to. In the data folder the server sweeps them at
// start, holding the folder's lock, so no write is in flight
// (SweepOrphans). A bucket is different: it may hold millions of objects,
// which a listing at every start would walk, and other instances may be
// writing to it, their rows not yet committed. So a bucket is swept in
// the background, never at start, and only in the hours that can hold an
// orphan nobody will claim:
//
//   - an object younger than OrphanGrace is left alone: its submission
//     may still be arriving (a form's later files, a slow connection),
//     and its row comes when the whole submission has;
//   - the first sweep, a minute after start, looks at the SweepBack
//     hours before that (what a crash, this instance's or another's,
//     left while no instance swept); each later sweep, every hour, at the
//     hour that has just become old enough.
//
// The listing covers those hours only (RecentKeyer: the bucket's keys
// start with their hour), so its cost follows the number of objects
// written in them, not the bucket's size. An instance stopped longer
// than SweepBack while no other ran leaves the orphans of its crash for
// good: unreadable ciphertext, which costs space only.
//
// Each sweep also aborts the multipart uploads begun more than
// OrphanGrace ago: a crash in the middle of a large Put leaves parts
// that S3 keeps, unlisted, until then.

// OrphanGrace is how old an object must be before a sweep of a bucket
// may delete it for want of a row: twice the longest a request body may
// take (httpx.MaxBodyTime, after which it is cut), so no submission still
// arriving can lose its objects.
const OrphanGrace = 2 * httpx.MaxBodyTime

// SweepBack is how many hours before OrphanGrace the first sweep after
// start looks at.
const SweepBack = 7 * 24 * time.Hour

// firstSweepAfter lets a new instance start serving before it sweeps.
const firstSweepAfter = time.Minute

// RecentKeyer is an object store that lists the objects written in a
// span of hours without listing every object (s3.Store).
type RecentKeyer interface {
	pista.BlobStore
	KeysBetween(ctx context.Context, from, to time.Time) ([]string, error)
}

// staleUploads is a store that can abort the writes a crash left
// unfinished (s3.Store).
type staleUploads interface {
	AbortStaleUploads(ctx context.Context, before time.Time) (int, error)
}

// SweepRecentOrphans deletes the objects written from hour from to hour
// to (both at least OrphanGrace ago) that no row refers to.
func SweepRecentOrphans(ctx context.Context, tips pista.TipStore, blobs RecentKeyer, from, to time.Time) (int, error) {
	keys, err := blobs.KeysBetween(ctx, from, to)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	// Listed first, the rows read second: a row committed in between
	// is seen.
	used, err := tips.ObjectKeys(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, k := range keys {
		if !used[k] {
			if err := blobs.Delete(ctx, k); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// sweepRecent sweeps a bucket's orphans in the background, as the
// comment above says, until ctx ends.
func sweepRecent(ctx context.Context, log *slog.Logger, tips pista.TipStore, blobs RecentKeyer) {
	wait := time.NewTimer(firstSweepAfter)
	defer wait.Stop()
	var from time.Time // the first hour not yet swept
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
		if a, ok := blobs.(staleUploads); ok {
			// The parts of uploads a crash cut short, which no listing of
			// objects shows.
			if n, err := a.AbortStaleUploads(ctx, time.Now().Add(-OrphanGrace)); err != nil {
				log.Error("aborting unfinished uploads in the bucket", "err", err)
			} else if n > 0 {
				log.Info("aborted uploads left by an interrupted write", "count", n)
			}
		}
		if !to.Before(from) {
			n, err := SweepRecentOrphans(ctx, tips, blobs, from, to)
			if err != nil {
				log.Error("sweeping orphan objects in the bucket", "err", err)
			} else {
				from = to.Add(time.Hour)
			}
			if n > 0 {
				log.Info("removed objects left by an interrupted write", "count", n)
			}
		}
		wait.Reset(time.Hour)
	}
}
