package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open pista database on a PostgreSQL server: a pgx pool.
type DB struct {
	pool *pgxpool.Pool
	ids  *sealedid.Sealer // seals the numbers of items and audit entries (ids.go)
}

// Options are what Open may be told besides the URL.
type Options struct {
	// Password, if not empty, is the role's password (read from a file:
	// never on the command line). Otherwise pgx reads $PGPASSWORD, or
	// ~/.pgpass, as libpq does.
	Password string
}

// CheckURL refuses what `pista serve --database` must not take: anything
// but a postgres:// or postgresql:// URL, and a URL with a password in it
// (a command line is seen by every user of the machine, in ps and shell
// histories).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("postgres: the database is not a URL")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("postgres: the database URL must start with postgres://, not %q", u.Scheme+":")
	}
	if _, ok := u.User.Password(); ok {
		return errors.New("postgres: the database URL holds a password; give it in $PGPASSWORD or a file instead")
	}
	if u.Query().Has("password") {
		return errors.New("postgres: the database URL holds a password; give it in $PGPASSWORD or a file instead")
	}
	return nil
}

// Open connects to the PostgreSQL database at rawURL (postgres://…) and
// brings its schema up to date. The URL may carry any libpq parameter
// pgx understands (sslmode, search_path…), but no password (CheckURL).
func Open(ctx context.Context, rawURL string) (*DB, error) {
	return OpenWith(ctx, rawURL, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, rawURL string, o Options) (*DB, error) {
	if err := CheckURL(rawURL); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: the database URL: %w", err)
	}
	if o.Password != "" {
		cfg.ConnConfig.Password = o.Password
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	ids, err := loadIDs(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{pool: pool, ids: ids}, nil
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrationLock names the advisory lock that instances starting together
// take around migrating: the first migrates, the others wait and find
// nothing left to do. Advisory locks are per database; instances in
// different schemas of one database merely wait for each other.
var migrationLock = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("pista schema migrations"))
	return int64(h.Sum64())
}()

// migrate applies, in order, each embedded migration not yet recorded in
// schema_migrations, each in its own transaction with its record, holding
// the advisory lock migrationLock on one connection throughout.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrationFiles()
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: open: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer func() {
		// A connection whose unlock failed must not go back to the pool
		// holding the lock.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+migrationsTable); err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	// A database a newer pista migrated is refused before anything is
	// written to it.
	var have int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	if know := ms[len(ms)-1].version; have > know {
		return &pista.NewerSchemaError{Have: have, Know: know}
	}
	for _, m := range ms {
		if err := applyMigration(ctx, conn.Conn(), m.version, m.name); err != nil {
			return err
		}
	}
	return nil
}

type migration struct {
	version int64
	name    string
}

// migrationFiles lists the embedded migrations in order of version.
func migrationFiles() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int64]string{}
	for _, name := range names {
		base := path.Base(name)
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migration %s: name must start with a positive number", base)
		}
		if other, ok := seen[v]; ok {
			return nil, fmt.Errorf("postgres: migrations %s and %s share version %d", other, base, v)
		}
		seen[v] = base
		ms = append(ms, migration{v, name})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

func applyMigration(ctx context.Context, conn *pgx.Conn, version int64, name string) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migration %d: %w", version, err)
	}
	defer tx.Rollback(ctx)
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil {
		return fmt.Errorf("postgres: migration %d: %w", version, err)
	}
	if done {
		return nil
	}
	// No arguments: the simple protocol, which runs a file of several
	// statements.
	if _, err := tx.Exec(ctx, string(body)); err != nil {
		return fmt.Errorf("postgres: migration %s: %w", path.Base(name), err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)`,
		version, pista.Now().Unix()); err != nil {
		return fmt.Errorf("postgres: migration %d: %w", version, err)
	}
	return tx.Commit(ctx)
}

// loadIDs reads the instance's ID key, making it on first use: instances
// starting together all read the one that was stored.
func loadIDs(ctx context.Context, pool *pgxpool.Pool) (*sealedid.Sealer, error) {
	fresh := make([]byte, 32)
	rand.Read(fresh)
	if _, err := pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ('id-key', $1) ON CONFLICT (name) DO NOTHING`, fresh); err != nil {
		return nil, fmt.Errorf("postgres: the ID key: %w", storageErr(err))
	}
	var key []byte
	if err := pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = 'id-key'`).Scan(&key); err != nil {
		return nil, fmt.Errorf("postgres: the ID key: %w", err)
	}
	return newIDs(key)
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

// SQLSTATEs the stores tell apart.
const (
	codeUnique     = "23505"
	codeForeignKey = "23503"
	codeDiskFull   = "53100"
)

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool { return pgCode(err) == codeUnique }

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool { return pgCode(err) == codeForeignKey }

// errDiskFull is what a write that found the server's disk full returns.
var errDiskFull = fmt.Errorf("%w: the database server's disk is full", pista.ErrStorageFull)

// storageErr maps PostgreSQL's disk_full (53100) to pista.ErrStorageFull,
// so that a full disk is answered as one (507), whatever statement met
// it; other errors pass unchanged.
func storageErr(err error) error {
	if err != nil && pgCode(err) == codeDiskFull {
		return fmt.Errorf("%w (%w)", errDiskFull, err)
	}
	return err
}

// notFound turns pgx.ErrNoRows into pista.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return pista.ErrNotFound
	}
	return err
}

// nullID stores 0 as NULL, for optional references.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// inTx runs f in a transaction and commits it if f succeeds.
func (db *DB) inTx(ctx context.Context, f func(pgx.Tx) error) (err error) {
	defer func() { err = storageErr(err) }()
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Locks that writers take for the rest of their transaction
// (pg_advisory_xact_lock), where SQLite's single writer gave the same
// order for free.
const (
	// lockItems is held by every transaction that inserts items, from
	// taking their IDs until it commits: so items become visible in the
	// order of their IDs, and "the items after N" (pull, notifications)
	// never skips one that a slower transaction commits later.
	lockItems = 1 + iota
	// lockAddresses is held while a desk's slug or alias is checked and
	// stored: a slug is never another desk's alias.
	lockAddresses
)

// lockSpace is the first key of pista's two-key advisory locks ("pist").
const lockSpace int32 = 0x70697374

// xactLock takes one of the locks above for the rest of tx.
func xactLock(ctx context.Context, tx pgx.Tx, which int32) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockSpace, which)
	return err
}

// constraint names the constraint err violated, if any.
func constraint(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.ConstraintName
	}
	return ""
}

// collect reads every row with scan; nil if there is none, as SQLite's
// stores answer.
func collect[T any](rows pgx.Rows, scan pgx.RowToFunc[T]) ([]T, error) {
	var out []T
	out, err := pgx.AppendRows(out, rows, scan)
	if len(out) == 0 {
		out = nil
	}
	return out, err
}
