package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
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

// TestDestroyWhileSealing races DestroyIntakeKeys with items sealed to
// the key it destroys: each item is either refused (ErrMoved: sent again,
// it goes elsewhere) or stored with its key still live, never stored
// under a destroyed key.
func TestDestroyWhileSealing(t *testing.T) {
	ctx := context.Background()
	s := stores(openTest(t))
	j := pista.Journalist{Name: "alice", Recipient: "age1pq1alice", TOTPSecret: "x"}
	if err := s.Journalists.CreateJournalist(ctx, &j); err != nil {
		t.Fatal(err)
	}
	d := pista.Desk{Slug: "americas", Title: "Americas", Recipient: "age1pq1desk"}
	if err := s.Desks.CreateDesk(ctx, &d, []pista.KeyWrap{{JournalistID: j.ID, Wrapped: []byte("w")}}); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		day := int64(100 + round)
		if _, err := s.Tips.AddIntakeKeys(ctx, j.ID, d.KeyID, bytes.Repeat([]byte{1}, 32), []pista.IntakeKey{
			{Day: day, Recipient: "age1pq1intake", Signature: []byte("sig"), Sealed: []byte("sealed")}}); err != nil {
			t.Fatal(err)
		}
		k, _, err := s.Tips.IntakeFor(ctx, d.ID, day)
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("c%d", round)
		tip := &pista.NewTip{
			Conversation: pista.Conversation{ID: id, DeskID: d.ID},
			Source:       pista.Source{Lookup: []byte(id), Recipient: "age1pq1source"},
			Items:        []pista.Item{{Kind: pista.KindMessage, Object: id, Size: 1}},
		}
		if err := s.Tips.CreateTip(ctx, tip); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var addErr error
		wg.Go(func() {
			addErr = s.Tips.AddItems(ctx, id, []pista.Item{{Kind: pista.KindMessage, Object: id + "-late", Size: 1,
				Sealing: pista.SealingIntake, IntakeKey: k.ID}})
		})
		wg.Go(func() {
			if _, err := s.Tips.DestroyIntakeKeys(ctx, day+1); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		_, live := s.Tips.IntakeKeyByID(ctx, k.ID)
		switch {
		case addErr == nil && live != nil:
			t.Fatalf("round %d: an item was stored under a key destroyed meanwhile", round)
		case addErr != nil && !errors.Is(addErr, pista.ErrMoved):
			t.Fatalf("round %d: %v", round, addErr)
		}
	}
}
