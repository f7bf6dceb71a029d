package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// What the external tests (package postgres_test, which may import
// server through pgtest and pistatest) need of the inside.

func (db *DB) Pool() *pgxpool.Pool { return db.pool }

func (db *DB) SealItem(n int64) int64 { return db.ids.seal(domainItem, n) }

var (
	InboxQuery           = inboxQuery
	ItemsForQuery        = itemsForQuery
	NewSourceItemsQuery  = newSourceItemsQuery
	SourceSessionQuery   = sourceSessionQuery
	ConversationForQuery = conversationForQuery
	MigrationFiles       = func() (int, error) { ms, err := migrationFiles(); return len(ms), err }
)

// SetMaxMergedDesks sets how many desks one inbox query walks, until t ends.
func SetMaxMergedDesks(t interface{ Cleanup(func()) }, n int) {
	saved := maxMergedDesks
	maxMergedDesks = n
	t.Cleanup(func() { maxMergedDesks = saved })
}
