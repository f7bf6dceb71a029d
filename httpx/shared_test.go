package httpx_test

import (
	"context"
	"testing"
	"time"

	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/postgres"
)

// Two instances' session tables on one database: a session begun on one
// is live on the other, ends on both at a logout on either, and its
// idle time counts on both; two throttles count the same attempts.
func TestSharedSessionsAndThrottle(t *testing.T) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	shared := postgres.NewShared(db)
	table := func() *httpx.Sessions[string] {
		return &httpx.Sessions[string]{Idle: time.Hour, Lifetime: 12 * time.Hour, Shared: shared, Kind: "session/test"}
	}
	one, two := table(), table()
	tok, err := one.StartToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := two.Lookup(ctx, tok); !ok || v != "alice" {
		t.Fatalf("the other instance sees %q, %v", v, ok)
	}
	if !two.Update(ctx, tok, "alice2") {
		t.Fatal("Update of a live session failed")
	}
	if v, _ := one.Lookup(ctx, tok); v != "alice2" {
		t.Fatalf("after an Update on the other instance, %q", v)
	}
	one.EndToken(ctx, tok)
	if _, ok := two.Lookup(ctx, tok); ok {
		t.Fatal("a session ended on one instance is live on the other")
	}
	if two.Update(ctx, tok, "back") {
		t.Fatal("an ended session was updated back to life")
	}
	if _, ok := one.Lookup(ctx, tok); ok {
		t.Fatal("an ended session came back")
	}
	short := &httpx.Sessions[string]{Idle: 200 * time.Millisecond, Lifetime: time.Hour, Shared: shared, Kind: "session/test"}
	tok, _ = short.StartToken(ctx, "bob")
	time.Sleep(400 * time.Millisecond)
	if _, ok := short.Lookup(ctx, tok); ok {
		t.Fatal("a session idle past its limit is live")
	}

	now := time.Now()
	clock := func() time.Time { return now }
	key := []byte("shared throttle key, 32 bytes..")
	th1 := &httpx.Throttle{Burst: 2, Interval: time.Minute, Key: key, Now: clock, Shared: shared}
	th2 := &httpx.Throttle{Burst: 2, Interval: time.Minute, Key: key, Now: clock, Shared: shared}
	if !th1.AttemptAccount("carol") || !th2.AttemptAccount("carol") {
		t.Fatal("the burst was refused")
	}
	if th1.AttemptAccount("carol") || th2.AttemptAccount("carol") {
		t.Fatal("a third attempt, on either instance, was allowed")
	}
	th2.RefundAccount("carol")
	if !th1.AttemptAccount("carol") {
		t.Fatal("an attempt refunded on one instance is not given back on the other")
	}
	if !th1.AttemptDevice([]byte("device")) {
		t.Fatal("a known device shares the account's allowance")
	}
}
