// Package migrate moves an embedded instance (a data folder with SQLite's
// pista.db and its objects) to PostgreSQL and an S3 bucket: `pista
// migrate`. (The schema migrations each backend applies at start are
// another thing, in packages sqlite and postgres.)
//
// # What it changes, and in which order
//
// Nothing in the data folder. It takes the folder's lock as a server
// does, without making or touching the lock file (server.HoldStopped), so
// no server runs meanwhile; it reads pista.db through SQLite's immutable,
// read-only open, which writes no journal, no shared memory and no lock;
// and it reads objects with O_NOATIME. (Reading moves the access times of
// pista.db and of the folders it lists, unless the disk is mounted
// noatime: their contents, modes and modification times stay.) A folder whose
// pista.db has a write-ahead log beside it (a server or command that did
// not stop cleanly) is refused: an immutable open would not see the log's
// transactions, and any other open of the database may write.
//
// The target's schema is made first (postgres.OpenWith runs its
// migrations), and a target that already holds rows is refused. Then, as
// a server writes a tip, objects first and rows second:
//
//  1. every object a row names is copied to the bucket under its key and
//     read back: the same size and SHA-256 as the file, or the run fails;
//  2. every row of every table that both schemas have is copied in one
//     PostgreSQL transaction (COPY), identity sequences are moved past
//     the copied IDs (and past SQLite's AUTOINCREMENT counters, so no item
//     ID is ever given twice), and each table's row count is compared
//     with SQLite's before the transaction commits.
//
// Before the commit, pista.db must still be as it was (size, inode,
// change time, no log beside it): admin commands take no lock, and one
// run meanwhile fails the move (ErrChanged).
//
// Memory stays bounded by one object part (s3.PartSize) per object copied
// at once (Config.Workers) and one row at a time, but for the list of object keys (about 100 bytes an object) and
// the few rows of a circle of foreign keys (one per desk).
//
// A failure anywhere rolls the rows back: the database stays empty and
// the objects already copied stay in the bucket, named by no row. Running
// migrate again is safe: an object already in the bucket with the same
// size and SHA-256 is not sent again, and any other is replaced.
//
// Objects in the folder that no row names (left by a crash between an
// object's write and its row's) are not copied: in a bucket, the orphan
// sweep would never find them (server.SweepRecentOrphans looks at recent
// hours only, and the folder's keys do not begin with their hour).
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista/blob/s3"
	"github.com/pista-tips/pista/postgres"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/upload"
)

// Config says what to move where.
type Config struct {
	Data string // the embedded instance's data folder
	// Database is the target's PostgreSQL URL, without a password
	// (postgres.CheckURL); DatabasePassword, if set, is the role's.
	Database         string
	DatabasePassword string
	// Objects is the target bucket's URL (s3.ParseURL), its keys from
	// ObjectsCredentialsFile or else from Getenv's AWS_* (s3.Credentials).
	Objects                string
	ObjectsCredentialsFile string
	Getenv                 func(string) string // nil: os.Getenv
	// Progress, if set, is told of each object copied or checked and each
	// table copied, one at a time.
	Progress func(Progress)
	// Workers is how many objects are copied at once (0: DefaultWorkers).
	// Each holds at most one part (s3.PartSize) in memory.
	Workers int
}

// DefaultWorkers is how many objects are copied at once by default: a
// bucket's round trip, not the bytes, bounds how fast small objects go.
const DefaultWorkers = 4

// Phase names a step of the move.
type Phase string

const (
	PhaseObjects Phase = "copying objects"
	PhaseVerify  Phase = "reading objects back"
	PhaseRows    Phase = "copying rows"
)

// Progress is where the move is.
type Progress struct {
	Phase       Phase
	Done, Total int   // objects, or tables
	Bytes       int64 // of the objects done
	Table       string
	Rows        int64 // PhaseRows: the rows of Table, just copied
}

// Summary is what a move did.
type Summary struct {
	Tables  []Table // in the order they were copied
	Objects int     // objects sent to the bucket
	Present int     // objects already in the bucket with the same contents (a re-run)
	Bytes   int64   // of every object the rows name
	// Orphans are objects of the folder that no row names: not copied.
	Orphans int
	// Missing are objects rows name that the folder does not have: rows
	// that were broken before the move, and still are.
	Missing []string
	// Uploads are resumable uploads in progress in the folder's uploads/,
	// which sources had not yet sent with a form: not moved.
	Uploads int
	// Dropped are SQLite's columns that PostgreSQL's schema does not
	// have ("table.column"): columns no longer read.
	Dropped []string
}

// Table is a table copied and its rows.
type Table struct {
	Name string
	Rows int64
}

// Errors the command gives hints for.
var (
	ErrNoDatabase = errors.New("no embedded instance here")
	ErrMoved      = errors.New("the data folder's rows are already in PostgreSQL")
	ErrJournal    = errors.New("the database was not closed cleanly")
	ErrNotEmpty   = errors.New("the target database is not empty")
	ErrSchema     = errors.New("the database's schema is not this pista's")
	ErrChanged    = errors.New("the data folder changed while it was read")
)

// Run moves the instance in cfg.Data to cfg.Database and cfg.Objects.
func Run(ctx context.Context, cfg Config) (sum Summary, err error) {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Progress == nil {
		cfg.Progress = func(Progress) {}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	dir := cfg.Data
	if fi, err := os.Stat(dir); err != nil {
		return sum, err
	} else if !fi.IsDir() {
		return sum, fmt.Errorf("%s is not a folder", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, server.PostgresMark)); err == nil {
		return sum, fmt.Errorf("%s: %w (%s names the database)", dir, ErrMoved, server.PostgresMark)
	}
	dbPath := filepath.Join(dir, server.DBFile)
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return sum, fmt.Errorf("%s: %w: it has no %s", dir, ErrNoDatabase, server.DBFile)
	} else if err != nil {
		return sum, err
	}
	lock, err := server.HoldStopped(dir)
	if err != nil {
		return sum, err
	}
	if lock != nil {
		defer lock.Close()
	}
	for _, j := range []string{"-wal", "-journal"} {
		if fi, err := os.Stat(dbPath + j); err == nil && fi.Size() > 0 {
			return sum, fmt.Errorf("%s: %w: %s has changes not yet written into it (%s)", dir, ErrJournal, server.DBFile, server.DBFile+j)
		}
	}
	before, err := stat(dbPath)
	if err != nil {
		return sum, err
	}
	src, err := openSource(ctx, dbPath)
	if err != nil {
		return sum, err
	}
	defer src.Close()

	// The target: the bucket, then the database's schema and rows.
	bcfg, err := s3.ParseURL(cfg.Objects)
	if err != nil {
		return sum, fmt.Errorf("--to-objects: %w", err)
	}
	if bcfg.Creds, err = s3.Credentials(cfg.ObjectsCredentialsFile, cfg.Getenv); err != nil {
		return sum, err
	}
	bucket, err := s3.Open(ctx, bcfg)
	if err != nil {
		return sum, err
	}
	pg, err := postgres.OpenWith(ctx, cfg.Database, postgres.Options{Password: cfg.DatabasePassword})
	if err != nil {
		return sum, err
	}
	pg.Close()
	conn, err := connect(ctx, cfg.Database, cfg.DatabasePassword)
	if err != nil {
		return sum, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	plan, err := planTables(ctx, src, conn)
	if err != nil {
		return sum, err
	}
	if err := checkEmpty(ctx, conn, plan); err != nil {
		return sum, err
	}
	sum.Dropped = plan.dropped
	sum.Uploads = countUploads(dir)

	// Objects first, read back; then the rows.
	committing := false
	defer func() {
		if err != nil && sum.Objects > 0 && !committing {
			err = fmt.Errorf("%w\nnothing was written to the database (the rows were rolled back); the %d objects copied to %s stay there, named by no row: running pista migrate again once the cause is fixed is safe (objects already there with the same contents are not sent again)",
				err, sum.Objects, bucket)
		}
	}()
	named, err := objectKeys(ctx, src)
	if err != nil {
		return sum, err
	}
	if err := copyObjects(ctx, named, dir, bucket, cfg.Workers, &sum, cfg.Progress); err != nil {
		return sum, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return sum, fmt.Errorf("postgres: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := copyRows(ctx, src, tx, plan, &sum, cfg.Progress); err != nil {
		return sum, err
	}
	// Nothing may have written to the folder meanwhile: not a server
	// (one started on a folder that had no lock file yet), not an admin
	// command (they take no lock).
	if lock == nil {
		if l, err := server.HoldStopped(dir); err != nil {
			return sum, fmt.Errorf("%w: %w", ErrChanged, err)
		} else if l != nil {
			defer l.Close()
		}
	}
	after, err := stat(dbPath)
	if err != nil {
		return sum, err
	}
	if after != before {
		return sum, fmt.Errorf("%s: %w (%s was written to)", dir, ErrChanged, server.DBFile)
	}
	if _, err := os.Stat(dbPath + "-wal"); err == nil {
		return sum, fmt.Errorf("%s: %w (%s was opened for writing)", dir, ErrChanged, server.DBFile)
	}
	committing = true
	if err := tx.Commit(ctx); err != nil {
		// The connection may have failed after the server committed.
		return sum, fmt.Errorf("postgres: committing the rows: %w\nwhether the database has the rows is not known: if it has none, run pista migrate again (a database with rows is refused)", err)
	}
	return sum, nil
}

// fileState is what changes when a file is written: its size, and its
// change time, which no program can set back (blob.Coarsen sets the
// modification time back to the hour; the change time moves with it).
type fileState struct {
	size         int64
	ino          uint64
	ctime, mtime syscall.Timespec
}

func stat(name string) (fileState, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return fileState{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileState{size: fi.Size()}, nil
	}
	return fileState{size: fi.Size(), ino: st.Ino, ctime: st.Ctim, mtime: st.Mtim}, nil
}

// connect opens the one connection the rows are copied over.
func connect(ctx context.Context, rawURL, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: the database URL: %w", err)
	}
	if password != "" {
		cfg.Password = password
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return conn, nil
}

// countUploads counts the resumable uploads in progress in the folder.
func countUploads(dir string) int {
	es, _ := os.ReadDir(filepath.Join(dir, upload.Dir))
	n := 0
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".info") {
			n++
		}
	}
	return n
}
