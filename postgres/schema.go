package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
)

// migrationsTable is the record of the migrations applied.
const migrationsTable = `schema_migrations (
		version bigint PRIMARY KEY,
		applied bigint NOT NULL
	)`

// ObjectKeysQuery selects every object key a row names: what ObjectKeys
// lists, and what a backup (package backup) must carry with the rows. A
// table that comes to name objects belongs in it.
const ObjectKeysQuery = `SELECT object FROM items UNION SELECT meta FROM items WHERE meta <> ''
		UNION SELECT object FROM index_segments`

// SchemaVersion is the version of the newest migration this pista has:
// the schema it makes and reads.
func SchemaVersion() (int64, error) {
	ms, err := migrationFiles()
	if err != nil {
		return 0, err
	}
	return ms[len(ms)-1].version, nil
}

// MakeSchema makes pista's schema, as of migration upTo, in tx's
// database (its search_path's first schema), which must hold no pista
// schema yet: what a restore fills before the server's own migrations
// bring it up to date. Everything happens in tx, so a restore that fails
// leaves no schema behind.
func MakeSchema(ctx context.Context, tx pgx.Tx, upTo int64) error {
	ms, err := migrationFiles()
	if err != nil {
		return err
	}
	if know := ms[len(ms)-1].version; upTo > know {
		return fmt.Errorf("postgres: schema version %d is newer than this pista's (%d)", upTo, know)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE `+migrationsTable); err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	for _, m := range ms {
		if m.version > upTo {
			break
		}
		body, err := migrations.ReadFile(m.name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("postgres: migration %d: %w", m.version, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)`, m.version, pista.Now().Unix()); err != nil {
			return fmt.Errorf("postgres: migration %d: %w", m.version, err)
		}
	}
	return nil
}
