package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista/backup"
)

func init() {
	commands["backup"] = runBackup
	commands["restore"] = runRestore
}

const backupHelp = `
pista backup writes one file holding everything a data folder needs to be
rebuilt: every row (metadata included) and the instance's secrets, the onion
service keys, and the encrypted objects of the tips, the whole encrypted
with age to the admin keys given. It runs while the server serves: the
database is a consistent snapshot, streamed into the encrypted file (no
plaintext copy of it touches the disk).

FILE is written whole or not at all (FILE.tmp-… then a rename). Beside it,
FILE.catalog lists, in plaintext, the random names of the objects the backup
carries and nothing else: give it to --since to make the next backup
incremental (only objects that are new since; objects never change).

A tip line on PostgreSQL (pista serve --database) is backed up the same way:
its rows as of one REPEATABLE READ transaction, streamed with COPY into the
encrypted file; the database is the one the data folder's ROWS-IN-POSTGRESQL
names (password from $PGPASSWORD or ~/.pgpass), or --database. Objects kept
in a bucket (pista serve --objects) are read from it: give the same --objects
URL, with the bucket's keys in $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY
or --objects-credentials-file.

Keep the admin identity offline (not on the server), and the backups 3-2-1:
three copies, on two kinds of media, one of them off site.

Usage:
    pista backup --data DIR --out FILE --recipient AGE1… [--recipient AGE1…]…
    pista backup --data DIR --out FILE --recipient AGE1… --since PREVIOUS.catalog
    pista backup --data DIR --objects s3://BUCKET?endpoint=HOST:PORT --out FILE --recipient AGE1…

Examples:
    $ pista keygen -o admin-backup.key          (on the admin's offline computer)
    age1pq1…
    $ pista backup --data ./pista-data --out /backups/pista-full.age --recipient age1pq1…
    Backup /backups/pista-full.age (full, id 3f2a…): 120 conversations, 410 items, 530 objects (2.1 GB copied)
    $ pista backup --data ./pista-data --out /backups/pista-mon.age --recipient age1pq1… \
          --since /backups/pista-full.age.catalog
    Backup /backups/pista-mon.age (incremental, 2 of its chain): … 12 objects (40 MB copied), 530 already backed up
`

func runBackup(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "backup", backupHelp)
	data := fs.String("data", "", "the data folder (`DIR`); its server may be running")
	out := fs.String("out", "", "write the backup to `FILE` (and its catalog to FILE.catalog)")
	var recipients multi
	fs.Var(&recipients, "recipient", "an admin's public key `AGE1…` (age1pq1… or age1…) to encrypt to; repeat for several")
	recipientsFile := fs.String("recipients-file", "", "read admin public keys from `FILE`, one a line (age's format)")
	since := fs.String("since", "", "make the backup incremental on the backup whose catalog is `FILE` (FILE.catalog)")
	database := fs.String("database", "", "the PostgreSQL database of the rows, `postgres://USER@HOST/DB` (default: the one the data folder's ROWS-IN-POSTGRESQL names, else SQLite's pista.db in it)")
	objects, objectsCreds := objectsFlags(fs, "read the encrypted objects from the S3 bucket `URL` (pista serve --objects) rather than the data folder")
	quiet := fs.Bool("q", false, "print nothing but errors")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data", "out"); err != nil {
		return err
	}
	text := strings.Join(recipients, "\n")
	if *recipientsFile != "" {
		b, err := os.ReadFile(*recipientsFile)
		if err != nil {
			return err
		}
		text += "\n" + string(b)
	}
	if strings.TrimSpace(text) == "" {
		return hint(errors.New("no recipient"), "give the admin's public key with --recipient age1pq1… (pista keygen makes one)")
	}
	rs, err := age.ParseRecipients(strings.NewReader(text))
	if err != nil {
		return hint(fmt.Errorf("--recipient: %w", err), "give public keys (age1pq1… or age1…), never the secret key")
	}
	if _, err := os.Stat(*out); err == nil {
		return hint(fmt.Errorf("%s already exists", *out), "choose another file name; pista backup never overwrites one")
	}
	o := backup.Options{Data: *data, Out: *out, Recipients: rs, Version: pistaVersion(),
		Database: *database, Objects: *objects, ObjectsCredentials: *objectsCreds}
	if *since != "" {
		f, err := os.Open(*since)
		if err != nil {
			return err
		}
		o.Since, err = backup.ReadCatalog(f)
		f.Close()
		if err != nil {
			return hint(fmt.Errorf("--since %s: %w", *since, err), "give the FILE.catalog a pista backup wrote beside FILE")
		}
	}
	if !*quiet {
		var last time.Time
		o.Progress = func(copied, bytes int64) {
			if time.Since(last) > 5*time.Second {
				last = time.Now()
				fmt.Fprintf(e.stderr, "… %d objects (%s) copied\n", copied, byteSize(bytes))
			}
		}
	}
	res, err := backup.Create(ctx, o)
	if err != nil {
		return err
	}
	if *quiet {
		return nil
	}
	kind := "full"
	if res.Header.Incremental() {
		kind = fmt.Sprintf("incremental, %d of its chain", len(res.Header.Chain))
	}
	fmt.Fprintf(e.stdout, "Backup %s (%s, id %s, %s): %d conversations, %d items, %d objects named by the rows; %d objects (%s) copied, %d already in the chain's backups\n",
		*out, kind, res.Header.ID[:8], byteSize(res.Size), res.Counts.Conversations, res.Counts.Items, res.Counts.Objects, res.Copied, byteSize(res.Bytes), res.Skipped)
	fmt.Fprintf(e.stdout, "Catalog for the next incremental backup: %s\n", res.Catalog)
	return nil
}

const restoreHelp = `
pista restore rebuilds a data folder from a backup: a full backup, then, in
the order they were made, the incremental backups made after it (or some of
the first of them, for an earlier state). It refuses a folder that holds
anything. It writes into DIR.tmp-… and renames it to DIR only once
everything checks out: each entry's SHA-256 against the backup's manifest,
the database (SQLite's quick_check), and every object the rows name present
and a well-formed age file. A damaged, cut or forged backup is refused, and
DIR is then not created.

Then start the server on DIR (pista serve --data DIR).

A backup of a tip line on PostgreSQL is restored into an empty database (or
an empty schema, ?search_path=SCHEMA), given with --database: every row goes
in one transaction, committed only once everything checks out (foreign keys,
each table's rows, the objects), so a refused restore leaves the database
empty. Its objects go to the bucket --objects names (an empty one: never a
live tip line's), or to DIR; the objects a refused restore had put in the
bucket are deleted. Then start the server with
pista serve --data DIR (and the same --objects).

Usage:
    pista restore --in FILE [--in INCREMENTAL]… --identity KEYFILE --data DIR
    pista restore --in FILE --identity KEYFILE --data DIR --database postgres://USER@HOST/DB [--objects s3://BUCKET?endpoint=HOST:PORT]

Examples:
    $ pista restore --in /backups/pista-full.age --identity admin-backup.key --data ./pista-data
    Restored ./pista-data from 1 backup (made 2025-05-01 14:00 UTC): 120 conversations, 410 items, 530 objects (2.1 GB)
    $ pista restore --in pista-full.age --in pista-mon.age --in pista-tue.age --identity admin-backup.key --data ./pista-data
`

func runRestore(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "restore", restoreHelp)
	var in multi
	fs.Var(&in, "in", "a backup `FILE`: the full one first, then its incremental ones in order")
	identity := fs.String("identity", "", "the admin's age identity `KEYFILE` the backups are encrypted to")
	data := fs.String("data", "", "the data folder `DIR` to make (absent or empty)")
	database := fs.String("database", "", "restore the rows of a tip line on PostgreSQL into this empty database, `postgres://USER@HOST/DB`")
	objects, objectsCreds := objectsFlags(fs, "put the encrypted objects in the S3 bucket `URL` rather than in DIR")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "identity", "data"); err != nil {
		return err
	}
	if len(in) == 0 {
		fmt.Fprintf(fs.Output(), "pista restore: --in is required\n")
		fs.Usage()
		return errUsage
	}
	f, err := os.Open(*identity)
	if err != nil {
		return err
	}
	ids, err := age.ParseIdentities(io.LimitReader(f, 1<<20))
	f.Close()
	if err != nil {
		return hint(fmt.Errorf("%s: %w", *identity, err), "give the admin's identity file (AGE-SECRET-KEY-…)")
	}
	res, err := backup.Restore(ctx, backup.RestoreOptions{In: in, Identities: ids, Data: *data,
		Database: *database, Objects: *objects, ObjectsCredentials: *objectsCreds})
	if err != nil {
		var be *backup.Error
		if errors.As(err, &be) {
			return hint(fmt.Errorf("restore refused: %w", err), *data+" was not created; nothing was written")
		}
		return err
	}
	plural := "s"
	if len(in) == 1 {
		plural = ""
	}
	fmt.Fprintf(e.stdout, "Restored %s from %d backup%s (made %s): %d conversations, %d items, %d objects (%s)\n",
		*data, len(in), plural, res.Header.Created.Format("2006-01-02 15:04 UTC"), res.Counts.Conversations, res.Counts.Items, res.Counts.Objects, byteSize(res.Counts.Bytes))
	if res.Dropped > 0 {
		fmt.Fprintf(e.stdout, "Left out %d objects of earlier backups that the last one's rows no longer name (deleted since)\n", res.Dropped)
	}
	return nil
}

// objectsFlags adds --objects, with what it does, and
// --objects-credentials-file.
func objectsFlags(fs *flag.FlagSet, usage string) (objects, credentials *string) {
	objects = fs.String("objects", "", usage+"; s3://BUCKET[/PREFIX]?endpoint=HOST:PORT[&region=R][&tls=false], keys from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY")
	credentials = fs.String("objects-credentials-file", "", "read the bucket's keys from this `FILE` (AWS credentials format) rather than the environment")
	return objects, credentials
}

// pistaVersion is this binary's module version, as go build recorded it.
func pistaVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// byteSize says a number of bytes in the unit that suits it.
func byteSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}
