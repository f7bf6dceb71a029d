package postgres_test

import (
	"context"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/postgres"
	"github.com/pista-tips/pista/storetest"
)

// openTest opens a new, empty schema on the test server, closed and
// dropped when t ends.
func openTest(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func stores(db *postgres.DB) storetest.Stores {
	return storetest.Stores{
		Desks:       postgres.NewDeskStore(db),
		Journalists: postgres.NewJournalistStore(db),
		Tips:        postgres.NewTipStore(db),
		Settings:    postgres.NewSettings(db),
		Team:        postgres.NewTeamStore(db),
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
	postgres.SetMaxMergedDesks(t, 1)
	storetest.Run(t, func(t *testing.T) storetest.Stores { return stores(openTest(t)) })
}

func TestSharedContract(t *testing.T) {
	pgtest.Server(t)
	storetest.RunShared(t, func(t *testing.T) pista.Shared { return postgres.NewShared(openTest(t)) })
}
