package blob

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pista-tips/pista"
)

// # Times on disk
//
// A folder's modification time changes whenever an entry is added or
// removed, to the nanosecond: left alone, objects/ab/ would say when its
// newest object arrived and tmp/ when the last upload ended, finer than
// the database records anything (pista.TimeGranularity). So every change
// the store makes to a folder is followed by Coarsen of that folder, and
// the server coarsens the data folder's other folders and files (the
// database, the uploads) at start, on a timer and at exit (CoarsenData).
//
// Access times: objects are opened with O_NOATIME (the server owns
// them), so downloading one leaves no trace in its times; a folder's
// access time moves when it is listed, which only the sweeps do, and each
// sweep coarsens what it listed. A change time (ctime) cannot be set by any
// program: the kernel sets it to the exact time of the last change, of
// the times too. Mount the data folder with noatime, and keep it on an
// encrypted disk, for what this cannot cover.

// Coarsen sets the access and modification times of name to the current
// time at pista.TimeGranularity.
func Coarsen(name string) error {
	t := pista.Now()
	return os.Chtimes(name, t, t)
}

// mkdir makes dir (and its parents) as MkdirAll does, and, for each folder
// it made, fsyncs the folder above it so that the new entry survives a
// power cut, then coarsens the times of both.
func mkdir(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdir(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	Coarsen(dir)
	Coarsen(parent)
	return nil
}

// openNoAtime opens name for reading without updating its access time,
// when the process owns the file (O_NOATIME's rule); otherwise as usual.
func openNoAtime(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOATIME, 0)
	if errors.Is(err, fs.ErrPermission) {
		return os.Open(name)
	}
	return f, err
}

// CoarsenData coarsens the times of a data folder: the folder, every file
// and folder directly in it (the database and its journal, the lock),
// objects/ and each folder directly in it (ten days' folders, see
// local.go; not the hours' folders below them, whose number grows with
// the instance's age: each change and each listing coarsens the folder it
// touched), tmp/ and its files, uploads/ and its
// files (whose expiry reads their modification time: an upload is kept
// 23 to 24 hours after its last write rather than 24). Errors are
// ignored: a file may come and go while it runs.
func CoarsenData(dir string) {
	Coarsen(dir)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		Coarsen(filepath.Join(dir, e.Name()))
	}
	for _, sub := range []string{"tmp", "uploads"} {
		files, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range files {
			Coarsen(filepath.Join(dir, sub, e.Name()))
		}
		Coarsen(filepath.Join(dir, sub))
	}
	objects := filepath.Join(dir, "objects")
	subs, _ := os.ReadDir(objects)
	for _, e := range subs {
		if e.IsDir() {
			Coarsen(filepath.Join(objects, e.Name()))
		}
	}
	// Listing them moved their access times.
	Coarsen(dir)
	Coarsen(objects)
}

// coarsenObjects coarsens every folder under dir's objects/, after a
// listing of them all (Local.Keys).
func coarsenObjects(dir string) {
	objects := filepath.Join(dir, "objects")
	filepath.WalkDir(objects, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != objects {
			Coarsen(p)
		}
		return nil
	})
	Coarsen(objects)
}
