package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The snapshot leaves out what DELETE left in SQLite's free space (free
// pages, freeblocks, the gaps of b-tree pages, overflow tails), and
// changes nothing a row or an index holds: the image passes
// integrity_check with every row as it was.
func TestSnapshotScrubsDeletedRows(t *testing.T) {
	ctx := context.Background()
	for _, pageSize := range []int{1024, 4096} {
		t.Run(fmt.Sprint(pageSize), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "test.db")
			db, err := openDatabase(path, false)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range []string{
				fmt.Sprintf(`PRAGMA page_size = %d`, pageSize),
				`PRAGMA journal_mode = WAL`,
				`CREATE TABLE conversations (id TEXT)`,
				`CREATE TABLE items (object TEXT, meta TEXT)`,
				`CREATE TABLE index_segments (object TEXT)`,
				`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, big BLOB)`,
				`CREATE INDEX notes_body ON notes (body)`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			// Kept and deleted rows interleaved, so that deletions leave
			// freeblocks and gaps inside pages still in use, as well as
			// whole free pages; every third row spills to overflow pages.
			for i := range 600 {
				tag := "KEEP"
				if i%2 == 1 {
					tag = "GONE"
				}
				big := []byte(strings.Repeat(tag+"BIG", 1+i%3*2000))
				if _, err := db.ExecContext(ctx, `INSERT INTO notes (body, big) VALUES (?, ?)`, fmt.Sprintf("%s-SECRET-%04d", tag, i), big); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO items VALUES ('0123456789abcdef0123456789abcdef', '')`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `DELETE FROM notes WHERE body LIKE 'GONE%'`); err != nil {
				t.Fatal(err)
			}
			sum := func(db queryer) string {
				rows, err := db.QueryContext(ctx, `SELECT body, big FROM notes ORDER BY id`)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				h := sha256.New()
				n := 0
				for rows.Next() {
					var body string
					var big []byte
					rows.Scan(&body, &big)
					fmt.Fprintf(h, "%s %x\n", body, big)
					n++
				}
				return fmt.Sprintf("%d %x", n, h.Sum(nil))
			}
			want := sum(db)

			raw, err := image(ctx, db, false)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(raw, []byte("GONE-SECRET")) || !bytes.Contains(raw, []byte("GONEBIG")) {
				t.Fatal("the deleted rows are not in the database's free space: the test proves nothing")
			}
			img, err := image(ctx, db, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"GONE-SECRET", "GONEBIG"} {
				if i := bytes.Index(img, []byte(s)); i >= 0 {
					t.Errorf("the snapshot holds %q of a deleted row, on page %d", s, i/pageSize+1)
				}
			}
			copyPath := filepath.Join(t.TempDir(), "copy.db")
			if err := os.WriteFile(copyPath, img, 0o600); err != nil {
				t.Fatal(err)
			}
			cp, err := openDatabase(copyPath, false)
			if err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			var check string
			if err := cp.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
				t.Errorf("integrity_check of the snapshot: %q, %v", check, err)
			}
			if got := sum(cp); got != want {
				t.Errorf("the snapshot's rows: %s, want %s", got, want)
			}
		})
	}
}

// image reads the database through a snapshot, scrubbed or not.
func image(ctx context.Context, db *sql.DB, scrub bool) ([]byte, error) {
	s, err := beginSnapshot(ctx, db)
	if err != nil {
		return nil, err
	}
	defer s.end()
	var b bytes.Buffer
	if scrub {
		err = s.writeTo(ctx, &b)
	} else {
		rows, err := s.conn.QueryContext(ctx, `SELECT data FROM sqlite_dbpage ORDER BY pgno`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var p []byte
			rows.Scan(&p)
			b.Write(p)
		}
	}
	return b.Bytes(), err
}
