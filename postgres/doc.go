// Package postgres stores pista's metadata in a PostgreSQL database,
// through pgx (a pgxpool pool, no ORM). It implements the store
// interfaces of package pista under the same names as package sqlite:
// DeskStore, JournalistStore, TipStore, Settings and TeamStore, each
// built on a *DB from Open, and passes the same contract suite
// (storetest). `pista serve --database postgres://USER@HOST/DB` runs on
// it, with the encrypted objects still in the data folder, which then
// names the database (server.PostgresMark) for the admin commands.
//
// # The same guarantees as SQLite
//
// Rows hold no plaintext of a tip (see package sqlite's documentation,
// which holds here word for word). Every time is stored as unix seconds
// truncated to pista.TimeGranularity. Item and audit IDs are sealed with
// the instance's "id-key" by the same permutation as SQLite's (ids.go): a
// database moved from SQLite with its key keeps every cursor working.
// Invitations get random IDs. Errors are the same: pista.ErrNotFound for
// anything missing or outside a journalist's desks, pista.ErrExists for a
// taken name, and pista.ErrStorageFull when the server's disk is full
// (SQLSTATE 53100). Names, slugs, tags and setting names sort as bytes
// (COLLATE "C"), whatever the database's locale.
//
// The database server keeps its own records of time: its logs, and its
// write-ahead log. Turn off statement logging (log_statement = none, the
// default), keep track_commit_timestamp off (the default), and treat the
// server's WAL archives like the database itself.
//
// # Writers take turns where order matters
//
// SQLite has one writer at a time; PostgreSQL runs transactions side by
// side, at READ COMMITTED. Where SQLite's order was part of a promise, the
// stores take a lock for the rest of the transaction:
//
//   - Item IDs come from an identity column, and a sequence hands out
//     numbers in the order transactions ask, not the order they commit.
//     `pista pull` and notifications ask for "the items after N": an item
//     numbered below N whose transaction commits after N was read would be
//     skipped for good. Every transaction that inserts items holds an
//     advisory lock (lockItems) from taking its IDs until it commits, so
//     IDs become visible in order (storetest's PullSkipsNothing fails
//     without it). Tips are thus written one at a time, as on SQLite;
//     everything else runs side by side.
//   - A conversation's row is locked by whatever changes it (its items,
//     status, tags, reads, deletion), a desk's row by whatever changes its
//     members or keys (so a key rotation's wraps match the members until
//     it commits), and a desk's slugs and aliases are checked and stored
//     under one advisory lock.
//
// # The inbox
//
// As on SQLite: ordered by conversations.last_item, keyset pages
// (last_item < Page.Before), never OFFSET. The query walks each of the
// journalist's desks' (desk_id, last_item) index from the cursor in a
// LATERAL join over the array of their desks, one page per desk, merges
// them, and only then joins the page's rows with their desk, reads, stars
// and item counts. TestQueryPlans checks the plans with EXPLAIN on 30,000
// conversations.
//
// # Migrations
//
// The schema is the numbered files in migrations/, embedded; 0001 is
// SQLite's schema after its 0007. Open takes a session advisory lock
// (migrationLock), applies each migration not yet recorded in
// schema_migrations in its own transaction with its record, and lets the
// lock go: instances starting together migrate once, the others wait.
// Never edit a released migration; add the next number.
//
// # Connections
//
// The URL is a libpq-style postgres:// URL (sslmode, search_path… as
// query parameters) and may not carry a password (CheckURL): it comes
// from Options.Password (a file), $PGPASSWORD or ~/.pgpass.
package postgres
