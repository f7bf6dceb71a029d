// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema with a random name on the server $PISTA_TEST_POSTGRES names
// (default: the local server, trust authentication), dropped when the test
// ends. Without a server the test is skipped, or failed when
// $PISTA_TEST_REQUIRE asks for "postgres" (CI: "all").
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista/internal/pistatest"
)

// DefaultURL is the server tests use when $PISTA_TEST_POSTGRES is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Hint says how to get a server for the tests.
const Hint = "Start PostgreSQL (pg_ctlcluster --skip-systemctl-redirect 15 main start) or point $PISTA_TEST_POSTGRES at one"

// Server returns the URL of the test server, or skips (or fails) t if
// it cannot be reached.
func Server(t testing.TB) string {
	t.Helper()
	base := os.Getenv("PISTA_TEST_POSTGRES")
	if base == "" {
		base = DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	pistatest.Need(t, "postgres", err, Hint)
	return base
}

// URL returns the URL of a new, empty schema on the test server (its
// search_path), dropped with everything in it when t ends.
func URL(t testing.TB) string {
	t.Helper()
	base := Server(t)
	var b [8]byte
	rand.Read(b[:])
	schema := "pista_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
