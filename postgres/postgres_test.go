package postgres

import (
	"context"
	"testing"

	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/storetest"
)

// openTest opens a new, empty schema on the test server, closed and
// dropped when t ends.
func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
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
	pgtest.Server(t)
	storetest.Run(t, func(t *testing.T) storetest.Stores { return stores(openTest(t)) })
}

// TestContractManyDesks runs the suite with an inbox query per desk,
// merged in Go, as for journalists in more than maxMergedDesks desks.
func TestContractManyDesks(t *testing.T) {
	pgtest.Server(t)
	saved := maxMergedDesks
	maxMergedDesks = 1
	t.Cleanup(func() { maxMergedDesks = saved })
	storetest.Run(t, func(t *testing.T) storetest.Stores { return stores(openTest(t)) })
}
