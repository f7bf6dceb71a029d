package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open pista database: one SQLite file in WAL mode, reached
// through two connection pools. Writes go through a single connection whose
// transactions begin IMMEDIATE, so writers queue in Go instead of failing
// with SQLITE_BUSY; reads go through a pool of read-only connections, which
// WAL lets run alongside the writer.
type DB struct {
	write *sql.DB          // one connection, BEGIN IMMEDIATE
	read  *sql.DB          // several connections, query_only
	ids   *sealedid.Sealer // seals the numbers of items and audit entries (ids.go)
}

// pragmas are applied to every connection, in both pools.
var pragmas = []string{
	"busy_timeout(10000)", // another process (the CLI) may hold the write lock
	"foreign_keys(1)",
	"journal_mode(WAL)",
	"synchronous(FULL)", // a committed tip survives a power cut
	// What is deleted or replaced is overwritten, not left in free
	// space: a destroyed intake key or a deleted conversation's key
	// must not stay in the file (forward secrecy, forward.go).
	"secure_delete(1)",
}

// Open opens the SQLite database at path, creating it if needed, and brings
// its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: unusable database path %q", path)
	}
	q := url.Values{"_pragma": pragmas}
	write, err := sql.Open("sqlite", path+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := migrateWhenFree(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	ids, err := loadIDs(ctx, write)
	if err != nil {
		write.Close()
		return nil, err
	}

	read, err := sql.Open("sqlite", path+"?"+q.Encode()+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	return &DB{write: write, read: read, ids: ids}, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.read.Close(), db.write.Close())
}

// migrate applies, in order, each embedded migration not yet recorded in
// schema_migrations, each in its own transaction with its record. The
// write lock taken by BEGIN IMMEDIATE makes two processes opening the same
// file at once apply each migration once.
func migrate(ctx context.Context, db *sql.DB) error {
	// In a transaction of its own: BEGIN IMMEDIATE waits for the write
	// lock (busy_timeout), where a bare statement that starts as a read
	// may be told SQLITE_BUSY at once by a second process creating the
	// table too.
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	type migration struct {
		version int64
		name    string
	}
	var ms []migration
	seen := map[int64]string{}
	for _, name := range names {
		base := path.Base(name)
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("sqlite: migration %s: name must start with a positive number", base)
		}
		if other, ok := seen[v]; ok {
			return fmt.Errorf("sqlite: migrations %s and %s share version %d", other, base, v)
		}
		seen[v] = base
		ms = append(ms, migration{v, name})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	// A database a newer pista migrated is refused before anything is
	// written to it.
	var have int64
	err = db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have)
	if err != nil && !strings.Contains(err.Error(), "no such table") {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	if know := ms[len(ms)-1].version; have > know {
		return &pista.NewerSchemaError{Have: have, Know: know}
	}
	if err := inTx(ctx, db, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		applied INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m.version, m.name); err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion is the version of the newest embedded migration: a
// database whose schema_migrations reaches it has this build's schema
// (pista migrate reads such a database only, without migrating it).
func SchemaVersion() int64 {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	var v int64
	for _, name := range names {
		num, _, _ := strings.Cut(path.Base(name), "_")
		if n, err := strconv.ParseInt(num, 10, 64); err == nil && n > v {
			v = n
		}
	}
	return v
}

func applyMigration(ctx context.Context, db *sql.DB, version int64, name string) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migration %d: %w", version, err)
	}
	defer tx.Rollback()
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&done); err != nil {
		return fmt.Errorf("sqlite: migration %d: %w", version, err)
	}
	if done > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", path.Base(name), err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`,
		version, pista.Now().Unix()); err != nil {
		return fmt.Errorf("sqlite: migration %d: %w", version, err)
	}
	return tx.Commit()
}

// stamp is the time a store records for t: t at pista.TimeGranularity, in
// UTC, or the current time if t is zero.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return pista.Now()
	}
	return t.UTC().Truncate(pista.TimeGranularity)
}

// unix turns a stored time back into a time.Time.
func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint failure.
func isUnique(err error) bool {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// errDiskFull is what a write that found the disk full returns.
var errDiskFull = fmt.Errorf("%w: the disk is full (the database could not grow)", pista.ErrStorageFull)

// storageErr maps SQLite's "database or disk is full" to
// pista.ErrStorageFull, so that a full disk is answered as one (507),
// whatever statement met it; other errors pass unchanged.
func storageErr(err error) error {
	var e *msqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w (%w)", errDiskFull, err)
	}
	return err
}

// isForeignKey reports whether err is a FOREIGN KEY constraint failure.
func isForeignKey(err error) bool {
	var e *msqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// notFound turns sql.ErrNoRows into pista.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return pista.ErrNotFound
	}
	return err
}

// nullID stores 0 as NULL, for optional references.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// inTx runs one statement in a write transaction.
func inTx(ctx context.Context, db *sql.DB, stmt string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return err
	}
	return tx.Commit()
}

// migrateWhenFree migrates, trying again while another process opening
// the same new file holds it: SQLite answers SQLITE_BUSY at once, without
// waiting for busy_timeout, to a connection that finds the file switching
// to WAL under another (seen with four opens of one new file at once).
func migrateWhenFree(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(10 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := migrate(ctx, db)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
	}
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var e *msqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}
