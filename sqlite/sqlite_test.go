package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/storetest"
)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "pista.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func stores(db *DB) storetest.Stores {
	return storetest.Stores{
		Desks:       NewDeskStore(db),
		Journalists: NewJournalistStore(db),
		Tips:        NewTipStore(db),
		Settings:    NewSettings(db),
		Team:        NewTeamStore(db),
	}
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores { return stores(openTest(t)) })
}

// TestContractManyDesks runs the suite with an inbox query per desk,
// merged in Go, as for journalists in more than maxMergedDesks desks.
func TestContractManyDesks(t *testing.T) {
	saved := maxMergedDesks
	maxMergedDesks = 1
	t.Cleanup(func() { maxMergedDesks = saved })
	storetest.Run(t, func(t *testing.T) storetest.Stores { return stores(openTest(t)) })
}

func TestOpenTwice(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pista.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	j := pista.Journalist{Name: "alice", Recipient: "r", TOTPSecret: "s"}
	if err := NewJournalistStore(db).CreateJournalist(ctx, &j); err != nil {
		t.Fatal(err)
	}
	secret, err := NewSettings(db).Secret(ctx, "csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open #%d: %v", i+2, err)
		}
		var versions, applied int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT applied) FROM schema_migrations`).Scan(&versions, &applied); err != nil {
			t.Fatal(err)
		}
		if want := migrationCount(t); versions != want {
			t.Errorf("open #%d: %d migrations recorded, want %d", i+2, versions, want)
		}
		if got, err := NewJournalistStore(db).JournalistByName(ctx, "alice"); err != nil || got.ID != j.ID {
			t.Errorf("open #%d: JournalistByName = %+v, %v", i+2, got, err)
		}
		if got, err := NewSettings(db).Secret(ctx, "csrf", 32); err != nil || string(got) != string(secret) {
			t.Errorf("open #%d: the secret changed", i+2)
		}
		db.Close()
	}
}

func migrationCount(t *testing.T) int {
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestOpenConcurrently opens one new file from several goroutines, as two
// processes starting at once would: each migration is applied once.
func TestOpenConcurrently(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pista.db")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			db, err := Open(ctx, path)
			if err != nil {
				t.Error(err)
				return
			}
			db.Close()
		})
	}
	wg.Wait()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); n != want {
		t.Errorf("%d migrations recorded, want %d", n, want)
	}
}

func TestPragmas(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	for _, pool := range []struct {
		name string
		db   *sql.DB
	}{{"write", db.write}, {"read", db.read}} {
		checks := []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"busy_timeout", "10000"},
			{"synchronous", "2"}, // FULL
		}
		for _, c := range checks {
			var got string
			if err := pool.db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("%s pool: %s = %s, want %s", pool.name, c.pragma, got, c.want)
			}
		}
	}
	if _, err := db.read.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('x', x'00')`); err == nil {
		t.Error("the read pool can write")
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, path := range []string{"", "a?b", "file:x.db", filepath.Join(t.TempDir(), "missing", "dir", "pista.db")} {
		if db, err := Open(context.Background(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// TestConcurrentWrites has many goroutines write at once through every
// kind of write transaction: none may fail with SQLITE_BUSY.
func TestConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	s := stores(db)
	j := pista.Journalist{Name: "alice", Recipient: "r", TOTPSecret: "s"}
	if err := s.Journalists.CreateJournalist(ctx, &j); err != nil {
		t.Fatal(err)
	}
	d := pista.Desk{Slug: "americas", Recipient: "r"}
	if err := s.Desks.CreateDesk(ctx, &d, []pista.KeyWrap{{JournalistID: j.ID, Wrapped: []byte("w")}}); err != nil {
		t.Fatal(err)
	}

	const goroutines, rounds = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				id := fmt.Sprintf("g%d-%d", g, i)
				tip := &pista.NewTip{
					Conversation: pista.Conversation{ID: id, DeskID: d.ID},
					Source:       pista.Source{Lookup: []byte(id), Recipient: "r"},
					Items:        []pista.Item{{Kind: pista.KindMessage, Object: id, Size: 1}},
				}
				errs <- s.Tips.CreateTip(ctx, tip)
				errs <- s.Tips.SetStar(ctx, j.ID, id, true)
				errs <- s.Tips.MarkRead(ctx, j.ID, id)
				_, err := s.Settings.Secret(ctx, fmt.Sprintf("s%d", i), 16)
				errs <- err
				errs <- s.Journalists.RecordLogin(ctx, j.ID, time.Unix(int64(g*rounds+i)*3600, 0))
				_, err = s.Tips.ConversationsFor(ctx, j.ID, pista.Page{})
				errs <- err
				if i%5 == 0 {
					_, err = s.Tips.DeleteConversation(ctx, j.ID, id)
					errs <- err
				}
			}
		})
	}
	go func() { wg.Wait(); close(errs) }()
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM conversations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := goroutines * rounds * 4 / 5; n != want {
		t.Errorf("%d conversations, want %d", n, want)
	}
}

// TestSourceWithOtherConversation checks that DeleteConversation keeps a
// source that still has another conversation. The stores have no method
// that gives a source a second conversation yet, so the row is written
// directly.
func TestSourceWithOtherConversation(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	s := stores(db)
	j := pista.Journalist{Name: "alice", Recipient: "r", TOTPSecret: "s"}
	if err := s.Journalists.CreateJournalist(ctx, &j); err != nil {
		t.Fatal(err)
	}
	d := pista.Desk{Slug: "americas", Recipient: "r"}
	if err := s.Desks.CreateDesk(ctx, &d, []pista.KeyWrap{{JournalistID: j.ID, Wrapped: []byte("w")}}); err != nil {
		t.Fatal(err)
	}
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: "first", DeskID: d.ID},
		Source:       pista.Source{Lookup: []byte("src"), Recipient: "r"},
		Items:        []pista.Item{{Kind: pista.KindMessage, Object: "o1", Size: 1}},
	}
	if err := s.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO conversations (id, desk_id, source_id, created, updated)
		VALUES ('second', ?, ?, 0, 0)`, d.ID, tip.Source.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tips.DeleteConversation(ctx, j.ID, "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tips.SourceByLookup(ctx, []byte("src")); err != nil {
		t.Errorf("source with another conversation: %v", err)
	}
	if _, err := s.Tips.DeleteConversation(ctx, j.ID, "second"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tips.SourceByLookup(ctx, []byte("src")); !errors.Is(err, pista.ErrNotFound) {
		t.Errorf("source after its last conversation: %v, want ErrNotFound", err)
	}
}

// TestForwardSecretsLeaveTheFile: a destroyed intake key's secret and a
// deleted conversation's key are overwritten in the database file, not
// left in its free space (secure_delete), where a copy of the file taken
// later would still find them.
func TestForwardSecretsLeaveTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pista.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s := stores(db)
	j := pista.Journalist{Name: "alice", Recipient: "age1pq1alice", TOTPSecret: "x"}
	if err := s.Journalists.CreateJournalist(ctx, &j); err != nil {
		t.Fatal(err)
	}
	d := pista.Desk{Slug: "americas", Title: "Americas", Recipient: "age1pq1desk"}
	if err := s.Desks.CreateDesk(ctx, &d, []pista.KeyWrap{{JournalistID: j.ID, Wrapped: []byte("w")}}); err != nil {
		t.Fatal(err)
	}
	intakeSecret := bytes.Repeat([]byte("INTAKE-SECRET-"), 100)
	convSecret := bytes.Repeat([]byte("CONVERSATION-KEY-"), 100)
	if _, err := s.Tips.AddIntakeKeys(ctx, j.ID, d.KeyID, bytes.Repeat([]byte{1}, 32), []pista.IntakeKey{
		{Day: 10, Recipient: "age1pq1intake", Signature: []byte("sig"), Sealed: intakeSecret}}); err != nil {
		t.Fatal(err)
	}
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: "c", DeskID: d.ID},
		Source:       pista.Source{Lookup: []byte("l"), Recipient: "age1pq1source"},
		Items:        []pista.Item{{Kind: pista.KindMessage, Object: "o", Size: 1}},
	}
	if err := s.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	if errs, err := s.Tips.SetConversationKeys(ctx, j.ID, []pista.ConversationKey{{Conversation: "c", DeskID: d.ID, Recipient: "age1pq1conv", Sealed: convSecret, Signature: bytes.Repeat([]byte{7}, 64)}}); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	if _, err := db.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(path)
	if !bytes.Contains(file, intakeSecret) || !bytes.Contains(file, convSecret) {
		t.Fatal("the secrets are not in the file to begin with: the test proves nothing")
	}
	if n, err := s.Tips.DestroyIntakeKeys(ctx, 11); err != nil || n != 1 {
		t.Fatalf("DestroyIntakeKeys = %d, %v", n, err)
	}
	if _, err := s.Tips.DeleteConversation(ctx, j.ID, "c"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // checkpoints, and removes the log
		t.Fatal(err)
	}
	file, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, intakeSecret[:28]) {
		t.Error("the destroyed intake key's secret is still in the file")
	}
	if bytes.Contains(file, convSecret[:34]) {
		t.Error("the deleted conversation's key is still in the file")
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Error("the write-ahead log outlived the close")
	}
}
