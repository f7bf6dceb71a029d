// Package sqlite stores pista's metadata in one SQLite file, through the
// pure Go driver modernc.org/sqlite. It implements the store interfaces of
// package pista under the same names: DeskStore, JournalistStore, TipStore
// and Settings, each built on a *DB from Open.
//
// # What the rows hold
//
// No plaintext of a tip. Message bodies, files, filenames and contact
// details are age-encrypted objects in a pista.BlobStore; an items row only
// names its object (and, for a file, the object holding its encrypted
// name and type), with its kind and encrypted size. Sources are a lookup
// hash and a public key; the codename is nowhere. Desk identities exist
// only as key_wraps, each encrypted to one journalist's public key. Whoever
// copies the file learns who the journalists are and roughly how much
// arrived when, not what or from whom.
//
// Every time is stored as unix seconds truncated to pista.TimeGranularity
// (an hour): exact submission times would help match a tip against
// network logs. A zero time given to a store means pista.Now().
//
// # Write order
//
// Callers write an item's objects to the BlobStore (temporary file, fsync,
// rename) before calling CreateTip or AddItems, which write the rows in one
// transaction. A crash in between leaves an object without a row, never a
// row without its object; TipStore.ObjectKeys lists every key rows still
// reference, for the start-up sweep of orphans. Deletion runs the other way:
// DeleteConversation and DeleteReply remove the rows and return the items,
// and the caller then deletes their objects.
//
// # Permissions in the queries
//
// Every TipStore method that takes a journalist joins desk_members, so a
// conversation of a desk they are not on is pista.ErrNotFound, the same
// answer as for one that does not exist.
//
// # The inbox
//
// The inbox is ordered by conversations.last_item, the ID of a
// conversation's newest item. Item IDs come from an AUTOINCREMENT key, so
// they only grow and are never reused, even after the newest item is
// deleted: last_item orders conversations by activity without a timestamp
// finer than an hour, it is unique across conversations, and `pista pull`
// can ask for every item after the last one it has.
//
// Pages are keyset pages (last_item < Page.Before), never OFFSET. The
// index on (desk_id, last_item) gives each desk's conversations newest
// first from any position; a page reads at most one page of each of the
// journalist's desks from it, merges them and only then joins the page's
// rows with their desk, reads, stars and item counts. Page 1,000 of
// 100,000 conversations costs what page 1 does (BenchmarkInboxPage).
// Filtered by a tag, a desk's walk is of the tag's rows instead: each
// carries its conversation's desk and last_item (migration 0008; the
// store moves it in the transactions that move the conversation's), so
// the index on (tag, desk_id, last_item) gives a desk's conversations
// with the tag newest first, whether the tag is on ten conversations or
// on most.
// Read state is a row per journalist and conversation holding the
// last_item they saw, so a new item makes a conversation unread again
// without touching anyone's row.
//
// # Connections
//
// The file is in WAL mode with synchronous=FULL (a tip acknowledged to a
// source survives a power cut), foreign keys on and a 10 s busy timeout.
// A DB holds two pools: one connection for writing, whose transactions
// begin IMMEDIATE, so concurrent writers in this process queue in Go
// instead of failing with SQLITE_BUSY and another process (the command
// line) is waited for; and several query_only connections for reading,
// which WAL runs alongside the writer.
//
// # Migrations
//
// The schema is the numbered files in migrations/, embedded. Open applies
// each one not yet recorded in schema_migrations, in its own transaction
// with its record, so opening a database again, or from two processes at
// once, applies nothing twice. Never edit a released migration; add the
// next number.
package sqlite
