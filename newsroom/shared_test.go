package newsroom_test

import (
	"context"
	"testing"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/postgres"
)

// Two instances on one database: what one begins, the other finishes,
// once; a TOTP step used on one is refused on the other.
func TestSharedAcrossInstances(t *testing.T) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	shared, journalists := postgres.NewShared(db), postgres.NewJournalistStore(db)
	j := &pista.Journalist{Name: "alice", Recipient: "age1pq1x", TOTPSecret: "x"}
	if err := journalists.CreateJournalist(ctx, j); err != nil {
		t.Fatal(err)
	}

	one, two := &newsroom.Ceremonies{Shared: shared}, &newsroom.Ceremonies{Shared: shared}
	state, err := newsroom.PutCeremony(ctx, one, *j, []byte("device-1"), "chal-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, _, ok := newsroom.TakeCeremony(ctx, two, state, false, journalists); ok {
		t.Fatal("a login ceremony was taken as a registration")
	}
	state, _ = newsroom.PutCeremony(ctx, one, *j, []byte("device-1"), "chal-2")
	id, name, keyOK, device, challenge, ok := newsroom.TakeCeremony(ctx, two, state, true, journalists)
	if !ok || challenge != "chal-2" || id != j.ID || name != "alice" || !keyOK || string(device) != "device-1" {
		t.Fatalf("the other instance took %d %q %v %q %q, %v", id, name, keyOK, device, challenge, ok)
	}
	if _, _, _, _, _, ok := newsroom.TakeCeremony(ctx, one, state, true, journalists); ok {
		t.Fatal("a ceremony was taken twice")
	}

	a1, a2 := &newsroom.Auth{Journalists: journalists, Shared: shared}, &newsroom.Auth{Journalists: journalists, Shared: shared}
	step := time.Now().Unix() / keys.TOTPPeriod
	if !a1.UseTOTPStep(*j, step) {
		t.Fatal("a fresh step was refused")
	}
	if a2.UseTOTPStep(*j, step) || a2.UseTOTPStep(*j, step-1) {
		t.Fatal("a step used on one instance, or an older one, was accepted on another")
	}
	if !a2.UseTOTPStep(*j, step+1) {
		t.Fatal("the next step was refused")
	}
}
