package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/postgres"
)

// TestMigration0002 applies 0002 to a database of 0001 with tagged
// conversations in it: the tags' rows take their conversations' desk and
// last item, and the inbox by tag lists them newest first.
func TestMigration0002(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	if err := postgres.MigrateTo(ctx, url, 1); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO journalists (id, name, recipient, totp_secret, created) VALUES (1, 'alice', 'r', 's', 0)`,
		`INSERT INTO desks (id, slug, title, created) VALUES (1, 'americas', 'Americas', 0)`,
		`INSERT INTO desk_keys (id, desk_id, recipient, created) VALUES (1, 1, 'r', 0)`,
		`UPDATE desks SET key_id = 1`,
		`INSERT INTO desk_members (desk_id, journalist_id) VALUES (1, 1)`,
		`INSERT INTO sources (id, lookup, recipient, created) VALUES (1, '\x01', 'r', 0), (2, '\x02', 'r', 0)`,
		`INSERT INTO conversations (id, desk_id, source_id, created, updated) VALUES ('old', 1, 1, 0, 0), ('new', 1, 2, 0, 0)`,
		`INSERT INTO items (conversation_id, kind, object, size, created) VALUES ('old', 'message', 'o1', 1, 0), ('new', 'message', 'o2', 1, 0)`,
		`UPDATE conversations c SET last_item = (SELECT max(id) FROM items i WHERE i.conversation_id = c.id)`,
		`INSERT INTO conversation_tags (conversation_id, tag) VALUES ('old', 'mayor'), ('new', 'mayor'), ('new', 'port')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close(ctx)

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var missing int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM conversation_tags t JOIN conversations c ON c.id = t.conversation_id
		WHERE t.desk_id <> c.desk_id OR t.last_item <> c.last_item`).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing != 0 {
		t.Errorf("%d tags rows do not follow their conversation", missing)
	}
	cs, err := postgres.NewTipStore(db).ConversationsFor(ctx, 1, pista.Page{Tag: "mayor"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.ID)
	}
	if want := []string{"new", "old"}; !slices.Equal(got, want) {
		t.Errorf("tag mayor after 0002: %v, want %v", got, want)
	}
}

// A full disk on the database server (SQLSTATE 53100) is
// pista.ErrStorageFull, whatever statement met it; other errors are not.
func TestStorageErr(t *testing.T) {
	full := &pgconn.PgError{Code: "53100", Message: "could not extend file: No space left on device"}
	if err := postgres.StorageErr(full); !errors.Is(err, pista.ErrStorageFull) || !errors.As(err, new(*pgconn.PgError)) {
		t.Errorf("StorageErr(disk full) = %v, want pista.ErrStorageFull wrapping the server's error", err)
	}
	other := &pgconn.PgError{Code: "23505"}
	if err := postgres.StorageErr(other); errors.Is(err, pista.ErrStorageFull) {
		t.Errorf("StorageErr(unique violation) = %v, is ErrStorageFull", err)
	}
	if postgres.StorageErr(nil) != nil {
		t.Error("StorageErr(nil) is not nil")
	}
}

// TestMigration0010 applies 0010 (forward secrecy) to a database of 0009
// with items in it: every item from before is legacy, under the desk's
// key, and never listed for sorting; conversations have no key.
func TestMigration0010(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	if err := postgres.MigrateTo(ctx, url, 9); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO journalists (id, name, recipient, totp_secret, created) VALUES (1, 'alice', 'r', 's', 0)`,
		`INSERT INTO desks (id, slug, title, created) VALUES (1, 'americas', 'Americas', 0)`,
		`INSERT INTO desk_keys (id, desk_id, recipient, created) VALUES (1, 1, 'r', 0)`,
		`UPDATE desks SET key_id = 1`,
		`INSERT INTO desk_members (desk_id, journalist_id) VALUES (1, 1)`,
		`INSERT INTO sources (id, lookup, recipient, created) VALUES (1, '\x01', 'r', 0)`,
		`INSERT INTO conversations (id, desk_id, source_id, created, updated, preview) VALUES ('c', 1, 1, 0, 0, '\x00')`,
		`INSERT INTO items (conversation_id, kind, object, size, created) VALUES ('c', 'message', 'o1', 1, 0)`,
		`INSERT INTO items (conversation_id, kind, object, size, author_id, created) VALUES ('c', 'reply', 'o2', 2, 1, 0)`,
		`UPDATE conversations c SET last_item = (SELECT max(id) FROM items i WHERE i.conversation_id = c.id)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close(ctx)

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tips := postgres.NewTipStore(db)
	items, err := tips.ItemsOfConversation(ctx, "c")
	if err != nil || len(items) != 2 {
		t.Fatalf("items after 0010: %+v, %v", items, err)
	}
	for _, it := range items {
		if it.Sealing != pista.SealingDesk || it.Received != pista.ReceivedLegacy || it.IntakeKey != 0 {
			t.Errorf("item %s after 0010: sealing %q, received %q, intake key %d; want desk, legacy, 0", it.Object, it.Sealing, it.Received, it.IntakeKey)
		}
	}
	if un, err := tips.Unsorted(ctx, 1, 0, 100); err != nil || len(un) != 0 {
		t.Errorf("Unsorted after 0010 = %+v, %v; want no legacy item", un, err)
	}
	c, err := tips.ConversationFor(ctx, 1, "c")
	if err != nil || c.KeyRecipient != "" || c.Key != nil || c.PreviewIntake != 0 {
		t.Errorf("conversation after 0010: %+v, %v", c, err)
	}
	added := []pista.Item{{Kind: pista.KindMessage, Object: "o3", Size: 3}}
	if err := tips.AddItems(ctx, "c", added); err != nil {
		t.Fatal(err)
	}
	if un, err := tips.Unsorted(ctx, 1, 0, 100); err != nil || len(un) != 1 || un[0].Object != "o3" ||
		un[0].Sealing != pista.SealingDesk || un[0].Received != pista.ReceivedForward {
		t.Errorf("Unsorted after a new item = %+v, %v; want it, desk, fs", un, err)
	}
}
