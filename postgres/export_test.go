package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pista-tips/pista/internal/sealedid"
)

// What the external tests (package postgres_test, which may import
// server through pgtest and pistatest) need of the inside.

func (db *DB) Pool() *pgxpool.Pool { return db.pool }

func (db *DB) SealItem(n int64) int64 { return db.ids.Seal(sealedid.Item, n) }

var (
	InboxQuery            = inboxQuery
	ItemsForQuery         = itemsForQuery
	NewSourceItemsQuery   = newSourceItemsQuery
	SourceSessionQuery    = sourceSessionQuery
	ConversationForQuery  = conversationForQuery
	UnsortedQuery         = unsortedQuery
	UnsortedPreviewsQuery = unsortedPreviewsQuery
	IntakeForQuery        = intakeForQuery
	IntakeKeysForQuery    = intakeKeysForQuery
	DestroyIntakeQuery    = destroyIntakeQuery
	SortQuery             = sortQuery
	MigrationFiles        = func() (int, error) { ms, err := migrationFiles(); return len(ms), err }
)

// SetMaxMergedDesks sets how many desks one inbox query walks, until t ends.
func SetMaxMergedDesks(t interface{ Cleanup(func()) }, n int) {
	saved := maxMergedDesks
	maxMergedDesks = n
	t.Cleanup(func() { maxMergedDesks = saved })
}

var StorageErr = storageErr

// MigrateTo brings the database at url to version, and no further, as an
// older pista would have left it.
func MigrateTo(ctx context.Context, url string, version int64) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version bigint PRIMARY KEY, applied bigint NOT NULL)`); err != nil {
		return err
	}
	ms, err := migrationFiles()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.version <= version {
			if err := applyMigration(ctx, conn, m.version, m.name); err != nil {
				return err
			}
		}
	}
	return nil
}
