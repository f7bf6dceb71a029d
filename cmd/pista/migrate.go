package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/pista-tips/pista/migrate"
	"github.com/pista-tips/pista/server"
)

const migrateHelp = `
pista migrate moves an embedded instance (SQLite's pista.db and the
encrypted objects in its data folder) to PostgreSQL and an S3-compatible
bucket, while the instance is stopped. It changes nothing in the data
folder: stop pista serve first, run it, then start pista serve on the
new database and bucket with a new data folder. The old folder keeps the
SQLite database as it was, a copy to go back to.

It copies every object the rows name to the bucket (keeping its key) and
reads each back to compare its size and SHA-256, then copies every row
in one PostgreSQL transaction and compares each table's row count before
committing. If anything fails, the database is left empty: run it again
once the cause is fixed (objects already in the bucket are not sent
again). The target database must have no rows; the bucket may be in use.

The database's password comes from $PGPASSWORD, ~/.pgpass or
--to-database-password-file, the bucket's keys from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY or --to-objects-credentials-file: never from the
command line.

Usage:
    pista migrate --data DIR --to-database URL --to-objects URL [flags]

Example:
    $ pista migrate --data /var/lib/pista \
          --to-database postgres://pista@db.example/pista --to-database-password-file db.pass \
          --to-objects 's3://tips?endpoint=s3.example:9000&region=eu-1' --to-objects-credentials-file s3.credentials
    $ pista serve --data /var/lib/pista-pg --database postgres://pista@db.example/pista \
          --database-password-file db.pass --objects 's3://tips?endpoint=s3.example:9000&region=eu-1' \
          --objects-credentials-file s3.credentials
`

func runMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "migrate", migrateHelp)
	var data, database, dbPWFile, objects, objectsCreds string
	fs.StringVar(&data, "data", "", "the embedded instance's data `DIR` (left unchanged)")
	fs.StringVar(&database, "to-database", "", "the PostgreSQL database to move the rows to, `postgres://USER@HOST/DB`: it must have no rows")
	fs.StringVar(&dbPWFile, "to-database-password-file", "", "the database role's password, on the first line of `FILE` (default: $PGPASSWORD or ~/.pgpass)")
	fs.StringVar(&objects, "to-objects", "", "the S3 bucket to move the objects to, `URL` s3://BUCKET[/PREFIX]?endpoint=HOST:PORT[&region=R][&tls=false], with keys from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY")
	fs.StringVar(&objectsCreds, "to-objects-credentials-file", "", "read the bucket's keys from this `FILE` (AWS credentials format) rather than the environment")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data", "to-database", "to-objects"); err != nil {
		return err
	}
	pw, err := databasePasswordOf("--to-database", database, dbPWFile)
	if err != nil {
		return err
	}
	out := e.stderr
	var last time.Time
	progress := func(p migrate.Progress) {
		// A line a second at most, and each phase's last.
		if p.Done != p.Total && time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		if p.Phase == migrate.PhaseRows {
			fmt.Fprintf(out, "%s: %d/%d tables (%s: %d rows)\n", p.Phase, p.Done, p.Total, p.Table, p.Rows)
		} else {
			fmt.Fprintf(out, "%s: %d/%d (%s)\n", p.Phase, p.Done, p.Total, mib(p.Bytes))
		}
	}
	fmt.Fprintf(out, "moving %s to %s and %s\n", data, database, objects)
	sum, err := migrate.Run(ctx, migrate.Config{
		Data: data, Database: database, DatabasePassword: pw,
		Objects: objects, ObjectsCredentialsFile: objectsCreds, Progress: progress,
	})
	if err != nil {
		return migrateHint(err, data)
	}
	var rows int64
	for _, t := range sum.Tables {
		rows += t.Rows
	}
	fmt.Fprintf(out, "\nDone: %d rows in %d tables, %d objects (%s; %d sent, %d already there), each read back and compared.\n",
		rows, len(sum.Tables), sum.Objects+sum.Present, mib(sum.Bytes), sum.Objects, sum.Present)
	for _, t := range sum.Tables {
		fmt.Fprintf(out, "  %-24s %d\n", t.Name, t.Rows)
	}
	if sum.Orphans > 0 {
		fmt.Fprintf(out, "Not moved: %d objects of the folder that no row names (left by an interrupted write).\n", sum.Orphans)
	}
	if len(sum.Missing) > 0 {
		fmt.Fprintf(out, "Warning: %d objects the rows name were not in the folder before the move either (first: %s).\n", len(sum.Missing), sum.Missing[0])
	}
	if sum.Uploads > 0 {
		fmt.Fprintf(out, "Not moved: %d resumable uploads in progress (their sources will have to send those files again).\n", sum.Uploads)
	}
	for _, d := range sum.Dropped {
		fmt.Fprintf(out, "Not moved: %s, which pista on PostgreSQL does not have (no longer read).\n", d)
	}
	next := filepath.Clean(data) + "-pg"
	fmt.Fprintf(out, `
%s is unchanged: keep it until the new setup has run well, as a way back.
Next, start the server on the new database and bucket with a new, empty data folder
(it keeps only temporary files there):
    pista serve --data %s --database %s --objects %s
with the same password and keys as here (--database-password-file, --objects-credentials-file
or the environment). Never start pista serve on %s again while the new one runs.
`, data, shellQuote(next), shellQuote(database), shellQuote(objects), data)
	return nil
}

// shellQuote quotes s for a POSIX shell where it needs it (an URL's & and
// ?), so that the command printed can be pasted.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// migrateHint adds to err what to do about it.
func migrateHint(err error, data string) error {
	switch {
	case errors.Is(err, server.ErrInUse):
		return hint(err, "stop the pista serve that runs on "+data+" first, then run pista migrate again")
	case errors.Is(err, migrate.ErrJournal):
		return hint(err, "start pista serve --data "+data+" once and stop it cleanly (Ctrl-C), which writes the log into "+server.DBFile+", then run pista migrate again")
	case errors.Is(err, migrate.ErrNoDatabase):
		return hint(err, "give --data the folder pista serve used for the instance to move")
	case errors.Is(err, migrate.ErrMoved):
		return hint(err, "this instance is already on PostgreSQL: there is nothing to move")
	case errors.Is(err, migrate.ErrNotEmpty):
		return hint(err, "pista migrate fills an empty database only: give it a new database (or schema); if an earlier pista migrate into this one succeeded, the instance is already moved")
	case errors.Is(err, migrate.ErrSchema):
		return hint(err, "start pista serve --data "+data+" of this pista once and stop it, which brings the database up to date, then run pista migrate again")
	case errors.Is(err, migrate.ErrChanged):
		return hint(err, "something wrote to the folder during the move (an admin command?); nothing was kept in the database: run pista migrate again")
	}
	return err
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
