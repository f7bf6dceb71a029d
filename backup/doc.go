// Package backup makes and restores a pista data folder's backups: one
// file, encrypted with age to the instance admins' keys, made while the
// server serves, restored only once every byte of it checks out.
//
// # What a backup holds
//
// A tar stream inside age (so `age -d -i KEY FILE | tar t` lists it):
//
//	pista-backup.json      the Header: format, pista's version, the hour, its id and chain
//	objects/ab/abcdef…     the encrypted objects the rows name (age files, as on disk)
//	pista.db               a consistent snapshot of the database: every row, metadata
//	                       included, and the instance's secrets (the settings table)
//	files/onion-*.key …    the onion services' keys, if the folder has them (Files)
//	manifest               every entry above with its size and SHA-256, and the counts
//
// Everything but the objects is plaintext inside the backup (the objects
// stay encrypted to the desks), so the whole is encrypted to the admin
// recipients (age1pq1… hybrid keys, or classic age1… X25519 ones; age
// does not mix the two in one file).
//
// # Consistency while the server serves
//
// The database snapshot is one SQLite read transaction: in WAL mode it
// sees the database as of its first read, whatever commits meanwhile.
// The pages are streamed from SQLite's sqlite_dbpage table straight into
// the encrypted stream, a page at a time: no plaintext copy of the
// database reaches the disk, and memory stays flat whatever its size.
// Free space is zeroed on the way (snapshot.go), so that rows deleted
// before the backup do not ride along in SQLite's free pages.
//
// The objects: an object is written before the rows that name it and
// deleted after them (package blob's write order), and never changes.
// Create copies the objects the live rows name, then begins the
// snapshot and copies those its rows name that it has not yet copied.
// One of these may have been deleted, with its rows, after the snapshot
// began: Create then ends it and takes a newer one, which does not name
// it. Objects copied that the snapshot's rows do not name (deleted
// meanwhile) are carried, and dropped at restore.
//
// # Writing, and what an interrupted backup leaves
//
// The backup is written to FILE.tmp-… beside FILE, fsynced and renamed:
// FILE is whole or absent. Its catalog (FILE.catalog) is written the same
// way, after it.
//
// # Incremental backups
//
// Objects never change, so an incremental backup copies only the objects
// that the backups before it did not carry, and a full snapshot of the
// database (small beside the objects). To know which, it reads the
// catalog of the backup it follows: the chain's backup IDs and the keys
// of the objects the chain carries, in plaintext beside each backup so
// that making the next one needs no secret key. The catalog holds random
// object names only; it says how many objects there were, as a listing
// of the data folder's objects/ does, and nothing else.
//
// A restore takes the chain: the full backup, then each incremental one
// in order (or any prefix of it, for an earlier state). Each file's
// header names its chain, so a file out of order or of another chain is
// refused. The last file's database is restored, with the objects any
// file of the chain carries that its rows name.
//
// # Restore
//
// Restore writes into TARGET.tmp-… beside the target and renames it at
// the end; on any error it removes it, so the target does not exist (or
// stays empty). age authenticates the stream in 64 KiB chunks, so a
// damaged or cut backup fails as it is read; on top, every entry's size
// and SHA-256 are checked against the manifest (at its end: the backup
// is written in one pass), the database passes SQLite's quick_check,
// its counts match the manifest's, and every object its rows name is
// present and a well-formed age file.
//
// # PostgreSQL and S3
//
// A tip line whose rows are in PostgreSQL (the folder's mark names the
// database) is backed up the same way, its rows as of one REPEATABLE
// READ READ ONLY transaction, each table in COPY's binary format
// (postgres.go: postgres/schema.json, then postgres/tables/NAME). Its
// objects may be in an S3 bucket (Options.Objects). Restore loads the
// rows into an empty database in one transaction, committed only once
// everything checked out, and puts the objects in a bucket
// (RestoreOptions.Objects) or in the folder.
package backup
