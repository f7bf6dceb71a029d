package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/postgres"
)

func migrationCount(t *testing.T) int {
	n, err := postgres.MigrationFiles()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOpenConcurrently opens one new schema from several goroutines at
// once, as instances starting together do: each migration is applied and
// recorded once, and all share one ID key.
func TestOpenConcurrently(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	const instances = 4
	dbs := make([]*postgres.DB, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			db, err := postgres.Open(ctx, url)
			if err != nil {
				t.Error(err)
				return
			}
			dbs[i] = db
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	defer func() {
		for _, db := range dbs {
			db.Close()
		}
	}()
	var versions, distinct int
	if err := dbs[0].Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&versions, &distinct); err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); versions != want || distinct != want {
		t.Errorf("%d migrations recorded (%d distinct), want %d", versions, distinct, want)
	}
	for i, db := range dbs[1:] {
		if a, b := dbs[0].SealItem(1), db.SealItem(1); a != b {
			t.Errorf("instance %d seals item 1 as %d, instance 0 as %d: not one ID key", i+1, b, a)
		}
	}
}

// TestOpenTwice reopens a database: nothing is applied again, and what
// was stored is there.
func TestOpenTwice(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	j := pista.Journalist{Name: "alice", Recipient: "r", TOTPSecret: "s"}
	if err := postgres.NewJournalistStore(db).CreateJournalist(ctx, &j); err != nil {
		t.Fatal(err)
	}
	secret, err := postgres.NewSettings(db).Secret(ctx, "csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	sealed := db.SealItem(7)
	db.Close()

	db, err = postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); n != want {
		t.Errorf("%d migrations recorded, want %d", n, want)
	}
	if got, err := postgres.NewJournalistStore(db).JournalistByName(ctx, "alice"); err != nil || got.ID != j.ID {
		t.Errorf("JournalistByName = %+v, %v", got, err)
	}
	if got, err := postgres.NewSettings(db).Secret(ctx, "csrf", 32); err != nil || string(got) != string(secret) {
		t.Errorf("the secret changed")
	}
	if got := db.SealItem(7); got != sealed {
		t.Errorf("the ID key changed: item 7 sealed as %d, then %d", sealed, got)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want string // "" for accepted
	}{
		{"postgres://pista@db.example/pista", ""},
		{"postgresql://pista@db.example:5433/pista?sslmode=verify-full", ""},
		{"postgres://pista:hunter2@db.example/pista", "password"},
		{"postgres://pista@db.example/pista?password=hunter2", "password"},
		{"mysql://pista@db.example/pista", "postgres://"},
		{"/var/lib/pista.db", "postgres://"},
	} {
		err := postgres.CheckURL(tt.url)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckURL(%q) = %v, want an error about %q", tt.url, err, tt.want)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("CheckURL(%q) repeats the password: %v", tt.url, err)
		}
	}
	if _, err := postgres.Open(context.Background(), "postgres://pista:hunter2@127.0.0.1/pista"); err == nil {
		t.Error("Open took a URL with a password")
	}
}
